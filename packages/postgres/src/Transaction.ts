import type { ClaimOutlook } from "@abathur/storage"
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
   * With `writeLock`: this rule is a claim or a finish (the queue says so: `StoreRunner.write`'s
   * `kind`), and takes the write lock shared, so that claims, completions and heartbeats run beside
   * each other, deciding only on rows they lock (heads `FOR UPDATE SKIP LOCKED`, every task they
   * read `FOR UPDATE`), and never beside any other writer. A rule that finds an expired lease to
   * recover or an edge to resolve (a cascade over other tasks' rows), or takes a step outside
   * `SHARED_METHODS` (e.g. a parent's counters), rolls back and runs again under the exclusive lock.
   */
  readonly shared?: boolean
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

/**
 * A prepared statement whose cached plan PostgreSQL refuses because its result columns changed
 * ("cached plan must not change result type", 0A000): another process changed the schema (a newer
 * version migrating) since this connection prepared it. The connection is replaced and the
 * transaction rerun; a fresh connection prepares every statement again.
 */
export const isStalePlan = (error: unknown): boolean => {
  const { code, routine, message } = (error ?? {}) as { code?: unknown; routine?: unknown; message?: unknown }
  return code === "0A000" && (routine === "RevalidateCachedQuery" || (typeof message === "string" && message.includes("cached plan")))
}

/** A shared rule that needs the exclusive lock (see `shared`); never seen by callers. */
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
 * The steps a rule holding the write lock shared may take: a claim's (expired leases, due
 * refreshes, heads, then the head RUNNING with its audit row) and a finish's on a task without a
 * parent (the task read and updated, its audit row, its edges resolved). Each decides on rows the
 * rule has locked: the heads and due refreshes `FOR UPDATE SKIP LOCKED` (`crossHorizons` locks
 * its own so), every `getTask` `FOR UPDATE`, `updateTask` and `setPriority` only on those, `countOpenDependents` on edges and
 * statuses that no shared rule changes (READY and RUNNING are both open); audit rows are appended
 * and the status counters kept per connection (task_stats' shards). `expiredLeases` or
 * `claimOutlook` that finds a lease and `resolveEdges` that resolves an edge escalate (see `shared`).
 */
export const SHARED_METHODS: ReadonlySet<string> = new Set([
  "expiredLeases",
  "dueForRefresh",
  "crossHorizons",
  "countOpenDependents",
  "setPriority",
  "updateTask",
  "readyHeads",
  "claimOutlook",
  "getTask",
  "insertAudit",
  "resolveEdges"
])

/** The shared steps that escalate when they find work beyond the rule's own rows: why, or null. */
const ESCALATING: Readonly<Record<string, (result: unknown) => string | null>> = {
  expiredLeases: (ids) => ((ids as Array<unknown>).length > 0 ? "expired leases to recover" : null),
  claimOutlook: (outlook) => ((outlook as ClaimOutlook).expired.length > 0 ? "expired leases to recover" : null),
  resolveEdges: (ids) => ((ids as Array<unknown>).length > 0 ? "edges to resolve" : null)
}

type AnyStep = (...args: Array<unknown>) => Step<unknown>

/**
 * The repository as a rule under the shared write lock sees it (see `shared`): each step of
 * `SHARED_METHODS` runs as the repository's (`getTask` as `getTaskForUpdate`); any other step, or
 * an escalating step that finds work, marks it `escalated` and throws. The steps are defined once,
 * on the prototype.
 */
class SharedSteps extends PgTaskRepository {
  escalated = false
}
const base = PgTaskRepository.prototype as unknown as Record<string, AnyStep>
for (const method of StoreMethodNames) {
  const why = ESCALATING[method]
  const allowed = SHARED_METHODS.has(method)
  const step = method === "getTask" ? base["getTaskForUpdate"]! : base[method]!
  Object.defineProperty(SharedSteps.prototype, method, {
    value: function* (this: SharedSteps, ...args: Array<unknown>): Step<unknown> {
      if (!allowed) {
        this.escalated = true
        throw new Escalate(`a shared rule took the step ${method}`)
      }
      const result = yield* step.apply(this, args)
      const reason = why?.(result) ?? null
      if (reason !== null) {
        this.escalated = true
        throw new Escalate(reason)
      }
      return result
    }
  })
}

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
  let client = await pool.connect()
  let broken: Error | undefined
  // The server may end the connection while it is checked out (idle_in_transaction_session_timeout,
  // a restart): node-postgres then emits "error" on the client, which must not crash the process;
  // the statement in flight fails on its own and the client is discarded.
  const lost = (error: Error): void => {
    broken = error
  }
  client.on("error", lost)
  // The connection's prepared statements outlived a schema change: discard it, take another.
  let held = true
  const replace = async (stale: unknown): Promise<void> => {
    client.off("error", lost)
    client.release(stale instanceof Error ? stale : new Error("stale prepared statements"))
    held = false
    broken = undefined
    client = await pool.connect()
    held = true
    client.on("error", lost)
  }
  // A shared rule that found work for the exclusive lock runs again under it.
  let exclusive = options.shared !== true
  try {
    for (let attempt = 1; ; attempt++) {
      // A retryable failure seen by any statement dooms the attempt, even if the rule caught it.
      let conflict: unknown
      // Likewise a prepared statement whose plan went stale (see `isStalePlan`).
      let stale: unknown
      // Likewise a shared rule that must run again under the exclusive lock.
      let escalate = false
      const watched: PgTaskRepository["client"] = {
        query: (query, values) =>
          (typeof query === "string" ? client.query(query, values) : client.query(query)).catch((error: unknown) => {
            if (isRetryable(error)) conflict ??= error
            else if (isStalePlan(error)) stale ??= error
            throw error
          })
      }
      try {
        // BEGIN and the write lock in one round trip (one simple query; the key is a constant).
        const lock = options.writeLock !== true ? "" : exclusive ? "pg_advisory_xact_lock" : "pg_advisory_xact_lock_shared"
        await client.query(lock === "" ? begin : `${begin}; SELECT ${lock}(${WRITE_LOCK})`)
        let value: A
        if (options.writeLock === true && !exclusive) {
          // Under the shared lock, only the shared steps, each task read locked, no cascade.
          const shared = new SharedSteps(watched)
          try {
            value = await drive(rule(shared))
          } finally {
            escalate = shared.escalated
          }
        } else {
          value = await drive(rule(new PgTaskRepository(watched)))
        }
        if (escalate) throw new Escalate("escalated")
        if (conflict !== undefined) throw conflict
        if (stale !== undefined) throw stale
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
        if (stale !== undefined && conflict === undefined && attempt < maxAttempts) {
          options.onRetry?.(attempt, stale)
          await replace(stale)
          continue
        }
        const cause = conflict ?? error
        if (!isRetryable(cause) || attempt >= maxAttempts) throw error
        options.onRetry?.(attempt, cause)
        await sleep(Math.random() * Math.min(100, 2 ** attempt))
      }
    }
  } finally {
    if (held) {
      client.off("error", lost)
      client.release(broken)
    }
  }
}
