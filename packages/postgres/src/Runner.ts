/**
 * The PostgreSQL runner of the store seam: runs the queue's rules (generators over the store) in
 * transactions on a pool. Its shape is the queue's `StoreRunnerService` (packages/queue,
 * Store.ts): `Layer.succeed(StoreRunner, makePostgresRunner(pool))` makes the queue run on
 * PostgreSQL.
 */
import { type QueueError, ruleFailure, type WriteKind } from "@abathur/queue"
import { Effect, Either } from "effect"
import type pg from "pg"
import type { Step, StoreSteps } from "./Step.js"
import { type Isolation, runTransaction } from "./Transaction.js"

/** A rule as a runner takes it: a new generator over the store at the instant `now` (the queue's `Rule`). */
export type Rule<A> = (store: StoreSteps, now: number) => Step<A>

/** The queue's `StoreRunnerService`, structurally. */
export interface PostgresRunnerService {
  readonly write: <A, B>(rule: Rule<A>, committed: (result: A) => Effect.Effect<B, QueueError>, kind?: WriteKind) => Effect.Effect<B, QueueError>
  readonly read: <A>(rule: Rule<A>) => Effect.Effect<A, QueueError>
  readonly dataVersion: () => Effect.Effect<number>
}

/**
 * How writes run (see the README, "Isolation"): `serial` (the default), one writer at a time across
 * every server under an advisory lock, at READ COMMITTED, never a conflict; `serializable`,
 * overlapping SERIALIZABLE transactions, the losers of a conflict retried.
 */
export type WriteMode = "serial" | "serializable"

export interface PostgresRunnerOptions {
  readonly writes?: WriteMode
  /**
   * With `serial` writes: `shared` (the default), claims and finishes (complete, heartbeat) hold the
   * write lock shared, beside each other and never beside another write (README, "Isolation");
   * `exclusive`, one at a time like every other write.
   */
  readonly claims?: "shared" | "exclusive"
  /** Attempts of a write before a serialization failure is given up (default 100). */
  readonly maxAttempts?: number
  /** Called on each retry (metrics). */
  readonly onRetry?: (attempt: number, error: unknown) => void
}

export const makePostgresRunner = (pool: pg.Pool, options: PostgresRunnerOptions = {}): PostgresRunnerService => {
  const attempt = <A>(run: () => Promise<A>) => Effect.either(Effect.tryPromise({ try: run, catch: (error) => error }))

  const writeOptions: { isolation: Isolation; writeLock: boolean } =
    options.writes === "serializable" ? { isolation: "SERIALIZABLE", writeLock: false } : { isolation: "READ COMMITTED", writeLock: true }
  const sharedWrites = options.writes !== "serializable" && options.claims !== "exclusive"

  return {
    /**
     * One transaction per rule (see `WriteMode`; a `claim` or `finish` holds the write lock shared
     * unless claims are `exclusive`); the time a rule runs at is read once BEGIN (and the write lock) are done,
     * and a serialization failure or deadlock reruns the rule. Uninterruptible: a
     * committed change is always published through `committed`.
     */
    write: (rule, committed, kind) =>
      Effect.clockWith((clock) =>
        Effect.uninterruptible(
          Effect.flatMap(
            attempt(() =>
              runTransaction(pool, (store) => rule(store, clock.unsafeCurrentTimeMillis()), {
                ...writeOptions,
                shared: sharedWrites && (kind === "claim" || kind === "finish"),
                ...(options.maxAttempts !== undefined && { maxAttempts: options.maxAttempts }),
                ...(options.onRetry !== undefined && { onRetry: options.onRetry })
              })
            ),
            Either.match({ onLeft: ruleFailure, onRight: committed })
          )
        )
      ),

    /** One REPEATABLE READ, READ ONLY transaction: every read of the rule sees one snapshot, and it never conflicts. */
    read: (rule) =>
      Effect.clockWith((clock) =>
        Effect.flatMap(
          attempt(() =>
            runTransaction(pool, (store) => rule(store, clock.unsafeCurrentTimeMillis()), { isolation: "REPEATABLE READ", readOnly: true })
          ),
          Either.match({ onLeft: ruleFailure, onRight: Effect.succeed })
        )
      ),

    /**
     * Changes whenever a transaction that wrote commits (or aborts) anywhere on the server: the
     * xmax of a fresh snapshot, one past the newest completed transaction id. It may change without
     * a change to the queue, never the other way round.
     */
    dataVersion: () =>
      Effect.orDie(
        Effect.tryPromise(async () => {
          const res = await pool.query<{ v: string }>("SELECT pg_snapshot_xmax(pg_current_snapshot())::text AS v")
          return Number(res.rows[0]!.v)
        })
      )
  }
}
