/**
 * A legacy database (schema version 1, as the Python implementation wrote it) opened through
 * Database.layer and TaskQueue.layer: the migration leaves PENDING tasks and RUNNING tasks with
 * leases, and data the engine itself would never write (tasks that ran before their
 * prerequisites finished, deeper than the limits). The engine must still keep every invariant
 * from the moment it opens the database, through recovery, release, retry and a full drain.
 */
import { join } from "node:path"
import { createLegacyDatabase, databaseDump, TestDatabase } from "@abathur/testing"
import { tempDir } from "@abathur/testing/vitest"
import { Database } from "@abathur/storage"
import { describe, expect, it } from "@effect/vitest"
import BetterSqlite3 from "better-sqlite3"
import { Effect, Layer, TestClock } from "effect"
import { defaultQueueSettings, QueueConfig } from "../src/QueueConfig.js"
import { TaskQueue } from "../src/TaskQueue.js"
import { checkInvariants } from "./Invariants.js"
import { flip, SqliteProbe } from "./TestQueue.js"

// Legacy data may exceed the limits (they apply to new work); check everything else.
const unlimited = { ...defaultQueueSettings, limits: { maxDependencies: Infinity, maxDepth: Infinity, maxSubtasks: Infinity } }
const check = (context: string, freshness = false) => checkInvariants({ settings: unlimited, strictHistory: false, freshness, context })

/** A legacy file, its PENDING ids before the engine opens it, and the queue layer over it. */
const legacy = (tasks: number, seed: number) => {
  const dir = tempDir("abathur-legacy-")
  const path = join(dir, "legacy.db")
  createLegacyDatabase(path, { tasks, versioned: seed % 2 === 0, dependencies: 3, anomalies: true, seed })
  const raw = new BetterSqlite3(path, { readonly: true })
  const pending = (raw.prepare("SELECT id FROM tasks WHERE status = 'pending'").all() as Array<{ id: string }>).map((r) => r.id)
  raw.close()
  const layer = TaskQueue.layer.pipe(
    Layer.provideMerge(SqliteProbe),
    Layer.provideMerge(TestDatabase.layer({ filename: path })),
    Layer.provide(QueueConfig.layer(unlimited))
  )
  return { pending, layer }
}

/** The legacy tasks were written in September 2025; the engine opens them a month later. */
const october = TestClock.setTime(Date.UTC(2025, 9, 1))

const rows = <A>(sql: string, ...params: Array<unknown>) => Effect.map(Database, ({ db }) => db.prepare(sql).all(...params) as Array<A>)

describe("opening a migrated legacy database", () => {
  it.effect("evaluates every PENDING task to READY, BLOCKED or CANCELLED, with fresh priorities", () => {
    const { pending, layer } = legacy(400, 2)
    return Effect.gen(function* () {
      yield* october
      yield* Effect.gen(function* () {
        const q = yield* TaskQueue
        expect(pending.length).toBeGreaterThan(50)
        const status = yield* q.status()
        expect(status.byStatus.pending).toBe(0)
        expect(status.total).toBe(400)
        yield* check("after open", true)
        // Each formerly PENDING task: evaluated by the engine, into each of the three states.
        const after = new Map<string, number>()
        for (const id of pending) {
          const audit = yield* q.audit(id)
          const last = audit[audit.length - 1]!
          // Evaluated by the engine; a task evaluated BLOCKED may then be cancelled by a cascade
          // (a task under one of its prerequisites was cancelled while the engine evaluated it).
          expect(audit.some((a) => a.fromStatus === "pending" && a.actor === "engine")).toBe(true)
          expect(last.actor).toBe("engine")
          after.set(last.toStatus, (after.get(last.toStatus) ?? 0) + 1)
        }
        expect([...after.keys()].sort()).toEqual(["blocked", "cancelled", "ready"])
        // A cancelled one names the failed or cancelled prerequisite that doomed it.
        const [doomed] = yield* rows<{ id: string; cancelled_by: string; error_message: string }>(
          "SELECT id, cancelled_by, error_message FROM tasks WHERE status = 'cancelled' AND cancelled_by IS NOT NULL LIMIT 1"
        )
        expect(doomed!.error_message).toContain(doomed!.cancelled_by)
      }).pipe(Effect.provide(layer))
    })
  })

  it.effect("a legacy RUNNING task given back waits like any other: BLOCKED or CANCELLED by its prerequisites", () => {
    const { layer } = legacy(400, 2)
    return Effect.gen(function* () {
      yield* october
      yield* Effect.gen(function* () {
        const q = yield* TaskQueue
        // RUNNING tasks whose prerequisites did not all complete (the old code let them run).
        const running = yield* rows<{ id: string; open: number; doomed: number }>(
          `SELECT t.id, sum(p.status NOT IN ('completed', 'failed', 'cancelled')) AS open,
             sum(p.status IN ('failed', 'cancelled')) AS doomed
           FROM tasks t JOIN task_dependencies d ON d.dependent_task_id = t.id JOIN tasks p ON p.id = d.prerequisite_task_id
           WHERE t.status = 'running' GROUP BY t.id`
        )
        const waiting = running.find((r) => r.open > 0 && r.doomed === 0)
        const doomed = running.find((r) => r.doomed > 0)
        expect(waiting).toBeDefined()
        expect(doomed).toBeDefined()
        expect((yield* q.release(waiting!.id)).status).toBe("blocked")
        expect((yield* q.release(doomed!.id)).status).toBe("cancelled")
        yield* check("after release", true)
        // Recovery of the expired leases (the claim recovers first) keeps the same rule.
        const c = yield* q.claim({ worker: "w" })
        expect(c).not.toBeNull()
        yield* check("after the first claim", true)
        expect((yield* q.status()).byStatus.running).toBe(1)
      }).pipe(Effect.provide(layer))
    })
  })

  it.effect("retry of a legacy FAILED task: READY or BLOCKED by its prerequisites, refused under a failed one", () => {
    const { layer } = legacy(400, 2)
    return Effect.gen(function* () {
      yield* october
      yield* Effect.gen(function* () {
        const q = yield* TaskQueue
        const failed = yield* rows<{ id: string }>("SELECT id FROM tasks WHERE status = 'failed' ORDER BY rowid")
        const seen = new Set<string>()
        for (const { id } of failed) {
          // Its prerequisites now (an earlier retry may have revived one).
          // Doomed: a `cancel` edge on a failed or cancelled prerequisite, or one with such a task below it.
          const [f] = yield* rows<{ id: string; status: string; open: number; doomed: number }>(
            `SELECT t.id, t.status, coalesce(sum(p.status NOT IN ('completed', 'failed', 'cancelled') OR p.subtree_open > 0), 0) + t.ancestor_gated AS open,
               coalesce(sum(d.on_failure = 'cancel' AND (p.status IN ('failed', 'cancelled') OR p.subtree_failed + p.subtree_cancelled > 0)), 0) AS doomed
             FROM tasks t LEFT JOIN task_dependencies d ON d.dependent_task_id = t.id LEFT JOIN tasks p ON p.id = d.prerequisite_task_id
             WHERE t.id = ? GROUP BY t.id`,
            id
          )
          if (f!.status !== "failed") continue
          if (f!.doomed > 0) {
            const before = yield* databaseDump
            const e = yield* flip(q.retry(id))
            expect(e._tag).toBe("InvalidTransition")
            expect(e.message).toMatch(/retry that one first/)
            expect(yield* databaseDump).toEqual(before)
            seen.add("refused")
          } else {
            const r = yield* q.retry(id)
            expect(r.task.status).toBe(f!.open > 0 ? "blocked" : "ready")
            expect(r.task).toMatchObject({ retryCount: 0, errorMessage: null })
            seen.add(r.task.status)
          }
          yield* check(`after retry of ${id}`)
        }
        expect([...seen].sort()).toEqual(["blocked", "ready", "refused"])
      }).pipe(Effect.provide(layer))
    })
  })

  it.effect(
    "drains to the end with every invariant kept at each step",
    () => {
      const { layer } = legacy(300, 5)
      return Effect.gen(function* () {
        yield* october
        yield* Effect.gen(function* () {
          const q = yield* TaskQueue
          yield* check("after open", true)
          let steps = 0
          for (;;) {
            yield* TestClock.adjust("90 seconds")
            const c = yield* q.claim({ worker: "w", leaseSeconds: 60 })
            if (c === null) break
            yield* check(`after claim ${steps}`, true)
            // Complete most, fail some (retries apply), and let a few leases expire.
            if (steps % 7 === 3) yield* q.fail(c.id, { error: "flaky", leaseToken: c.leaseToken })
            else if (steps % 11 !== 5) yield* q.complete(c.id, { leaseToken: c.leaseToken })
            yield* check(`after step ${steps}`)
            steps++
          }
          expect(steps).toBeGreaterThan(50)
          const s = yield* q.status()
          expect(s.byStatus.ready + s.byStatus.running + s.byStatus.pending).toBe(0)
        }).pipe(Effect.provide(layer))
      })
    },
    { timeout: 60_000 }
  )
})
