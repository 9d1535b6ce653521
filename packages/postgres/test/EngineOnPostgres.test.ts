/** The queue's own rules (TaskQueue over the runner) on PostgreSQL, two pools standing for two servers. */
import { QueueConfig, StoreRunner, TaskQueue } from "@abathur/queue"
import { Effect, Layer } from "effect"
import { describe, expect, it } from "vitest"
import { makePostgresRunner, migrate, type WriteMode } from "../src/index.js"
import { freshDatabase } from "./helpers.js"

const queueOn = (runner: ReturnType<typeof makePostgresRunner>) =>
  TaskQueue.layerWithRunner.pipe(
    Layer.provide(Layer.succeed(StoreRunner, runner)),
    Layer.provide(QueueConfig.layer({ limits: { maxDependencies: 50, maxDepth: 1000, maxSubtasks: 50 } }))
  )

describe("the engine's rules on PostgreSQL", () => {
  it("smoke: submit, claim, complete, unblock", async () => {
    const { pool } = await freshDatabase()
    await migrate(pool)
    const program = Effect.gen(function* () {
      const q = yield* TaskQueue
      const a = yield* q.submit({ prompt: "A", priority: 8 })
      const b = yield* q.submit({ prompt: "B", dependsOn: [a.id] })
      const c1 = yield* q.claim({ worker: "w" })
      expect(c1?.id).toBe(a.id)
      const done = yield* q.complete(a.id, { leaseToken: c1!.leaseToken })
      expect(done.unblocked).toEqual([b.id])
      const c2 = yield* q.claim({ worker: "w" })
      expect(c2?.id).toBe(b.id)
      return yield* q.status()
    })
    const status = await Effect.runPromise(Effect.provide(program, queueOn(makePostgresRunner(pool))))
    expect(status.byStatus).toMatchObject({ running: 1, completed: 1 })
  })

  it("a subtask under a parent, and a dependent of that parent: the deadlock walk over the hierarchy runs", async () => {
    const { pool } = await freshDatabase()
    await migrate(pool)
    const program = Effect.gen(function* () {
      const q = yield* TaskQueue
      const parent = yield* q.submit({ prompt: "parent" })
      const after = yield* q.submit({ prompt: "after", dependsOn: [parent.id] })
      const sub = yield* q.submit({ prompt: "sub", parentTaskId: parent.id })
      const claimed = yield* q.claim({ worker: "w" })
      expect(claimed?.id).toBe(parent.id)
      yield* q.complete(parent.id, { leaseToken: claimed!.leaseToken })
      // The parent's dependent waits for the subtask too.
      expect((yield* q.get(after.id)).status).toBe("blocked")
      const next = yield* q.claim({ worker: "w" })
      expect(next?.id).toBe(sub.id)
      const done = yield* q.complete(sub.id, { leaseToken: next!.leaseToken })
      expect(done.unblocked).toEqual([after.id])
    })
    await Effect.runPromise(Effect.provide(program, queueOn(makePostgresRunner(pool))))
  })

  // 120 tasks (200 before): as many chains and fan-ins for the claims to race on, in less time on a
  // loaded 2-core machine (a run of 200 once took over 30 s there, with SERIALIZABLE's retries).
  const N = 120
  for (const mode of ["serial", "serializable"] satisfies Array<WriteMode>) {
    it(`a DAG of ${N} tasks, 8 workers over two "servers" (${mode}): each completed once, in dependency order`, async () => {
      const { pool, url } = await freshDatabase({ max: 6 })
      await migrate(pool)
      const pg2 = new (await import("pg")).default.Pool({ connectionString: url, max: 6 })
      let retries = 0
      const opts = { writes: mode, onRetry: () => void retries++ }
      const servers = [queueOn(makePostgresRunner(pool, opts)), queueOn(makePostgresRunner(pg2, opts))]
      // Task i depends on up to 3 earlier tasks (deterministic pseudo-random), with some subtasks.
      let seed = 7
      const rnd = () => {
        seed = (seed * 1103515245 + 12345) % 2 ** 31
        return seed / 2 ** 31
      }
      const tasks = Array.from({ length: N }, (_, i) => ({
        key: `t${i}`,
        prompt: `task ${i}`,
        dependsOn: i === 0 ? [] : [...new Set(Array.from({ length: 1 + Math.floor(rnd() * 3) }, () => `t${Math.floor(rnd() * i)}`))]
      }))
      const submitted = await Effect.runPromise(
        Effect.provide(
          Effect.flatMap(TaskQueue, (q) => q.submitPlan({ tasks })),
          servers[0]!
        )
      )
      const idToKey = new Map(Object.entries(submitted.tasks).map(([k, t]) => [t.id, k]))
      const completedAt = new Map<string, number>()
      const completions: Array<string> = []
      let tick = 0
      // Workers stop when every task is done, or at the deadline (a queue that stalls fails below,
      // well within the test's timeout, rather than when a slow machine leaves them idle a while).
      const deadline = Date.now() + 90_000
      await Promise.all(
        Array.from({ length: 8 }, (_, w) =>
          Effect.runPromise(
            Effect.provide(
              Effect.gen(function* () {
                const q = yield* TaskQueue
                while (completedAt.size < N && Date.now() < deadline) {
                  const c = yield* q.claim({ worker: `w${w}` })
                  if (c === null) {
                    yield* Effect.sleep(20)
                    continue
                  }
                  const key = idToKey.get(c.id)!
                  yield* q.complete(c.id, { leaseToken: c.leaseToken })
                  completions.push(key)
                  completedAt.set(key, tick++)
                }
              }),
              servers[w % 2]!
            )
          )
        )
      )
      expect(completions.length).toBe(N)
      expect(new Set(completions).size).toBe(N)
      // Every prerequisite completed before its dependent's claim, read from the audit trail: an
      // audit id is drawn from a sequence inside its transaction, and a claim that saw a
      // prerequisite completed began after that completion committed, so its id is the larger.
      // (Not from this process's bookkeeping: a worker may claim a dependent between another
      // worker's commit and that worker's fiber resuming.)
      const audit = await pool.query<{ task_id: string; to_status: string; id: string }>(
        "SELECT task_id, to_status, id::text AS id FROM task_audit WHERE to_status IN ('running', 'completed')"
      )
      const claimedAt = new Map<string, bigint>()
      const doneAt = new Map<string, bigint>()
      for (const r of audit.rows) (r.to_status === "running" ? claimedAt : doneAt).set(idToKey.get(r.task_id)!, BigInt(r.id))
      for (const t of tasks)
        for (const p of t.dependsOn) expect(claimedAt.get(t.key)! > doneAt.get(p)!, `${t.key} claimed before ${p} completed`).toBe(true)
      if (mode === "serial") expect(retries).toBe(0)
      await pg2.end()
    }, 120_000)
  }
})
