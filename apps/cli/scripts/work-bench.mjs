#!/usr/bin/env node
// Measures `abathur work` (build first: node build.mjs):
// - throughput: `work -n 8 --until-empty --exec true` over 2,000 ready tasks (process spawning included);
// - idle CPU: a worker waiting for work on an empty queue, over 10 s (utime + stime from /proc).
// Usage: node scripts/work-bench.mjs [--tasks N] [-n N] [--idle-seconds S] [--cli PATH]
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
const dir = mkdtempSync(join(tmpdir(), "abathur-work-bench-"))
const db = join(dir, "abathur.db")
const abathur = (...args) => execFileSync(process.execPath, [cli, "--db", db, ...args], { encoding: "utf8", maxBuffer: 1 << 28 })

try {
  const plan = { tasks: Array.from({ length: tasks }, (_, i) => ({ key: `t${i}`, prompt: `task ${i}`, priority: i % 11 })) }
  writeFileSync(join(dir, "plan.json"), JSON.stringify(plan))
  abathur("submit", "--file", join(dir, "plan.json"), "--json")
  const t0 = process.hrtime.bigint()
  const summary = JSON.parse(abathur("work", "-n", n, "--until-empty", "--exec", "true", "--json"))
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9
  console.log(`throughput: ${summary.completed} tasks in ${seconds.toFixed(2)} s = ${(summary.completed / seconds).toFixed(0)} tasks/s (work -n ${n} --until-empty --exec true, process start-up included)`)

  const worker = spawn(process.execPath, [cli, "--db", db, "work", "--exec", "true"], { stdio: "ignore" })
  const ticks = () => {
    const stat = readFileSync(`/proc/${worker.pid}/stat`, "utf8")
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return Number(fields[11]) + Number(fields[12]) // utime + stime, in clock ticks
  }
  await new Promise((r) => setTimeout(r, 2000)) // start-up
  const hz = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim())
  const before = ticks()
  const w0 = Date.now()
  await new Promise((r) => setTimeout(r, idleSeconds * 1000))
  const used = (ticks() - before) / hz
  const wall = (Date.now() - w0) / 1000
  worker.kill("SIGINT")
  console.log(`idle CPU: ${(used * 1000).toFixed(0)} ms over ${wall.toFixed(1)} s = ${((used / wall) * 100).toFixed(2)}% of a core (a worker waiting on an empty queue)`)
} finally {
  rmSync(dir, { recursive: true, force: true })
}
