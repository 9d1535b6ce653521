import type pg from "pg"
import { PgTaskRepository } from "./PgTaskRepository.js"
import { type Step, StoreMethodNames } from "./Step.js"

/**
 * The isolation of a transaction. The rules need serializable execution (README, "Isolation"):
 * SERIALIZABLE, or READ COMMITTED under the write lock (`writeLock`); anything else lets two
 * transactions that each read what the other writes both commit (write skew).
 */
export type Isolation = "SERIALIZABLE" | "REPEATABLE READ" | "READ COMMITTED"

export interface TransactionOptions {
  readonly isolation?: Isolation
  readonly readOnly?: boolean
  /**
   * Take the database's write lock (a transaction-level advisory lock) right after BEGIN: writers
   * run one at a time across every server, as on SQLite, so no rule ever conflicts with another
   * (with READ COMMITTED, each statement then sees every earlier writer's commit).
   */
  readonly writeLock?: boolean
  /**
   * With `writeLock`: this rule is a claim (the queue says so: `StoreRunner.write`'s `kind`), and
   * takes the write lock shared, so that claims run beside each other, deciding only on rows they
   * lock (`FOR UPDATE SKIP LOCKED`), and never beside any other writer. A claim that finds an
   * expired lease to recover (a cascade over many rows), or takes a step no claim takes (see
   * `CLAIM_METHODS`), rolls back and runs again under the exclusive lock.
   */
  readonly sharedClaim?: boolean
  /** Attempts before a serialization failure or deadlock is given up and thrown (default 100). */
  readonly maxAttempts?: number
  /** Called before each retry (attempt = the number of the attempt that failed), for metrics and tests. */
  readonly onRetry?: (attempt: number, error: unknown) => void
}

/** A serialization failure or a deadlock: the transaction was rolled back and may simply run again. */
export const isRetryable = (error: unknown): boolean => {
  const code = (error as { code?: unknown } | null)?.code
  return code === "40001" || code === "40P01"
}

/** A claim that needs the exclusive lock (see `sharedClaim`); never seen by callers. */
class Escalate extends Error {}

/** Runs one generator to its end, awaiting each promise it yields and resuming it with the result or the error. */
export const drive = async <A>(gen: Step<A>): Promise<A> => {
  let next = gen.next()
  while (!next.done) {
    let value: unknown
    try {
      value = await next.value
    } catch (error) {
      next = gen.throw(error)
      continue
    }
    next = gen.next(value)
  }
  return next.value
}

/** The advisory lock key of `writeLock` ('abaw'). */
export const WRITE_LOCK = 0x61626177

/**
 * The steps of a claim (the queue's `claim`: expired leases, due refreshes, heads, then the
 * head RUNNING with its audit row): what a rule holding the write lock shared may take. Each
 * decides on rows the claim has locked: the heads and due refreshes `FOR UPDATE SKIP LOCKED`,
 * `updateTask` and `setPriority` only on those, `countOpenDependents` on edges and statuses that
 * no claim changes (READY and RUNNING are both open); audit rows are appended and the status
 * counters kept per connection (task_stats' shards).
 */
export const CLAIM_METHODS: ReadonlySet<string> = new Set([
  "expiredLeases",
  "dueForRefresh",
  "countOpenDependents",
  "setPriority",
  "updateTask",
  "readyHeads",
  "getTask",
  "insertAudit"
])

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/**
 * Runs a rule over the store inside `BEGIN ISOLATION LEVEL ... / COMMIT` on one pooled client.
 * A serialization failure (40001) or deadlock (40P01), whether thrown by a statement or by
 * COMMIT, rolls back and runs a NEW generator of the rule from the start, after a short random
 * pause that doubles with each attempt (up to 100 ms): rules are pure over the store, so a rerun
 * is safe, and callers never see the failure. Any other error rolls back and is thrown.
 */
export const runTransaction = async <A>(pool: pg.Pool, rule: (store: PgTaskRepository) => Step<A>, options: TransactionOptions = {}): Promise<A> => {
  const begin = `BEGIN ISOLATION LEVEL ${options.isolation ?? "SERIALIZABLE"}${options.readOnly === true ? " READ ONLY" : ""}`
  const maxAttempts = options.maxAttempts ?? 100
  const client = await pool.connect()
  let broken: Error | undefined
  // The server may end the connection while it is checked out (idle_in_transaction_session_timeout,
  // a restart): node-postgres then emits "error" on the client, which must not crash the process;
  // the statement in flight fails on its own and the client is discarded.
  const lost = (error: Error): void => {
    broken = error
  }
  client.on("error", lost)
  // A claim that found work for the exclusive lock runs again under it.
  let exclusive = options.sharedClaim !== true
  try {
    for (let attempt = 1; ; attempt++) {
      // A retryable failure seen by any statement dooms the attempt, even if the rule caught it.
      let conflict: unknown
      // Likewise a claim that must run again under the exclusive lock.
      let escalate = false
      const watched: PgTaskRepository["client"] = {
        query: (text, values) =>
          client.query(text, values).catch((error: unknown) => {
            if (isRetryable(error)) conflict ??= error
            throw error
          })
      }
      try {
        await client.query(begin)
        const repo = new PgTaskRepository(watched)
        let value: A
        if (options.writeLock === true && !exclusive) {
          await client.query("SELECT pg_advisory_xact_lock_shared($1)", [WRITE_LOCK])
          // Under the shared lock, only a claim's steps, and no expired lease to recover.
          const claimOnly = Object.create(repo) as PgTaskRepository
          const steps = claimOnly as unknown as Record<string, (...args: Array<unknown>) => Step<unknown>>
          for (const method of StoreMethodNames) {
            const step = (repo as unknown as Record<string, (...args: Array<unknown>) => Step<unknown>>)[method]!
            steps[method] = function* (...args: Array<unknown>): Step<unknown> {
              if (!CLAIM_METHODS.has(method)) {
                escalate = true
                throw new Escalate(`a claim's rule took the step ${method}`)
              }
              const result = yield* step.apply(repo, args)
              if (method === "expiredLeases" && (result as Array<unknown>).length > 0) {
                escalate = true
                throw new Escalate("expired leases to recover")
              }
              return result
            }
          }
          value = await drive(rule(claimOnly))
        } else {
          if (options.writeLock === true) await client.query("SELECT pg_advisory_xact_lock($1)", [WRITE_LOCK])
          value = await drive(rule(repo))
        }
        if (escalate) throw new Escalate("escalated")
        if (conflict !== undefined) throw conflict
        await client.query("COMMIT")
        return value
      } catch (error) {
        try {
          await client.query("ROLLBACK")
        } catch (rollbackError) {
          broken = rollbackError as Error
          throw error
        }
        if (escalate) {
          exclusive = true
          continue
        }
        const cause = conflict ?? error
        if (!isRetryable(cause) || attempt >= maxAttempts) throw error
        options.onRetry?.(attempt, cause)
        await sleep(Math.random() * Math.min(100, 2 ** attempt))
      }
    }
  } finally {
    client.off("error", lost)
    client.release(broken)
  }
}
