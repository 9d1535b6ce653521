/**
 * Several processes share one database file: 4 real Node processes (test/fixtures/worker.mjs,
 * running the built packages) claim and complete 2,000 tasks, dependency chains among them.
 * Every task is completed exactly once, none is lost, no dependent is claimed before its
 * prerequisites completed, and SQLITE_BUSY never surfaces (writes use BEGIN IMMEDIATE and wait
 * up to busy_timeout, 5 s by default).
 */
import { type ChildProcess, spawn } from "node:child_process"
import { existsSync, readFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import type { PlanNodeInput } from "@abathur/domain"
import { aNode, Plans, TestDatabase } from "@abathur/testing"
import { tempDir } from "@abathur/testing/vitest"
import { describe, expect, it } from "@effect/vitest"
import BetterSqlite3 from "better-sqlite3"
import { Effect, Layer } from "effect"
import { defaultQueueSettings, QueueConfig } from "../src/QueueConfig.js"
import { TaskQueue } from "../src/TaskQueue.js"
import { findViolations } from "./Invariants.js"

const here = dirname(fileURLToPath(import.meta.url))
const packageRoot = join(here, "..")
const worker = join(here, "fixtures", "worker.mjs")
const WORKERS = 4

interface Report {
  readonly name: string
  readonly claims: number
  readonly waits: number
  readonly ms: number
  readonly completed: ReadonlyArray<string>
}

/** 950 independent tasks, a layered DAG of 1,000 (up to 3 prerequisites, 8 layers) and 5 chains of 10. */
const workload = (): { tasks: Array<PlanNodeInput> } => {
  const prefix = (p: string, nodes: ReadonlyArray<PlanNodeInput>) =>
    nodes.map((n) => ({ ...n, key: `${p}${n.key}`, dependsOn: (n.dependsOn ?? []).map((d) => `${p}${d}`) }))
  return {
    tasks: [
      ...Array.from({ length: 950 }, (_, i) => aNode(`free${i}`, { priority: i % 11 })),
      ...prefix("dag-", Plans.layered(1000, 8, 3, 7).tasks),
      ...Array.from({ length: 5 }, (_, c) => prefix(`chain${c}-`, Plans.chain(10).tasks)).flat()
    ]
  }
}

/** Starts a worker and resolves once it has opened the database and is waiting for "go". */
const start = (dbPath: string, outPath: string, name: string) =>
  new Promise<{ child: ChildProcess; exit: Promise<{ code: number | null; stderr: string }> }>((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env }
    // The test runner resolves packages to their sources; a plain node process must use dist/.
    delete env["NODE_OPTIONS"]
    const child = spawn(process.execPath, [worker, dbPath, outPath, name], {
      cwd: packageRoot,
      env,
      stdio: ["ignore", "pipe", "pipe", "ipc"]
    })
    let stderr = ""
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()))
    child.stdout!.resume()
    const exit = new Promise<{ code: number | null; stderr: string }>((done) => child.on("exit", (code) => done({ code, stderr })))
    child.once("message", (m) => (m === "ready" ? resolve({ child, exit }) : reject(new Error(`unexpected message ${String(m)}`))))
    child.once("error", reject)
    void exit.then(({ code }) => reject(new Error(`worker ${name} exited (${code}) before it was ready:\n${stderr}`)))
  })

describe("several processes on one database file", () => {
  it("complete every task exactly once, none lost, prerequisites first", { timeout: 120_000 }, async () => {
    expect(
      existsSync(join(packageRoot, "dist", "index.js")),
      "the workers run the built packages: pnpm turbo run build --filter=@abathur/queue..."
    ).toBe(true)
    const dir = tempDir("abathur-concurrency-")
    const dbPath = join(dir, "shared.db")
    // Submit the work through the queue, then close this process's connection.
    const ids = await Effect.runPromise(
      Effect.gen(function* () {
        const q = yield* TaskQueue
        const { tasks } = yield* q.submitPlan(workload())
        return Object.values(tasks).map((t) => t.id)
      }).pipe(Effect.provide(TaskQueue.layer.pipe(Layer.provideMerge(TestDatabase.layer({ filename: dbPath })), Layer.provide(QueueConfig.default))))
    )
    expect(ids).toHaveLength(2000)

    const workers = await Promise.all(Array.from({ length: WORKERS }, (_, i) => start(dbPath, join(dir, `worker-${i}.json`), `worker-${i}`)))
    for (const w of workers) w.child.send("go")
    const exits = await Promise.all(workers.map((w) => w.exit))
    for (const [i, e] of exits.entries()) {
      expect(e.stderr, `worker-${i} stderr`).not.toMatch(/SQLITE_BUSY|database is locked/i)
      expect(e.code, `worker-${i} exit code; stderr:\n${e.stderr}`).toBe(0)
    }

    const reports = Array.from({ length: WORKERS }, (_, i) => JSON.parse(readFileSync(join(dir, `worker-${i}.json`), "utf8")) as Report)
    // Each worker took part, and each reports what it completed: the union is every task, once.
    for (const r of reports) {
      expect(r.completed.length, `${r.name} completed nothing`).toBeGreaterThan(0)
      expect(r.claims).toBe(r.completed.length)
    }
    const all = reports.flatMap((r) => r.completed)
    expect(all).toHaveLength(ids.length)
    expect(new Set(all).size).toBe(ids.length)
    expect([...all].sort()).toEqual([...ids].sort())

    const db = new BetterSqlite3(dbPath, { readonly: true })
    try {
      const count = (sql: string) => (db.prepare(sql).get() as { n: number }).n
      expect(count("SELECT count(*) AS n FROM tasks")).toBe(2000)
      expect(count("SELECT count(*) AS n FROM tasks WHERE status = 'completed'")).toBe(2000)
      // Claimed exactly once each: one RUNNING audit row per task, none lost to a retry.
      const claimed = db.prepare("SELECT task_id AS id, count(*) AS n FROM task_audit WHERE to_status = 'running' GROUP BY task_id").all() as Array<{
        id: string
        n: number
      }>
      expect(claimed).toHaveLength(2000)
      expect(claimed.filter((c) => c.n !== 1)).toEqual([])
      expect(count("SELECT count(*) AS n FROM tasks WHERE retry_count <> 0")).toBe(0)
      // The worker that completed a task is the one that reported it.
      const by = new Map(reports.flatMap((r) => r.completed.map((id) => [id, r.name] as const)))
      const results = db.prepare("SELECT id, result_data AS r FROM tasks").all() as Array<{ id: string; r: string }>
      for (const t of results) expect(JSON.parse(t.r)).toEqual({ worker: by.get(t.id) })
      // Prerequisites first: no dependent was claimed before its prerequisite's completion committed.
      expect(count("SELECT count(*) AS n FROM task_dependencies")).toBeGreaterThan(1000)
      expect(
        count(`SELECT count(*) AS n FROM task_dependencies e
          JOIN task_audit p ON p.task_id = e.prerequisite_task_id AND p.to_status = 'completed'
          JOIN task_audit d ON d.task_id = e.dependent_task_id AND d.to_status = 'running'
          WHERE d.id < p.id`)
      ).toBe(0)
      expect(
        count(`SELECT count(*) AS n FROM task_dependencies e
          JOIN tasks p ON p.id = e.prerequisite_task_id JOIN tasks d ON d.id = e.dependent_task_id
          WHERE d.completed_at < p.completed_at OR d.started_at < p.completed_at`)
      ).toBe(0)
      // And every invariant holds on the final file.
      expect(findViolations(db, { now: Date.now(), settings: defaultQueueSettings, freshness: false, countOpenDependents: () => 0 })).toEqual([])
    } finally {
      db.close()
    }
  })
})
