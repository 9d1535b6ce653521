/**
 * Transactions that overlap on a real server: claims never share a task (FOR UPDATE SKIP LOCKED),
 * and rules that conflict are serialized by retries the caller never sees.
 */
import { Task } from "@abathur/domain"
import type { StoredTask } from "@abathur/storage"
import type pg from "pg"
import { beforeAll, describe, expect, it } from "vitest"
import { drive, isRetryable, migrate, type PgTaskRepository, runTransaction, type Step } from "../src/index.js"
import { deferred, freshDatabase } from "./helpers.js"

const at = (minutes: number): string => new Date(Date.UTC(2026, 0, 1, 0, 0, 0) + minutes * 60_000).toISOString()

const readyTask = (n: number, fields: Record<string, unknown> = {}): StoredTask => ({
  ...Task.parse({ prompt: `task ${n}`, status: "ready", submittedAt: at(n), lastUpdatedAt: at(n), ...fields }),
  leaseToken: null,
  leaseExpiresAt: null,
  workerId: null,
  priorityRefreshAt: null,
  priorityRank: 100 - n,
  priorityStarved: false,
  cancelledBy: null,
  idempotencyFingerprint: null,
  subtree: { open: 0, completed: 0, failed: 0, cancelled: 0 },
  ancestorGated: false
})

/** A claim as the engine makes it: the best head, then the task RUNNING under a worker's lease. */
function* claim(store: PgTaskRepository, worker: string): Step<string | null> {
  const heads = yield* store.readyHeads(null)
  const best = heads[0]
  if (best === undefined) return null
  yield* store.updateTask(best.id, { status: "running", workerId: worker, leaseToken: `${worker}-${best.id}` })
  return best.id
}

let pool: pg.Pool

describe("concurrent transactions", () => {
  beforeAll(async () => {
    ;({ pool } = await freshDatabase({ max: 12 }))
    await migrate(pool)
  })

  it("skip a head that another open transaction holds instead of waiting for it or taking it too", async () => {
    const tasks = [readyTask(1), readyTask(2)]
    await runTransaction(pool, (s) => s.insertTasks(tasks))
    const holding = deferred()
    const release = deferred()
    // The first claimer takes the best task and keeps its transaction open.
    const first = runTransaction(
      pool,
      function* (s) {
        const id = yield* claim(s, "w1")
        holding.resolve()
        yield release.promise
        return id
      },
      { isolation: "READ COMMITTED" }
    )
    await holding.promise
    // Meanwhile a second claimer gets the next task at once (a 2 s lock timeout fails the test if it waits).
    const second = await runTransaction(
      pool,
      function* (s) {
        yield s.client.query("SET LOCAL lock_timeout = '2s'")
        return yield* claim(s, "w2")
      },
      { isolation: "READ COMMITTED" }
    )
    release.resolve()
    expect([await first, second]).toEqual([tasks[0]!.id, tasks[1]!.id])
  })

  it("hand each task to exactly one of eight concurrent claimers", async () => {
    await pool.query("DELETE FROM tasks")
    const tasks = Array.from({ length: 60 }, (_, i) => readyTask(i + 10))
    await runTransaction(pool, (s) => s.insertTasks(tasks))
    let retries = 0
    const claimedBy = new Map<string, Array<string>>()
    await Promise.all(
      Array.from({ length: 8 }, async (_, w) => {
        for (;;) {
          const id = await runTransaction(pool, (s) => claim(s, `w${w}`), { onRetry: () => void retries++ })
          if (id === null) return
          claimedBy.set(id, [...(claimedBy.get(id) ?? []), `w${w}`])
        }
      })
    )
    expect(claimedBy.size).toBe(tasks.length)
    expect([...claimedBy.values()].every((workers) => workers.length === 1)).toBe(true)
    const running = await pool.query("SELECT count(*)::integer AS n FROM tasks WHERE status = 'running'")
    expect(running.rows[0]).toEqual({ n: tasks.length })
    const stats = await runTransaction(pool, (s) => s.statusCounts())
    expect(stats.byStatus).toMatchObject({ ready: 0, running: tasks.length })
    if (process.env["ABATHUR_TEST_POSTGRES_VERBOSE"] !== undefined) console.log(`8 claimers, ${tasks.length} tasks: ${retries} retries`)
  })

  /**
   * Write skew: each rule reads both tasks and starts its own only when neither runs. Run one
   * after the other, exactly one task starts; overlapping (both read before either writes) under
   * REPEATABLE READ, both start; under SERIALIZABLE the driver retries the loser, which then sees
   * the winner's write.
   */
  const skew = async (isolation: "SERIALIZABLE" | "REPEATABLE READ") => {
    await pool.query("DELETE FROM tasks")
    const [a, b] = [readyTask(1), readyTask(2)]
    await runTransaction(pool, (s) => s.insertTasks([a!, b!]))
    const read = [deferred(), deferred()]
    const both = Promise.all(read.map((d) => d.promise))
    const attempts = [0, 0]
    const retried: Array<unknown> = []
    const rule = (i: number, own: string) =>
      function* (s: PgTaskRepository): Step<boolean> {
        attempts[i]!++
        const tasks = yield* s.getTasks([a!.id, b!.id])
        read[i]!.resolve()
        yield both // both have read before either writes
        if (tasks.some((t) => t.status === "running")) return false
        yield* s.updateTask(own, { status: "running" })
        return true
      }
    const results = await Promise.all([
      runTransaction(pool, rule(0, a!.id), { isolation, onRetry: (_, e) => void retried.push(e) }),
      runTransaction(pool, rule(1, b!.id), { isolation, onRetry: (_, e) => void retried.push(e) })
    ])
    const running = await pool.query("SELECT count(*)::integer AS n FROM tasks WHERE status = 'running'")
    return { results, running: running.rows[0].n as number, attempts, retried }
  }

  it("let two overlapping rules both act on a stale read below SERIALIZABLE (why the driver uses it)", async () => {
    const { results, running } = await skew("REPEATABLE READ")
    expect(results).toEqual([true, true])
    expect(running).toBe(2)
  })

  it("retry a rule that lost a serialization conflict from the start, invisibly to its caller", async () => {
    const { results, running, attempts, retried } = await skew("SERIALIZABLE")
    expect(running).toBe(1)
    expect(results.sort()).toEqual([false, true])
    expect(retried.length).toBe(1)
    expect(isRetryable(retried[0])).toBe(true)
    expect((retried[0] as { code: string }).code).toBe("40001")
    expect(attempts.sort()).toEqual([1, 2])
  })

  it("run writers one at a time under the write lock: the second rule reads after the first committed", async () => {
    await pool.query("DELETE FROM tasks")
    const [a, b] = [readyTask(1), readyTask(2)]
    await runTransaction(pool, (s) => s.insertTasks([a!, b!]))
    const events: Array<string> = []
    const firstRead = deferred()
    const release = deferred()
    const rule = (name: string, own: string, hold: boolean) =>
      function* (s: PgTaskRepository): Step<boolean> {
        events.push(`${name} reads`)
        const tasks = yield* s.getTasks([a!.id, b!.id])
        if (hold) {
          firstRead.resolve()
          yield release.promise
        }
        if (tasks.some((t) => t.status === "running")) return false
        yield* s.updateTask(own, { status: "running" })
        events.push(`${name} wrote`)
        return true
      }
    const options = { isolation: "READ COMMITTED" as const, writeLock: true, onRetry: () => void events.push("retry") }
    const first = runTransaction(pool, rule("first", a!.id, true), options)
    await firstRead.promise
    const second = runTransaction(pool, rule("second", b!.id, false), options)
    // The second waits for the lock: it has not read while the first holds it.
    await new Promise((r) => setTimeout(r, 200))
    expect(events).toEqual(["first reads"])
    release.resolve()
    expect(await Promise.all([first, second])).toEqual([true, false])
    expect(events).toEqual(["first reads", "first wrote", "second reads"])
  })

  it("retry a deadlock too", async () => {
    await pool.query("DELETE FROM tasks")
    const [a, b] = [readyTask(1), readyTask(2)]
    await runTransaction(pool, (s) => s.insertTasks([a!, b!]))
    const locked = [deferred(), deferred()]
    const both = Promise.all(locked.map((d) => d.promise))
    const retried: Array<string> = []
    // Each locks one row, then updates the other's: one of them is chosen as the deadlock's victim.
    const rule = (i: number, first: string, second: string) =>
      function* (s: PgTaskRepository): Step<string> {
        yield* s.updateTask(first, { workerId: `w${i}` })
        locked[i]!.resolve()
        yield both
        yield* s.updateTask(second, { workerId: `w${i}` })
        return `w${i}`
      }
    const options = { isolation: "READ COMMITTED" as const, onRetry: (_: number, e: unknown) => void retried.push((e as { code: string }).code) }
    const results = await Promise.all([runTransaction(pool, rule(0, a!.id, b!.id), options), runTransaction(pool, rule(1, b!.id, a!.id), options)])
    expect(results).toEqual(["w0", "w1"])
    expect(retried.length).toBeGreaterThanOrEqual(1)
    expect(new Set(retried)).toEqual(new Set(["40P01"]))
    const rows = await pool.query("SELECT DISTINCT worker_id FROM tasks")
    expect(rows.rows).toHaveLength(1) // the retried rule ran last and wrote both rows
  })

  it("roll back and rethrow any other error, and give up after the attempts allowed", async () => {
    await pool.query("DELETE FROM tasks")
    const t = readyTask(1)
    await expect(
      runTransaction(pool, function* (s) {
        yield* s.insertTask(t)
        throw new Error("rule failed")
      })
    ).rejects.toThrow("rule failed")
    expect((await pool.query("SELECT count(*)::integer AS n FROM tasks")).rows[0]).toEqual({ n: 0 })
    let runs = 0
    const conflict = Object.assign(new Error("could not serialize"), { code: "40001" })
    await expect(
      runTransaction(
        pool,
        function* () {
          runs++
          yield Promise.reject(conflict)
        },
        { maxAttempts: 3 }
      )
    ).rejects.toBe(conflict)
    expect(runs).toBe(3)
    // A conflict the rule caught still dooms the attempt (its transaction is aborted): the rule runs again.
    let caughtRuns = 0
    const value = await runTransaction(pool, function* (s) {
      caughtRuns++
      if (caughtRuns === 1) {
        try {
          yield s.client.query("DO $$ BEGIN RAISE EXCEPTION 'forced' USING ERRCODE = 'serialization_failure'; END $$")
        } catch {
          // swallowed by the rule
        }
      }
      return yield* s.countChildren(t.id)
    })
    expect([value, caughtRuns]).toEqual([0, 2])
  })

  it("drive a store that never yields without awaiting anything", async () => {
    function* pure(): Step<number> {
      return 42
    }
    expect(await drive(pure())).toBe(42)
  })
})
