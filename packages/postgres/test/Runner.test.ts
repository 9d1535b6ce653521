import { TaskNotFound } from "@abathur/queue"
import { Cause, Effect, Exit } from "effect"
import type pg from "pg"
import { beforeAll, describe, expect, it } from "vitest"
import {
  isPostgresUrl,
  makePostgresRunner,
  migrate,
  openPostgres,
  Postgres,
  type PgTaskRepository,
  type Step,
  type StoreSteps,
  WRITE_LOCK
} from "../src/index.js"
import { freshDatabase } from "./helpers.js"

let pool: pg.Pool
let url: string

const count: (store: StoreSteps) => Step<number> = function* (store) {
  return (yield* store.statusCounts()).byStatus.ready
}

describe("the PostgreSQL runner", () => {
  beforeAll(async () => {
    ;({ pool, url } = await freshDatabase())
    await migrate(pool)
  })

  it("commits a write, then hands its result to `committed`; a read sees it", async () => {
    const runner = makePostgresRunner(pool)
    const seen: Array<number> = []
    const before = await Effect.runPromise(runner.dataVersion())
    const out = await Effect.runPromise(
      runner.write(
        function* (store, now) {
          yield* store.insertPlanSubmission("k", { fingerprint: "f", taskKeys: {} }, new Date(now).toISOString())
          return now
        },
        (now) =>
          Effect.sync(() => {
            seen.push(now)
            return "published"
          })
      )
    )
    expect(out).toBe("published")
    expect(seen).toHaveLength(1)
    expect(await Effect.runPromise(runner.read((store) => store.getPlanSubmission("k")))).toEqual({ fingerprint: "f", taskKeys: {} })
    expect(await Effect.runPromise(runner.dataVersion())).toBeGreaterThan(before)
    expect(await Effect.runPromise(runner.read(count))).toBe(0)
  })

  it("fails with a rule's QueueError and changes nothing; any other throw is a defect", async () => {
    const runner = makePostgresRunner(pool)
    const notFound = new TaskNotFound({ message: "task x does not exist", taskId: "x" })
    const failed = await Effect.runPromiseExit(
      runner.write(
        function* (store) {
          yield* store.insertPlanSubmission("gone", { fingerprint: "f", taskKeys: {} }, "t")
          throw notFound
        },
        () => Effect.succeed("never")
      )
    )
    expect(failed).toEqual(Exit.fail(notFound))
    expect(await Effect.runPromise(runner.read((store) => store.getPlanSubmission("gone")))).toBeNull()
    const died = await Effect.runPromiseExit(
      runner.read(function* () {
        throw new Error("bug")
      })
    )
    expect(Exit.isFailure(died) && Cause.isDie(died.cause)).toBe(true)
  })

  it("writes one at a time under the write lock by default (claims share it), or SERIALIZABLE on request", async () => {
    // The lock the transaction holds once the rule took its first step: a claim's (expired leases) or another.
    const inside = (runner: ReturnType<typeof makePostgresRunner>, claim: boolean) =>
      Effect.runPromise(
        runner.write(
          function* (store) {
            if (claim) yield* store.expiredLeases("2000-01-01T00:00:00.000Z")
            else yield* store.statusCounts()
            const rows = yield* (store as unknown as PgTaskRepository).rows<{ iso: string; lock: string | null }>(
              `SELECT current_setting('transaction_isolation') AS iso,
                 (SELECT mode FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND objid = $1) AS lock`,
              [WRITE_LOCK]
            )
            return rows[0]
          },
          Effect.succeed,
          claim ? "claim" : "write"
        )
      )
    expect(await inside(makePostgresRunner(pool), false)).toEqual({ iso: "read committed", lock: "ExclusiveLock" })
    expect(await inside(makePostgresRunner(pool), true)).toEqual({ iso: "read committed", lock: "ShareLock" })
    expect(await inside(makePostgresRunner(pool, { claims: "exclusive" }), true)).toEqual({ iso: "read committed", lock: "ExclusiveLock" })
    expect(await inside(makePostgresRunner(pool, { writes: "serializable" }), true)).toEqual({ iso: "serializable", lock: null })
  })

  it("lets the server end a write that hangs, so the write lock goes to the next writer", async () => {
    const handle = await openPostgres({ url, idleInTransactionTimeoutMs: 300 })
    try {
      const hung = Effect.runPromiseExit(
        handle.runner.write(function* (store) {
          yield* store.countChildren("x")
          yield new Promise((resolve) => setTimeout(resolve, 1500)) // the process stalls inside the transaction
          return yield* store.countChildren("x")
        }, Effect.succeed)
      )
      const next = await Effect.runPromise(handle.runner.write((store) => store.countChildren("y"), Effect.succeed))
      expect(next).toBe(0)
      const exit = await hung
      expect(Exit.isFailure(exit) && Cause.isDie(exit.cause)).toBe(true)
    } finally {
      await handle.close()
    }
  })

  it("reads in a read-only transaction", async () => {
    const runner = makePostgresRunner(pool)
    const exit = await Effect.runPromiseExit(runner.read((store) => store.insertPlanSubmission("ro", { fingerprint: "f", taskKeys: {} }, "t")))
    expect(Exit.isFailure(exit) && Cause.isDie(exit.cause)).toBe(true)
    expect(String(Cause.squash((exit as Exit.Failure<unknown, unknown>).cause))).toMatch(/read-only transaction/)
  })

  it("opens a database by URL (migrated), and the layer closes its pool", async () => {
    expect([isPostgresUrl(url), isPostgresUrl("postgresql://h/db"), isPostgresUrl("./abathur.db")]).toEqual([true, true, false])
    const handle = await openPostgres({ url })
    expect(handle.migration.applied).toEqual([])
    await handle.close()
    const program = Effect.flatMap(Postgres, (pg) => pg.runner.read(count))
    expect(await Effect.runPromise(Effect.scoped(Effect.provide(program, Postgres.layer({ url }))))).toBe(0)
    const bad = new URL(url)
    bad.pathname = "/no_such_database"
    const exit = await Effect.runPromiseExit(Effect.scoped(Effect.provide(program, Postgres.layer({ url: bad.toString() }))))
    expect(exit).toMatchObject({ _tag: "Failure" })
    expect(String(Cause.squash((exit as Exit.Failure<unknown, unknown>).cause))).toMatch(/PostgresOpenError|no_such_database/)
  })
})
