/**
 * Claims through the queue's own rules (TaskQueue over the runner) by concurrent claimers, each
 * on a connection of its own (a pool of one, as separate servers or processes have): every task
 * handed out exactly once, in the claim order, under a lease whose token fences the others out.
 */
import { type ClaimedTask, Task } from "@abathur/domain"
import { QueueConfig, StoreRunner, TaskQueue } from "@abathur/queue"
import { Cause, Clock, Effect, Exit, Layer, ManagedRuntime } from "effect"
import pg from "pg"
import { describe, expect, it } from "vitest"
import { makePostgresRunner, migrate, type PostgresRunnerOptions } from "../src/index.js"
import { deferred, freshDatabase } from "./helpers.js"

const queueOn = (pool: pg.Pool, mode: PostgresRunnerOptions, onRetry?: () => void) =>
  TaskQueue.layerWithRunner.pipe(
    Layer.provide(Layer.succeed(StoreRunner, makePostgresRunner(pool, { ...mode, ...(onRetry !== undefined && { onRetry }) }))),
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

/** A pool of one connection whose statements wait at most `lockTimeout` for a lock (then fail). */
const connection = (url: string, lockTimeout?: string) => {
  const pool = new pg.Pool({ connectionString: url, max: 1, ...(lockTimeout !== undefined && { options: `-c lock_timeout=${lockTimeout}` }) })
  pool.on("error", () => undefined)
  return pool
}

const CLAIMERS = 8
const TASKS = Number(process.env["CLAIM_TASKS"] ?? 96)

describe("concurrent claimers on separate connections", () => {
  const modes: Array<PostgresRunnerOptions> = [{ writes: "serial" }, { writes: "serial", claims: "exclusive" }, { writes: "serializable" }]
  for (const mode of modes) {
    const name = `${mode.writes}${mode.claims === undefined ? "" : `, claims ${mode.claims}`}`
    it(`${CLAIMERS} claimers over ${TASKS} READY tasks (${name}): each task handed out exactly once, best first, fenced by its lease`, async () => {
      const { pool, url } = await freshDatabase({ max: 2 })
      await migrate(pool)
      const setup = queueOn(pool, mode)
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
        const started = Date.now()
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
                queueOn(p, mode, () => void retries++)
              )
            )
          )
        )
        const all = handedOut.flat()
        if (process.env["ABATHUR_TEST_POSTGRES_VERBOSE"] !== undefined) {
          console.log(`${name}: ${CLAIMERS} claimers, ${TASKS} claims in ${Date.now() - started} ms, ${retries} retries`)
        }
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
        if (mode.writes === "serial") {
          // The claim order, in the order of the audit trail: how many tasks claimed after a task
          // scored more than a point (the freshness bound) above it. None when claims run one at
          // a time; with shared claims, a claim passes over the heads that overlapping claims
          // hold (at most two each: one per class) and nothing else (no refresh is due here).
          // (A SERIALIZABLE claim that lost a conflict runs again and may take a better one.)
          const order = await pool.query<{ task_id: string }>("SELECT task_id FROM task_audit WHERE to_status = 'running' ORDER BY id")
          const score = new Map(all.map((c) => [c.id, c.calculatedPriority]))
          const scores = order.rows.map((r) => score.get(r.task_id)!)
          const passedOver = scores.map((s, i) => scores.slice(i + 1).filter((later) => later > s + 1).length)
          expect(Math.max(...passedOver)).toBeLessThanOrEqual(mode.claims === "exclusive" ? 0 : 2 * (CLAIMERS - 1))
          expect(retries).toBe(0)
        }

        // Fencing: a lease that expired is taken back by the next claim (a claimer two hours
        // later), under a new token; the old holder's report is refused, the new one's accepted.
        // (The best task: the first that a claim of up to 100 takes back once every lease expired.)
        const stale = all.reduce((best, c) => (c.calculatedPriority > best.calculatedPriority ? c : best))
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
            queueOn(pools[0]!, mode)
          )
        )
        expect(outcome.again.length).toBe(Math.min(TASKS, 100))
        expect(outcome.mine!.leaseToken).not.toBe(stale.leaseToken)
        expect(outcome.refused._tag).toBe("LeaseMismatch")
        expect(Task.parse(outcome.done.task).status).toBe("completed")
      } finally {
        await Promise.all(pools.map((p) => p.end()))
      }
    })
  }

  /**
   * A claim held open (it has taken the write lock as a claim does, and locked the best head); then
   * another claimer claims, with a 2 s lock timeout; then a submit, which must wait.
   */
  const overlap = async (claims: "shared" | "exclusive") => {
    const { pool, url } = await freshDatabase({ max: 2 })
    await migrate(pool)
    const mode: PostgresRunnerOptions = { writes: "serial", claims }
    const tasks = await Effect.runPromise(
      Effect.provide(
        Effect.flatMap(TaskQueue, (q) => Effect.forEach([9, 5, 1], (priority) => q.submit({ prompt: `p${priority}`, priority }))),
        queueOn(pool, mode)
      )
    )
    const [a, b, c] = [connection(url), connection(url, "2s"), connection(url)]
    // The queues of b and c are up (opening one is a write) before the claim is held open.
    const [onB, onC] = [ManagedRuntime.make(queueOn(b, mode)), ManagedRuntime.make(queueOn(c, mode))]
    await Promise.all([onB.runPromise(TaskQueue), onC.runPromise(TaskQueue)])
    const holding = deferred<string>()
    const release = deferred()
    const held = Effect.runPromise(
      makePostgresRunner(a, mode).write(
        function* (store) {
          yield* store.expiredLeases(new Date().toISOString())
          const heads = yield* store.readyHeads(null)
          holding.resolve(heads[0]!.id)
          yield release.promise
          return heads[0]!.id
        },
        Effect.succeed,
        "claim"
      )
    )
    const head = await holding.promise
    try {
      const claimed = await onB.runPromiseExit(Effect.flatMap(TaskQueue, (q) => q.claim({ worker: "b" })))
      // Any other write waits for the claim in flight: its connection waits for the advisory lock.
      const submitted = onC.runPromise(Effect.flatMap(TaskQueue, (q) => q.submit({ prompt: "later" })))
      let waiting = false
      for (let i = 0; i < 200 && !waiting; i++) {
        const r = await pool.query("SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
        waiting = r.rows[0].n > 0
        if (!waiting) await new Promise((resolve) => setTimeout(resolve, 50))
      }
      release.resolve()
      expect(await held).toBe(head)
      expect((await submitted).status).toBe("ready")
      return { tasks, head, claimed, waiting }
    } finally {
      release.resolve()
      await Promise.all([onB.dispose(), onC.dispose()])
      await Promise.all([a.end(), b.end(), c.end()])
    }
  }

  it("a claim does not wait for another claim in flight (it passes over the head that one holds); any other write waits for both", async () => {
    const { tasks, head, claimed, waiting } = await overlap("shared")
    expect(head).toBe(tasks[0]!.id)
    if (Exit.isFailure(claimed)) throw new Error(Cause.pretty(claimed.cause))
    expect(claimed.value?.id).toBe(tasks[1]!.id)
    expect(waiting).toBe(true)
  })

  it("with claims exclusive, a claim waits for the claim in flight (here past its lock timeout)", async () => {
    const { claimed, waiting } = await overlap("exclusive")
    expect(Exit.isFailure(claimed) && Cause.pretty(claimed.cause)).toMatch(/lock timeout/)
    expect(waiting).toBe(true)
  })
})
