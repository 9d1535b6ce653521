/**
 * The store seam (Store.ts): the rules reach the store only through `yield* store.method(...)`,
 * so they run unchanged over an asynchronous store. Here every store call of the rules is a
 * promise (the SQLite repository behind `Promise.resolve`), driven by an async runner with its
 * own BEGIN/COMMIT: the same queue, through `TaskQueue.layerWithRunner`.
 */
import { Database, TaskRepository } from "@abathur/storage"
import { aTask, databaseDump, TestDatabase } from "@abathur/testing"
import { describe, expect, it } from "@effect/vitest"
import { Clock, Effect, Layer } from "effect"
import { defaultQueueSettings, QueueConfig } from "../src/QueueConfig.js"
import { runSync, sqliteStore } from "../src/SqliteStore.js"
import { type Repository, ruleFailure, type Rule, type Step, storeMethods, StoreRunner, type TaskStore } from "../src/Store.js"
import { TaskQueue } from "../src/TaskQueue.js"
import { flip } from "./TestQueue.js"

/** Every method a step that yields one promise (as a pool's query would). */
const promisedStore = (repo: Repository, calls: { n: number }): TaskStore => {
  const store: Record<string, (...args: Array<unknown>) => Step<unknown>> = {}
  for (const name of storeMethods) {
    const method = repo[name] as (...args: Array<unknown>) => unknown
    store[name] = function* (...args) {
      calls.n++
      return yield Promise.resolve().then(() => method(...args))
    }
  }
  return store as unknown as TaskStore
}

/** The async driver: awaits each yielded promise and resumes the rule with its value or error. */
const runAsync = async <A>(step: Step<A>): Promise<A> => {
  let r = step.next()
  while (r.done !== true) {
    try {
      r = step.next(await r.value)
    } catch (error) {
      r = step.throw(error)
    }
  }
  return r.value
}

const calls = { n: 0 }

const AsyncRunner = Layer.effect(
  StoreRunner,
  Effect.gen(function* () {
    const repo = yield* TaskRepository
    const { db } = yield* Database
    const store = promisedStore(repo, calls)
    const lock = yield* Effect.makeSemaphore(1)
    const inTransaction = <A>(rule: Rule<A>, now: number) =>
      Effect.tryPromise({
        try: async () => {
          db.exec("BEGIN IMMEDIATE")
          try {
            const a = await runAsync(rule(store, now))
            db.exec("COMMIT")
            return a
          } catch (error) {
            db.exec("ROLLBACK")
            throw error
          }
        },
        catch: (error) => error
      }).pipe(Effect.catchAll(ruleFailure))
    return {
      write: (rule, committed) =>
        lock
          .withPermits(1)(Effect.flatMap(Clock.currentTimeMillis, (now) => inTransaction(rule, now)))
          .pipe(Effect.flatMap(committed)),
      read: (rule) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.tryPromise({ try: () => runAsync(rule(store, now)), catch: (e) => e })).pipe(
          Effect.catchAll(ruleFailure)
        ),
      dataVersion: () => Effect.sync(() => repo.dataVersion())
    }
  })
)

const asyncQueue = TaskQueue.layerWithRunner.pipe(
  Layer.provide(AsyncRunner),
  Layer.provideMerge(TestDatabase.layer()),
  Layer.provide(QueueConfig.layer(defaultQueueSettings))
)

describe("the store seam", () => {
  it.live("the rules run over a store whose every call is a promise: submit, cascade, claim, complete, reads", () =>
    Effect.gen(function* () {
      const q = yield* TaskQueue
      const before = calls.n
      const parent = yield* q.submit(aTask({ prompt: "parent" }))
      const child = yield* q.submit(aTask({ prompt: "child", parentTaskId: parent.id }))
      const spec = yield* q.submit(aTask({ prompt: "spec", priority: 9 }))
      const impl = yield* q.submit(aTask({ prompt: "impl", dependsOn: [spec.id] }))
      const plan = yield* q.submitPlan({
        tasks: [
          { key: "a", prompt: "a", dependsOn: [impl.id] },
          { key: "b", prompt: "b", dependsOn: ["a"] }
        ]
      })
      expect(impl.status).toBe("blocked")
      const claimed = yield* q.claim({ worker: "w" })
      expect(claimed?.id).toBe(spec.id)
      const done = yield* q.complete(spec.id, { leaseToken: claimed!.leaseToken })
      expect(done.unblocked).toEqual([impl.id])
      // A final failure cascades through `cancel` edges; a retry revives what it cancelled.
      const x = yield* q.submit(aTask({ prompt: "x", priority: 10, maxRetries: 0 }))
      const y = yield* q.submit(aTask({ prompt: "y", dependsOn: [x.id] }))
      const cx = yield* q.claim({ worker: "w" })
      expect(cx?.id).toBe(x.id)
      const failed = yield* q.fail(x.id, { error: "boom", leaseToken: cx!.leaseToken })
      expect(failed.cancelled).toEqual([y.id])
      expect((yield* q.retry(x.id)).revived).toEqual([y.id])
      const detail = yield* q.get(impl.id)
      expect(detail.prerequisites.map((p) => p.taskId)).toEqual([spec.id])
      const tree = yield* q.tree(parent.id)
      expect(!Array.isArray(tree) && tree.children.map((c) => c.task.id)).toEqual([child.id])
      expect((yield* q.executionPlan()).totalBatches).toBeGreaterThan(0)
      expect((yield* q.status()).total).toBe(8)
      expect(plan.tasks.b!.status).toBe("blocked")
      expect(calls.n - before).toBeGreaterThan(50)
    }).pipe(Effect.provide(asyncQueue))
  )

  it.live("a refused operation fails with its error over the async store and changes nothing", () =>
    Effect.gen(function* () {
      const q = yield* TaskQueue
      const a = yield* q.submit(aTask({ prompt: "a" }))
      const before = yield* databaseDump
      const e = yield* flip(q.addDependency(a.id, { prerequisiteId: "00000000-0000-4000-8000-000000000000" }))
      expect(e._tag).toBe("TaskNotFound")
      expect(yield* databaseDump).toEqual(before)
    }).pipe(Effect.provide(asyncQueue))
  )

  it("the synchronous driver refuses a store that yields (it would lose the rest of the rule)", () => {
    const yielding = function* (): Step<number> {
      return (yield Promise.resolve(1)) as number
    }
    expect(() => runSync(yielding())).toThrow(/a synchronous store yielded/)
    expect(typeof sqliteStore).toBe("function")
  })
})
