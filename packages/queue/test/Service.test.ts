/**
 * Focused tests of the service's smaller paths on SQLite: group commit, dataVersion, the time a
 * write uses, configuration and error bodies; and the store-neutral ones (suites/ServiceRules.ts).
 */
import { aTask } from "@abathur/testing"
import { Database, TaskRepository } from "@abathur/storage"
import { describe, expect, it } from "@effect/vitest"
import BetterSqlite3 from "better-sqlite3"
import { Clock, Effect } from "effect"
import * as Index from "../src/index.js"
import { defaultQueueSettings, limitsFromEnv, parseLimit, QueueConfig } from "../src/QueueConfig.js"
import { errorBody, LimitExceeded, ValidationError } from "../src/QueueError.js"
import { TaskQueue } from "../src/TaskQueue.js"
import { checkInvariants } from "./Invariants.js"
import { serviceRules } from "./suites/ServiceRules.js"
import { flip, queueTest, sqlite } from "./TestQueue.js"

/** The rows of the queue's tables (what a batch of operations added). */
const rowCounts = Effect.map(Database, ({ db }) => {
  const rows = (table: string) => ({ length: db.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number })
  return { tasks: rows("tasks"), deps: rows("task_dependencies"), audit: rows("task_audit") }
})

describe("notifications and versions", () => {
  queueTest(
    "group commit: operations that arrive together share one transaction, each all or nothing",
    () =>
      Effect.gen(function* () {
        const q = yield* TaskQueue
        const repo = yield* TaskRepository
        const { db } = yield* Database
        const first = yield* q.submit(aTask({ prompt: "first" }))
        const before = yield* rowCounts
        // Count the outermost transactions from here on.
        let transactions = 0
        const original = repo.transaction
        ;(repo as { transaction: typeof original }).transaction = <A>(f: () => A): A => {
          if (!db.inTransaction) transactions++
          return original(f)
        }
        try {
          const [submitted, bad, cyclic, claimed] = yield* Effect.all(
            [
              Effect.all(
                Array.from({ length: 20 }, (_, i) => q.submit(aTask({ prompt: `batch ${i}`, dependsOn: [first.id] }))),
                { concurrency: "unbounded" }
              ),
              // Rejected in the middle of the batch: its own changes roll back, the others stand.
              flip(q.submit({ prompt: "bad", dependsOn: [first.id, "3f2b8c1e-9d4a-4f6b-8e2a-1c5d7e9f0a2b"] })),
              flip(
                q.submitPlan({
                  tasks: [
                    { key: "a", prompt: "a", dependsOn: ["b"] },
                    { key: "b", prompt: "b", dependsOn: ["a"] }
                  ]
                })
              ),
              q.claim({ worker: "w" })
            ],
            { concurrency: "unbounded" }
          )
          expect(transactions).toBe(1)
          expect(submitted.map((t) => t.status)).toEqual(Array.from({ length: 20 }, () => "blocked"))
          expect(bad._tag).toBe("TaskNotFound")
          expect(cyclic._tag).toBe("DependencyCycle")
          expect(claimed?.id).toBe(first.id)
          // Exactly the 20 tasks, their edges and audit rows, and the claim: nothing of the rejected two.
          const after = yield* rowCounts
          expect(after.tasks.length).toBe(before.tasks.length + 20)
          expect(after.deps.length).toBe(before.deps.length + 20)
          expect(after.audit.length).toBe(before.audit.length + 21)
          expect((yield* q.list({ status: "blocked" })).map((t) => t.prompt).sort()).toEqual(
            Array.from({ length: 20 }, (_, i) => `batch ${i}`).sort()
          )
          // One at a time, each is a transaction of its own.
          yield* q.submit(aTask())
          yield* q.submit(aTask())
          expect(transactions).toBe(3)
        } finally {
          ;(repo as { transaction: typeof original }).transaction = original
        }
        yield* checkInvariants()
      }),
    { groupCommit: true }
  )

  queueTest("dataVersion() moves when another connection commits", () =>
    Effect.gen(function* () {
      const q = yield* TaskQueue
      const { filename } = yield* Database
      const v0 = yield* q.dataVersion()
      // This connection's own commits do not move it (SQLite's data_version).
      yield* q.submit(aTask())
      expect(yield* q.dataVersion()).toBe(v0)
      const other = new BetterSqlite3(filename)
      try {
        other.prepare("UPDATE tasks SET summary = 'changed elsewhere'").run()
      } finally {
        other.close()
      }
      expect(yield* q.dataVersion()).not.toBe(v0)
    })
  )

  queueTest("a write reads the time once it holds the write lock, so times follow the commit order", () =>
    Effect.gen(function* () {
      const q = yield* TaskQueue
      const { db } = yield* Database
      const inTransaction: Array<boolean> = []
      const at = 1_700_000_000_000
      const spy: Clock.Clock = {
        [Clock.ClockTypeId]: Clock.ClockTypeId,
        unsafeCurrentTimeMillis: () => {
          inTransaction.push(db.inTransaction)
          return at
        },
        currentTimeMillis: Effect.sync(() => {
          inTransaction.push(db.inTransaction)
          return at
        }),
        unsafeCurrentTimeNanos: () => BigInt(at) * 1_000_000n,
        currentTimeNanos: Effect.sync(() => BigInt(at) * 1_000_000n),
        sleep: () => Effect.void
      }
      const t = yield* Effect.withClock(q.submit(aTask()), spy)
      expect(t.submittedAt).toBe(new Date(at).toISOString())
      const c = yield* Effect.withClock(q.claim(), spy)
      expect(c!.startedAt).toBe(new Date(at).toISOString())
      expect(inTransaction.length).toBeGreaterThan(0)
      expect(inTransaction.every((x) => x)).toBe(true)
    })
  )
})

describe("configuration and errors", () => {
  it("limits read as the contract configures them: 0 is unlimited", () => {
    expect(parseLimit(undefined, 50)).toBe(50)
    expect(parseLimit(" ", 50)).toBe(50)
    expect(parseLimit("7", 50)).toBe(7)
    expect(parseLimit("0", 50)).toBe(Number.POSITIVE_INFINITY)
    for (const bad of ["-1", "1.5", "many"]) expect(() => parseLimit(bad, 50)).toThrow(/whole number/)
    expect(limitsFromEnv({ ABATHUR_MAX_DEPENDENCIES: "3", ABATHUR_MAX_DEPTH: "0" })).toEqual({
      maxDependencies: 3,
      maxDepth: Number.POSITIVE_INFINITY,
      maxSubtasks: 50
    })
  })

  it.effect("QueueConfig.layer fills what is not given with the defaults", () =>
    Effect.gen(function* () {
      const settings = yield* QueueConfig
      expect(settings.priority).toEqual(defaultQueueSettings.priority)
      expect(settings.limits.maxDepth).toBe(2)
    }).pipe(Effect.provide(QueueConfig.layer({ limits: { maxDependencies: 1, maxDepth: 2, maxSubtasks: 3 } })))
  )

  it("errorBody gives the contract's error document with the details", () => {
    expect(errorBody(new LimitExceeded({ message: "too deep", limit: "depth", max: 10, actual: 11 }))).toEqual({
      error: { _tag: "LimitExceeded", message: "too deep", limit: "depth", max: 10, actual: 11 }
    })
    expect(errorBody(new ValidationError({ message: "bad" }))).toEqual({ error: { _tag: "ValidationError", message: "bad" } })
  })

  it("the package index exports the service, its configuration, its errors and the store seam, not the rules' internals", () => {
    expect(Index.TaskQueue).toBe(TaskQueue)
    expect(Index.QueueConfig).toBe(QueueConfig)
    expect(typeof Index.isQueueError).toBe("function")
    expect(typeof Index.StoreRunner).toBe("function")
    for (const internal of ["Engine", "validate", "publicTask", "Tx", "sqliteStore", "runSync"]) expect(Object.keys(Index)).not.toContain(internal)
  })
})

serviceRules(sqlite)
