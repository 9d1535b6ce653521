/**
 * Claims through the queue's own rules (TaskQueue over the runner) by concurrent claimers, each
 * on a connection of its own (a pool of one, as separate servers or processes have): every task
 * handed out exactly once, in the claim order, under a lease whose token fences the others out.
 */
import { type ClaimedTask, Task } from "@abathur/domain"
import { QueueConfig, StoreRunner, TaskQueue } from "@abathur/queue"
import { Clock, Effect, Layer } from "effect"
import pg from "pg"
import { describe, expect, it } from "vitest"
import { makePostgresRunner, migrate, type WriteMode } from "../src/index.js"
import { freshDatabase } from "./helpers.js"

const queueOn = (pool: pg.Pool, writes: WriteMode, onRetry?: () => void) =>
  TaskQueue.layerWithRunner.pipe(
    Layer.provide(Layer.succeed(StoreRunner, makePostgresRunner(pool, { writes, ...(onRetry !== undefined && { onRetry }) }))),
    Layer.provide(QueueConfig.layer({}))
  )

/** The real clock moved by `ms` (a claimer that runs later than the others, without waiting). */
const shifted = (ms: number): Clock.Clock => {
  const now = () => Date.now() + ms
  return {
    [Clock.ClockTypeId]: Clock.ClockTypeId,
    unsafeCurrentTimeMillis: now,
    currentTimeMillis: Effect.sync(now),
    unsafeCurrentTimeNanos: () => BigInt(now()) * 1_000_000n,
    currentTimeNanos: Effect.sync(() => BigInt(now()) * 1_000_000n),
    sleep: () => Effect.void
  }
}

const CLAIMERS = 8
const TASKS = 96

describe("concurrent claimers on separate connections", () => {
  for (const writes of ["serial", "serializable"] satisfies Array<WriteMode>) {
    it(`${CLAIMERS} claimers over ${TASKS} READY tasks (${writes}): each task handed out exactly once, best first, fenced by its lease`, async () => {
      const { pool, url } = await freshDatabase({ max: 2 })
      await migrate(pool)
      const setup = queueOn(pool, writes)
      // Priorities 0..10 spread over the tasks, so that the claim order is visible.
      const submitted = await Effect.runPromise(
        Effect.provide(
          Effect.flatMap(TaskQueue, (q) =>
            Effect.forEach(
              Array.from({ length: TASKS }, (_, i) => i),
              (i) => q.submit({ prompt: `task ${i}`, priority: (i * 7) % 11 })
            )
          ),
          setup
        )
      )
      const pools = Array.from({ length: CLAIMERS }, () => {
        const p = new pg.Pool({ connectionString: url, max: 1 })
        p.on("error", () => undefined)
        return p
      })
      let retries = 0
      try {
        const handedOut = await Promise.all(
          pools.map((p, w) =>
            Effect.runPromise(
              Effect.provide(
                Effect.gen(function* () {
                  const q = yield* TaskQueue
                  const mine: Array<ClaimedTask> = []
                  for (;;) {
                    const c = yield* q.claim({ worker: `w${w}` })
                    if (c === null) return mine
                    mine.push(c)
                  }
                }),
                queueOn(p, writes, () => void retries++)
              )
            )
          )
        )
        const all = handedOut.flat()
        // Exactly once: every task, no task twice, and every claimer got some.
        expect(all.length).toBe(TASKS)
        expect(new Set(all.map((c) => c.id))).toEqual(new Set(submitted.map((t) => t.id)))
        expect(new Set(all.map((c) => c.leaseToken)).size).toBe(TASKS)
        // Each is RUNNING under the lease its claimer was given.
        const rows = await pool.query<{ id: string; status: string; lease_token: string; worker_id: string }>(
          "SELECT id, status, lease_token, worker_id FROM tasks"
        )
        const byId = new Map(rows.rows.map((r) => [r.id, r]))
        handedOut.forEach((mine, w) => {
          for (const c of mine) expect(byId.get(c.id)).toMatchObject({ status: "running", lease_token: c.leaseToken, worker_id: `w${w}` })
        })
        if (writes === "serial") {
          // One claim at a time (the write lock), in the order of the audit trail: no task scored
          // more than a point (the freshness bound) above one claimed before it, whichever claimer
          // took it. (Overlapping SERIALIZABLE claims pass over a head another holds, and a claim
          // that lost a conflict and ran again may take a better one: no total order to check.)
          const order = await pool.query<{ task_id: string }>("SELECT task_id FROM task_audit WHERE to_status = 'running' ORDER BY id")
          const score = new Map(all.map((c) => [c.id, c.calculatedPriority]))
          const scores = order.rows.map((r) => score.get(r.task_id)!)
          for (let i = 1; i < scores.length; i++) expect(scores[i]!).toBeLessThanOrEqual(Math.min(...scores.slice(0, i)) + 1)
          expect(retries).toBe(0)
        }

        // Fencing: a lease that expired is taken back by the next claim (a claimer two hours
        // later), under a new token; the old holder's report is refused, the new one's accepted.
        const stale = handedOut[0]![0]!
        const later = Effect.withClock(shifted(2 * 3_600_000))
        const outcome = await Effect.runPromise(
          Effect.provide(
            Effect.gen(function* () {
              const q = yield* TaskQueue
              const again = yield* later(q.claimMany({ worker: "late", limit: 100 }))
              const mine = again.find((c) => c.id === stale.id)
              const refused = yield* Effect.flip(q.complete(stale.id, { leaseToken: stale.leaseToken }))
              const done = yield* later(q.complete(stale.id, { leaseToken: mine!.leaseToken }))
              return { again, mine, refused, done }
            }),
            queueOn(pools[0]!, writes)
          )
        )
        expect(outcome.again.length).toBe(TASKS)
        expect(outcome.mine!.leaseToken).not.toBe(stale.leaseToken)
        expect(outcome.refused._tag).toBe("LeaseMismatch")
        expect(Task.parse(outcome.done.task).status).toBe("completed")
      } finally {
        await Promise.all(pools.map((p) => p.end()))
      }
    })
  }
})
