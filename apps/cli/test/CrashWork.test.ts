import BetterSqlite3 from "better-sqlite3"
import { spawn } from "node:child_process"
import { describe, expect, it } from "vitest"
import { childrenOf, sleep, track, trackPid, watchDeaths } from "./support/Crash.js"
import { CLI, isAlive, Proc, waitFor, WorkSandbox } from "./support/Work.js"

/**
 * Crash tests of `abathur work` (the built CLI, real processes, SIGKILL): a pool that dies takes
 * its commands with it, within 2 s, and pools killed at random while draining a queue never run
 * one task twice at the same time.
 */

/** The bound the project promises: no command outlives its pool by more than this. */
const OUTLIVE_MS = 2000

/**
 * A command that never ends by itself: it logs `pid grandchild-pid helper-pid`, and leaves a
 * grandchild in its process group. "stubborn" tasks ignore SIGTERM, and so does their grandchild.
 */
const SLEEPER = `
import { spawn } from "node:child_process"
import { appendFileSync, readFileSync } from "node:fs"
const task = JSON.parse(readFileSync(0, "utf8"))
const stubborn = task.prompt.includes("stubborn")
if (stubborn) process.on("SIGTERM", () => {})
const g = spawn("/bin/sh", ["-c", stubborn ? "trap '' TERM; sleep 100; true" : "sleep 100; true"], { stdio: "ignore" })
appendFileSync("pids", process.pid + " " + g.pid + " " + process.ppid + "\\n")
setInterval(() => {}, 1000)
`

describe("a SIGKILLed abathur work pool", () => {
  it("takes its commands and their process groups with it within 2 s", async () => {
    const s = new WorkSandbox()
    s.file("sleeper.mjs", SLEEPER)
    const tasks = await s.plan("sleep one", "sleep two (stubborn)", "sleep three")
    const pool = track(s.start(["work", "-n", "3", "--exec", "node sleeper.mjs", "--json"]))
    await waitFor("three commands to start", () => s.lines("pids").length >= 3)
    const started = s.lines("pids").map((l) => l.map(Number))
    for (const [child, grandchild] of started) {
      trackPid(child!)
      trackPid(grandchild!)
    }
    const helpers = childrenOf(pool.pid)
    expect(started.every(([, , helper]) => helpers.includes(helper!))).toBe(true)
    const all = [...started.flatMap(([c, g]) => [c!, g!]), ...helpers]
    expect(all.every(isAlive)).toBe(true)

    pool.signal("SIGKILL")
    const killedAt = Date.now()
    expect((await pool.done).signal).toBe("SIGKILL")
    const { survivors } = await watchDeaths(() => all, killedAt, OUTLIVE_MS)
    expect(survivors, `still running ${OUTLIVE_MS} ms after the pool was killed`).toEqual([])
    // The queue still holds the tasks as running: their leases lapse, and another pool runs them.
    const now = await s.tasks()
    expect(tasks.map((t) => now.get(t.id)!.status)).toEqual(["running", "running", "running"])
  })

  it("takes them with it when its whole process group is SIGKILLed (as a supervisor does)", async () => {
    const s = new WorkSandbox()
    s.file("sleeper.mjs", SLEEPER)
    await s.plan("sleep one (stubborn)", "sleep two")
    // A group of its own, as a service manager or a shell job would give it.
    const pool = track(
      new Proc(
        spawn(process.execPath, [CLI, "--db", s.db, "work", "-n", "2", "--exec", "node sleeper.mjs"], {
          cwd: s.dir,
          detached: true,
          stdio: ["ignore", "pipe", "pipe"]
        })
      )
    )
    await waitFor("two commands to start", () => s.lines("pids").length >= 2)
    const started = s.lines("pids").map((l) => l.map(Number))
    for (const [child, grandchild] of started) {
      trackPid(child!)
      trackPid(grandchild!)
    }
    const all = started.flatMap(([c, g, h]) => [c!, g!, h!])
    process.kill(-pool.pid, "SIGKILL")
    const killedAt = Date.now()
    await pool.done
    const { survivors } = await watchDeaths(() => all, killedAt, OUTLIVE_MS)
    expect(survivors, `still running ${OUTLIVE_MS} ms after the pool's group was killed`).toEqual([])
  })
})

/**
 * Logs `start|end TASK ATTEMPT TIME PID HELPER` around a nap (short, or 2.5-3.5 s for "long" tasks:
 * longer than a killed pool's commands may outlive it); prints its attempt as the result.
 */
const RECORDER = `
import { appendFileSync, readFileSync } from "node:fs"
const task = JSON.parse(readFileSync(0, "utf8"))
const line = (kind) => appendFileSync("events.log", [kind, task.id, Date.parse(task.startedAt), Date.now(), process.pid, process.ppid].join(" ") + "\\n")
if (task.prompt.includes("stubborn")) process.on("SIGTERM", () => {})
line("start")
const nap = task.prompt.includes("long") ? 2500 + Math.random() * 1000 : 150 + Math.random() * 350
await new Promise((r) => setTimeout(r, nap))
line("end")
console.log(JSON.stringify({ attempt: Date.parse(task.startedAt), pid: process.pid }))
`

interface Run {
  readonly task: string
  readonly attempt: number
  readonly pid: number
  readonly helper: number
  readonly start: number
  end: number | null
}

/** The runs the commands logged, by pid. */
const runsOf = (s: WorkSandbox): Map<number, Run> => {
  const runs = new Map<number, Run>()
  for (const [kind, task, attempt, at, pid, helper] of s.lines("events.log")) {
    if (kind === "start")
      runs.set(Number(pid), { task: task!, attempt: Number(attempt), pid: Number(pid), helper: Number(helper), start: Number(at), end: null })
    else {
      const r = runs.get(Number(pid))
      if (r !== undefined) r.end = Number(at)
    }
  }
  return runs
}

/** Pairs of runs of one task whose intervals overlap ([start, end or the moment it was seen dead]). */
const overlappingRuns = (runs: Iterable<Run>, deadAt: ReadonlyMap<number, number>): Array<string> => {
  const byTask = new Map<string, Array<{ run: Run; until: number }>>()
  for (const run of runs) {
    const until = run.end ?? deadAt.get(run.pid) ?? Number.POSITIVE_INFINITY
    byTask.set(run.task, [...(byTask.get(run.task) ?? []), { run, until }])
  }
  const overlaps: Array<string> = []
  for (const [task, list] of byTask) {
    list.sort((a, b) => a.run.start - b.run.start)
    for (let i = 1; i < list.length; i++) {
      const before = list[i - 1]!
      const after = list[i]!
      if (after.run.start < before.until) {
        overlaps.push(`task ${task}: pid ${after.run.pid} started at ${after.run.start} while pid ${before.run.pid} ran until ${before.until}`)
      }
    }
  }
  return overlaps
}

describe("abathur work pools SIGKILLed at random while draining a queue", () => {
  it("leave no command behind and never run one task twice at once; every task completes", { timeout: 90_000 }, async () => {
    const TASKS = 36
    const KILLS = 5
    const s = new WorkSandbox()
    s.file("rec.mjs", RECORDER)
    // Retries are spent only by failures: a lapsed lease must not fail a task here.
    const nodes = Array.from({ length: TASKS }, (_, i) => ({
      key: `t${i}`,
      prompt: `task ${i}${i % 5 === 0 ? " stubborn" : ""}${i % 4 === 1 ? " long" : ""}`,
      maxRetries: 50,
      ...(i >= 8 && i % 3 === 0 ? { dependsOn: [`t${i - 8}`] } : {})
    }))
    await s.json(["submit", "--file", s.file("plan.json", JSON.stringify({ tasks: nodes }))])

    let poolNo = 0
    const pools: Array<Proc> = []
    const startPool = () => {
      // A short lease (renewed every 0.7 s while a command runs) so that killed pools' tasks come back soon.
      const p = track(
        s.start(["work", "-n", "3", "--lease", "2", "--until-empty", "--exec", "node rec.mjs", "--json", "--worker", `pool-${poolNo++}`], {
          ABATHUR_MAX_STALLS: "1000",
          ABATHUR_RETRY_BACKOFF: "0"
        })
      )
      pools.push(p)
      return p
    }
    startPool()
    startPool()
    const deadAt = new Map<number, number>()
    const survivors: Array<string> = []
    const checks: Array<Promise<void>> = []
    let kills = 0
    const until = Date.now() + 60_000
    while (kills < KILLS && Date.now() < until) {
      await sleep(300 + Math.floor(Math.random() * 700))
      // The victim: a pool with a command running now (a random one).
      let victim: Proc | null = null
      let helpers: Array<number> = []
      while (victim === null && Date.now() < until) {
        const live = pools.filter((p) => !p.child.killed && p.child.exitCode === null && p.child.signalCode === null)
        if (live.length === 0) break
        const runs = [...runsOf(s).values()].filter((r) => r.end === null && isAlive(r.pid))
        const busy = live.map((p) => ({ p, helpers: childrenOf(p.pid) })).filter(({ helpers }) => runs.some((r) => helpers.includes(r.helper)))
        const pick = busy[Math.floor(Math.random() * busy.length)]
        if (pick === undefined) await sleep(50)
        else {
          victim = pick.p
          helpers = pick.helpers
        }
      }
      if (victim === null) break
      victim.signal("SIGKILL")
      const killedAt = Date.now()
      kills++
      for (const run of runsOf(s).values()) trackPid(run.pid)
      const commands = () => [...runsOf(s).values()].filter((r) => helpers.includes(r.helper)).map((r) => r.pid)
      const killed = victim.pid
      checks.push(
        watchDeaths(() => [...commands(), ...helpers], killedAt, OUTLIVE_MS).then((r) => {
          for (const [pid, at] of r.deadAt) deadAt.set(pid, at)
          for (const pid of r.survivors) survivors.push(`pid ${pid} outlived pool ${killed} by more than ${OUTLIVE_MS} ms`)
        })
      )
      startPool()
    }
    await Promise.all(checks)
    expect(kills).toBe(KILLS)

    // The last pools drain what is left (leases of killed pools lapse within 2 s) and exit.
    const last = pools.filter((p) => !p.child.killed && p.child.exitCode === null && p.child.signalCode === null)
    const ends = await Promise.race([Promise.all(last.map((p) => p.done)), sleep(60_000).then(() => null)])
    expect(ends, "the last pools did not finish within 60 s").not.toBeNull()
    for (const r of ends!) expect(r.code, r.stderr).toBe(0)

    const runs = runsOf(s)
    for (const run of runs.values()) trackPid(run.pid)
    expect({ survivors, overlaps: overlappingRuns(runs.values(), deadAt) }).toEqual({ survivors: [], overlaps: [] })

    const db = new BetterSqlite3(s.db, { readonly: true })
    try {
      const tasks = db.prepare("SELECT id, status, result_data AS result FROM tasks").all() as Array<{ id: string; status: string; result: string }>
      expect(tasks).toHaveLength(TASKS)
      expect(tasks.filter((t) => t.status !== "completed")).toEqual([])
      const completions = db
        .prepare("SELECT task_id AS id, count(*) AS n FROM task_audit WHERE to_status = 'completed' GROUP BY task_id")
        .all() as Array<{ id: string; n: number }>
      expect(completions).toHaveLength(TASKS)
      expect(completions.filter((c) => c.n !== 1)).toEqual([])
      // Each result is the one a finished run printed, for that task.
      for (const t of tasks) {
        const result = JSON.parse(t.result) as { attempt: number; pid: number }
        const run = runs.get(result.pid)
        expect(run?.task, `result of ${t.id}`).toBe(t.id)
        expect(run?.attempt).toBe(result.attempt)
        expect(run?.end).not.toBeNull()
      }
      // Killed pools' runs were started again: more runs than tasks.
      expect(runs.size).toBeGreaterThan(TASKS)
      expect([...runs.values()].filter((r) => r.end === null).length).toBeGreaterThan(0)
      expect(db.pragma("integrity_check", { simple: true })).toBe("ok")
    } finally {
      db.close()
    }
  })
})
