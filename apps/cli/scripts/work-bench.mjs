#!/usr/bin/env node
// Measures `abathur work` (build first: node build.mjs):
// - throughput: `work -n 8 --until-empty --exec true` over 2,000 ready tasks (process spawning included);
// - idle CPU: a worker waiting for work on an empty queue, in 10 s windows (utime + stime from /proc).
// Usage: node scripts/work-bench.mjs [--tasks N] [-n N] [--idle-seconds S] [--idle-windows K] [--cli PATH]
import { execFileSync, spawn } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

const arg = (name, fallback) => {
  const i = process.argv.indexOf(name)
  return i >= 0 ? process.argv[i + 1] : fallback
}
const cli = arg("--cli", fileURLToPath(new URL("../dist/main.js", import.meta.url)))
const tasks = Number(arg("--tasks", "2000"))
const n = arg("-n", "8")
const idleSeconds = Number(arg("--idle-seconds", "10"))
const windowCount = Number(arg("--idle-windows", "4"))
const dir = mkdtempSync(join(tmpdir(), "abathur-work-bench-"))
const db = join(dir, "abathur.db")
const abathur = (...args) => execFileSync(process.execPath, [cli, "--db", db, ...args], { encoding: "utf8", maxBuffer: 1 << 28 })

/** The machine's own limit: plain Node spawning `true` 8 at a time with pipes, no queue at all. */
const floor = (count) =>
  new Promise((resolve) => {
    let started = 0
    let done = 0
    const t0 = process.hrtime.bigint()
    const next = () => {
      if (started >= count) return
      started++
      const c = spawn("true", [], { detached: true, stdio: ["pipe", "pipe", "pipe"] })
      c.stdin.on("error", () => {})
      c.stdin.end("{}\n")
      c.stdout.resume()
      c.stderr.resume()
      c.on("close", () => (++done === count ? resolve(count / (Number(process.hrtime.bigint() - t0) / 1e9)) : next()))
    }
    for (let i = 0; i < 8; i++) next()
  })

try {
  console.log(`spawn floor: ${(await floor(500)).toFixed(0)} processes/s (plain Node spawning \`true\` 8 at a time, no queue)`)
  const plan = { tasks: Array.from({ length: tasks }, (_, i) => ({ key: `t${i}`, prompt: `task ${i}`, priority: i % 11 })) }
  writeFileSync(join(dir, "plan.json"), JSON.stringify(plan))
  abathur("submit", "--file", join(dir, "plan.json"), "--json")
  const t0 = process.hrtime.bigint()
  const summary = JSON.parse(abathur("work", "-n", n, "--until-empty", "--exec", "true", "--json"))
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9
  console.log(
    `throughput: ${summary.completed} tasks in ${seconds.toFixed(2)} s = ${(summary.completed / seconds).toFixed(0)} tasks/s (work -n ${n} --until-empty --exec true, process start-up included)`
  )
  console.log(`spawn floor: ${(await floor(500)).toFixed(0)} processes/s (again, after)`)

  if (windowCount === 0) process.exit(0)
  const worker = spawn(process.execPath, [cli, "--db", db, "work", "--exec", "true"], { stdio: "ignore" })
  const cpuOf = (pid) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
      return Number(fields[11]) + Number(fields[12]) // utime + stime, in clock ticks
    } catch {
      return 0
    }
  }
  /** The worker and its own children (the spawner helper), in clock ticks. */
  const ticks = () => {
    let children = []
    try {
      children = readFileSync(`/proc/${worker.pid}/task/${worker.pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean)
    } catch {}
    return cpuOf(worker.pid) + children.reduce((n, c) => n + cpuOf(c), 0)
  }
  await new Promise((r) => setTimeout(r, 2000)) // start-up
  const hz = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim())
  // V8's memory reducer runs a few full GCs in the first ~30 s after start-up (one-off); after
  // that an idle worker only wakes for its 2 s rescan. Both are reported.
  const windows = []
  for (let i = 0; i < windowCount; i++) {
    const before = ticks()
    const w0 = Date.now()
    await new Promise((r) => setTimeout(r, idleSeconds * 1000))
    windows.push({ cpu: (ticks() - before) / hz, wall: (Date.now() - w0) / 1000 })
  }
  worker.kill("SIGINT")
  const pct = (w) => `${((w.cpu / w.wall) * 100).toFixed(2)}%`
  const first = windows[0]
  const steady = windows.slice(-1)[0]
  console.log(
    `idle CPU (a worker waiting for work, with its spawner helper, ${idleSeconds} s windows): ${windows.map(pct).join(", ")} of a core; ` +
      `mean ${pct({ cpu: windows.reduce((a, w) => a + w.cpu, 0), wall: windows.reduce((a, w) => a + w.wall, 0) })}, first ${pct(first)}, last ${pct(steady)}`
  )
} finally {
  rmSync(dir, { recursive: true, force: true })
}
