/**
 * The crash test of the library: worker processes (test/fixtures/crashWorker.mjs, bundled from
 * the sources) share one database file with 1 s leases and are SIGKILLed at random, in the middle of
 * queue transactions and while one of them holds a write transaction of its own, and replaced.
 * Lease recovery brings their tasks back. At the end every task is completed exactly once (the
 * audit trail and the results agree on which attempt did it), none is lost, no stale lease was
 * accepted, no dependent started before its prerequisites completed, and the file is intact.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import type { PlanNodeInput } from "@abathur/domain"
import { aNode, mulberry32, Plans, TestDatabase } from "@abathur/testing"
import { tempDir } from "@abathur/testing/vitest"
import BetterSqlite3 from "better-sqlite3"
import { Effect, Layer } from "effect"
import { build } from "esbuild"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { bundleScript } from "../../../scripts/bundle-script.mjs"
import { defaultQueueSettings, QueueConfig } from "../src/QueueConfig.js"
import { TaskQueue } from "../src/TaskQueue.js"
import { findViolations } from "./Invariants.js"

const here = dirname(fileURLToPath(import.meta.url))
const packageRoot = join(here, "..")
/** test/fixtures/crashWorker.mjs bundled from the sources (one file starts several times faster than dist/). */
let bundled = ""
const WORKERS = 4
const KILLS = 20
/** Every task may be retried this often: failures and lapsed leases must not fail one here. */
const TASK_FIELDS = { maxRetries: 100 } as const

/**
 * A layered DAG of 200 tasks (up to 3 prerequisites, 6 layers), 20 parents with 3 subtasks each
 * (some subtasks wait on a sibling, some parents on DAG tasks, some DAG tasks on a subtask), and
 * 15 "split" tasks whose worker submits two subtasks at run time: 295 tasks to start with.
 */
const workload = (): { tasks: Array<PlanNodeInput> } => {
  const dag = Plans.layered(200, 6, 3, 11).tasks.map((n) => ({ ...n, ...TASK_FIELDS }))
  const families = Array.from({ length: 20 }, (_, f) =>
    aNode(`parent${f}`, {
      ...TASK_FIELDS,
      ...(f % 2 === 0 ? { dependsOn: [`n${f * 7}`] } : {}),
      children: Array.from({ length: 3 }, (_, c) =>
        aNode(`parent${f}-child${c}`, { ...TASK_FIELDS, ...(c === 2 ? { dependsOn: [`parent${f}-child0`] } : {}) })
      )
    })
  )
  // DAG tasks of the last layers that wait on a subtask.
  for (let f = 0; f < 5; f++) {
    const n = dag[190 + f]!
    dag[190 + f] = { ...n, dependsOn: [...(n.dependsOn ?? []), `parent${f}-child1`] }
  }
  const splits = Array.from({ length: 15 }, (_, i) => aNode(`split${i}`, { ...TASK_FIELDS, prompt: `split task ${i}` }))
  return { tasks: [...dag, ...families, ...splits] }
}

interface Worker {
  readonly name: string
  readonly child: ChildProcess
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>
  killed: boolean
}

const bundleDir = mkdtempSync(join(packageRoot, "node_modules", ".cache-crash-"))
beforeAll(async () => {
  bundled = join(bundleDir, "crashWorker.mjs")
  // The background checkpointer's worker goes beside the bundle (as the apps' builds do).
  await bundleScript(build, join(here, "fixtures", "crashWorker.mjs"), bundled)
})

const started: Array<Worker> = []
afterAll(async () => {
  for (const w of started) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill("SIGKILL")
  await Promise.all(started.map((w) => w.exit))
  rmSync(bundleDir, { recursive: true, force: true })
})

const startWorker = (
  dbPath: string,
  logPath: string,
  name: string,
  seed: number,
  on: { readonly ready: (w: Worker) => void; readonly going: (w: Worker) => void; readonly holding: (w: Worker) => void }
): Worker => {
  const env: NodeJS.ProcessEnv = { ...process.env }
  // The test runner resolves packages to their sources; a plain node process must use dist/.
  delete env["NODE_OPTIONS"]
  const child = spawn(process.execPath, [bundled, dbPath, logPath, name, String(seed)], {
    cwd: packageRoot,
    env,
    stdio: ["ignore", "ignore", "pipe", "ipc"]
  })
  let stderr = ""
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()))
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((done) =>
    child.on("exit", (code, signal) => done({ code, signal, stderr }))
  )
  const w: Worker = { name, child, exit, killed: false }
  child.on("message", (m) => {
    if (m === "ready") on.ready(w)
    if (m === "going") on.going(w)
    if (m === "holding") on.holding(w)
  })
  child.on("error", () => {})
  started.push(w)
  return w
}

const waitFor = async (check: () => boolean, timeoutMs: number) => {
  const until = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

interface Fact {
  readonly at: number
  readonly worker: string
  readonly kind: string
  readonly args: ReadonlyArray<string>
}

const factsOf = (logPath: string): Array<Fact> =>
  (existsSync(logPath) ? readFileSync(logPath, "utf8") : "")
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => {
      const [at, worker, kind, ...args] = l.split(" ")
      return { at: Number(at), worker: worker!, kind: kind!, args }
    })

/**
 * The order rule (CONTRACT, "Hierarchy and readiness"): a task may start (a `running` audit row)
 * only after every task it waits for has completed (its `completed` audit row comes first). It
 * waits for each prerequisite of its own and of each of its ancestors, and for every task in
 * those prerequisites' subtrees. (Subtasks submitted at run time come from running tasks, whose
 * subtrees are open then, so the final hierarchy is the one every start had to wait for.)
 */
const startOrderViolations = (db: BetterSqlite3.Database): Array<string> => {
  const parentOf = new Map<string, string | null>()
  const childrenOf = new Map<string, Array<string>>()
  for (const t of db.prepare("SELECT id, parent_task_id AS parent FROM tasks").all() as Array<{ id: string; parent: string | null }>) {
    parentOf.set(t.id, t.parent)
    if (t.parent !== null) childrenOf.set(t.parent, [...(childrenOf.get(t.parent) ?? []), t.id])
  }
  const edgesOf = new Map<string, Array<string>>()
  for (const e of db.prepare("SELECT dependent_task_id AS d, prerequisite_task_id AS p FROM task_dependencies").all() as Array<{
    d: string
    p: string
  }>) {
    edgesOf.set(e.d, [...(edgesOf.get(e.d) ?? []), e.p])
  }
  const subtree = (root: string): Array<string> => {
    const out = [root]
    for (let i = 0; i < out.length; i++) out.push(...(childrenOf.get(out[i]!) ?? []))
    return out
  }
  const mustCompleteBefore = (task: string): Array<string> => {
    const waits: Array<string> = []
    for (let t: string | null = task; t !== null; t = parentOf.get(t) ?? null) {
      for (const p of edgesOf.get(t) ?? []) waits.push(...subtree(p))
    }
    return waits
  }
  const completedAt = new Map<string, number>()
  for (const r of db.prepare("SELECT task_id AS t, min(id) AS id FROM task_audit WHERE to_status = 'completed' GROUP BY task_id").all() as Array<{
    t: string
    id: number
  }>) {
    completedAt.set(r.t, r.id)
  }
  const violations: Array<string> = []
  for (const start of db.prepare("SELECT task_id AS t, id FROM task_audit WHERE to_status = 'running'").all() as Array<{ t: string; id: number }>) {
    for (const p of mustCompleteBefore(start.t)) {
      const done = completedAt.get(p)
      if (done === undefined || done > start.id)
        violations.push(`task ${start.t} started (audit ${start.id}) before ${p} completed (audit ${done ?? "never"})`)
    }
  }
  return violations
}

describe("worker processes SIGKILLed at random on one database file", () => {
  it("complete every task exactly once, none lost, no stale lease accepted, prerequisites first, file intact", { timeout: 120_000 }, async () => {
    const dir = tempDir("abathur-crash-")
    const dbPath = join(dir, "shared.db")
    const logPath = join(dir, "facts.log")
    const submitted = await Effect.runPromise(
      Effect.gen(function* () {
        const q = yield* TaskQueue
        const { tasks } = yield* q.submitPlan(workload())
        return Object.values(tasks).map((t) => t.id)
      }).pipe(Effect.provide(TaskQueue.layer.pipe(Layer.provideMerge(TestDatabase.layer({ filename: dbPath })), Layer.provide(QueueConfig.default))))
    )
    expect(submitted).toHaveLength(295)

    const random = mulberry32(20261203)
    let next = 0
    let kills = 0
    let heldKills = 0
    let doomed = 0
    const startups: Array<number> = []
    const live = new Set<Worker>()
    /** Started workers waiting for "go" (a replacement starts working at once), and how many are owed. */
    const idle: Array<Worker> = []
    const launched = new Set<Worker>()
    let owed = 0
    const launch = (w: Worker) => {
      launched.add(w)
      live.add(w)
      void w.exit.then(() => live.delete(w))
      w.child.send("go")
    }
    const spare = () => {
      const spawnedAt = Date.now()
      startWorker(dbPath, logPath, `w${next}`, 1000 + next, {
        ready: (w) => {
          startups.push(Date.now() - spawnedAt)
          if (owed > 0) {
            owed--
            launch(w)
          } else idle.push(w)
        },
        // Once it works, KILLS of them die at a random moment (mostly inside a transaction).
        going: (going) => {
          if (doomed >= KILLS) return
          doomed++
          setTimeout(() => killWhenReplaceable(going), 50 + Math.floor(random() * 600))
        },
        // Killed while it holds the write lock, a moment after it said so.
        holding: (held) => {
          heldKills++
          setTimeout(() => kill(held), Math.floor(random() * 50))
        }
      })
      next++
    }
    const goOne = () => {
      const w = idle.shift()
      if (w === undefined) owed++
      else launch(w)
      spare()
    }
    const kill = (w: Worker) => {
      if (w.killed || !live.has(w)) return
      w.killed = true
      live.delete(w)
      w.child.kill("SIGKILL")
      kills++
      // A replacement: the work goes on with WORKERS processes.
      goOne()
    }
    /** A kill waits for a started spare to take over (on a busy machine a start takes seconds). */
    const killWhenReplaceable = (w: Worker) => {
      if (!live.has(w)) return
      if (idle.length === 0) setTimeout(() => killWhenReplaceable(w), 50)
      else kill(w)
    }
    for (let i = 0; i < WORKERS + 2; i++) spare()
    await waitFor(() => startups.length >= WORKERS + 2, 60_000)
    const t0 = Date.now()
    for (let i = 0; i < WORKERS; i++) goOne()
    // The kills happen, then the last workers finish the work and exit on their own.
    const until = Date.now() + 90_000
    while ((live.size > 0 || owed > 0) && Date.now() < until) await new Promise((r) => setTimeout(r, 50))
    expect(live.size, "the workers did not finish within 90 s").toBe(0)
    // The spares never worked: they go now.
    for (const w of started) if (!launched.has(w)) w.child.kill("SIGKILL")
    for (const w of started.filter((w) => !w.killed && launched.has(w))) {
      const e = await w.exit
      expect(e.stderr, `${w.name} stderr`).not.toMatch(/SQLITE_BUSY|database is locked/i)
      expect(e.code, `${w.name} exit; stderr:\n${e.stderr}`).toBe(0)
    }
    // Kills wait for a started replacement: on a slow machine the work may run out first.
    expect(kills).toBeGreaterThanOrEqual(8)

    const facts = factsOf(logPath)
    const db = new BetterSqlite3(dbPath, { readonly: true })
    try {
      expect(db.pragma("integrity_check", { simple: true })).toBe("ok")
      const count = (sql: string) => (db.prepare(sql).get() as { n: number }).n
      const tasks = db.prepare("SELECT id, status, result_data AS result, parent_task_id AS parent, lease_token AS lease FROM tasks").all() as Array<{
        id: string
        status: string
        result: string | null
        parent: string | null
        lease: string | null
      }>
      // None lost: every submitted task and every subtask a worker logged is here, completed.
      const ids = new Set(tasks.map((t) => t.id))
      for (const id of submitted) expect(ids.has(id), `submitted ${id}`).toBe(true)
      for (const f of facts.filter((f) => f.kind === "subtask")) expect(ids.has(f.args[1]!), `subtask ${f.args[1]}`).toBe(true)
      expect(tasks.filter((t) => t.status !== "completed" || t.lease !== null)).toEqual([])
      expect(tasks.filter((t) => t.parent !== null && !submitted.includes(t.id)).length).toBeGreaterThanOrEqual(30)
      // The held transactions never showed: no poison anywhere.
      expect(count("SELECT count(*) AS n FROM task_audit WHERE actor = 'poison' OR reason = 'poison'")).toBe(0)
      expect(count("SELECT count(*) AS n FROM tasks WHERE error_message = 'poison'")).toBe(0)

      // Exactly once: one completion per task in the audit trail, by the worker whose claim was
      // the last before it, and the result names that worker and the lease of that claim.
      const audit = db.prepare("SELECT id, task_id AS task, to_status AS status, actor FROM task_audit ORDER BY id").all() as Array<{
        id: number
        task: string
        status: string
        actor: string | null
      }>
      const byTask = new Map<string, typeof audit>()
      for (const a of audit) byTask.set(a.task, [...(byTask.get(a.task) ?? []), a])
      const claimsBy = new Map<string, Array<Fact>>()
      for (const f of facts.filter((f) => f.kind === "claim"))
        claimsBy.set(`${f.worker} ${f.args[0]}`, [...(claimsBy.get(`${f.worker} ${f.args[0]}`) ?? []), f])
      const wrong: Array<string> = []
      for (const t of tasks) {
        const rows = byTask.get(t.id) ?? []
        const completions = rows.filter((a) => a.status === "completed")
        if (completions.length !== 1) {
          wrong.push(`${t.id}: ${completions.length} completions`)
          continue
        }
        const done = completions[0]!
        const lastClaim = rows.filter((a) => a.status === "running" && a.id < done.id).pop()
        const result = JSON.parse(t.result!) as { worker: string; token: string }
        if (lastClaim?.actor !== result.worker || done.actor !== result.worker) {
          wrong.push(`${t.id}: completed by ${done.actor} with ${result.worker}'s result after ${lastClaim?.actor}'s claim`)
          continue
        }
        // That worker's last claim of the task is the lease the result carries.
        const own = claimsBy.get(`${result.worker} ${t.id}`) ?? []
        if (own.at(-1)?.args[1] !== result.token) wrong.push(`${t.id}: result lease ${result.token} is not ${result.worker}'s last claim`)
      }
      expect(wrong).toEqual([])
      // What the workers saw agrees: a completion they logged is the one recorded.
      const logged = facts.filter((f) => f.kind === "completed")
      expect(new Set(logged.map((f) => f.args[0])).size).toBe(logged.length)
      const results = new Map(tasks.map((t) => [t.id, JSON.parse(t.result!) as { worker: string; token: string }]))
      for (const f of logged) expect(results.get(f.args[0]!)).toEqual({ worker: f.worker, token: f.args[1] })

      // The crashes happened: kills inside held write transactions, leases that lapsed and were
      // recovered, stale leases refused.
      expect(heldKills).toBeGreaterThan(0)
      expect(count("SELECT count(*) AS n FROM task_audit WHERE actor = 'lease-recovery'")).toBeGreaterThan(0)
      expect(
        facts.some((f) => f.kind === "refused"),
        "no stale report was refused"
      ).toBe(true)

      expect(startOrderViolations(db)).toEqual([])
      expect(findViolations(db, { now: Date.now(), settings: defaultQueueSettings, freshness: false, countOpenDependents: () => 0 })).toEqual([])
      console.log(
        `crash test: ${tasks.length} tasks, ${launched.size} workers, ${kills} SIGKILLs (${heldKills} holding the write lock), ` +
          `${count("SELECT count(*) AS n FROM task_audit WHERE to_status = 'running'")} claims, ` +
          `${facts.filter((f) => f.kind === "refused").length} refused reports, in ${Date.now() - t0} ms (worker start-up ${Math.min(...startups)}-${Math.max(...startups)} ms, hidden by spares); ` +
          `completions per second: ${JSON.stringify(Array.from({ length: Math.ceil((Date.now() - t0) / 1000) }, (_, i) => facts.filter((f) => f.kind === "completed" && f.at >= t0 + i * 1000 && f.at < t0 + (i + 1) * 1000).length))}`
      )
    } finally {
      db.close()
    }
  })
})
