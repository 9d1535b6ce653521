/**
 * The SQLite side of the store seam (Store.ts): the repository's synchronous methods as steps
 * that never yield, a driver that runs a rule to its end in one `next()`, and the runner that
 * does so inside the repository's transactions, alone or in group commits.
 */
import { TaskRepository } from "@abathur/storage"
import { Clock, Effect, Layer } from "effect"
import { QueueConfig } from "./QueueConfig.js"
import type { QueueError } from "./QueueError.js"
import { type Repository, type Rule, ruleFailure, type Step, storeMethods, StoreRunner, type StoreRunnerService, type TaskStore } from "./Store.js"

/** The repository's methods as steps that never yield (built once per repository). */
export const sqliteStore = (repo: Repository): TaskStore => {
  const store: Record<string, (...args: Array<unknown>) => Step<unknown>> = {}
  for (const name of storeMethods) {
    const method = repo[name] as (...args: Array<unknown>) => unknown
    store[name] = function* (...args) {
      return method(...args)
    }
  }
  return store as unknown as TaskStore
}

/** Runs a step over a synchronous store to its end. */
export const runSync = <A>(step: Step<A>): A => {
  const r = step.next()
  if (r.done !== true) throw new Error("a synchronous store yielded")
  return r.value
}

/**
 * The runner over the SQLite repository. Each write is one `BEGIN IMMEDIATE` transaction; with
 * `groupCommit`, the writes queued in one turn of the event loop share one, each in a savepoint
 * of its own (rolled back alone when its rule throws).
 */
export const makeSqliteRunner = (repo: Repository, options: { readonly groupCommit?: boolean | undefined } = {}): StoreRunnerService => {
  const store = sqliteStore(repo)

  /**
   * Runs a rule in one write transaction at the current time; hands its result to `committed`.
   * The time is read once the write lock is held: another process may hold it for a while
   * (busy_timeout), and times read before the wait would run behind that process's commits.
   */
  const writeAlone = <A, B>(rule: Rule<A>, committed: (result: A) => Effect.Effect<B, QueueError>): Effect.Effect<B, QueueError> =>
    Effect.clockWith((clock) =>
      // Uninterruptible: a committed change is always published.
      Effect.uninterruptible(Effect.suspend(() => {
        let result: A
        try {
          result = repo.transaction(() => runSync(rule(store, clock.unsafeCurrentTimeMillis())))
        } catch (error) {
          return ruleFailure(error)
        }
        return committed(result)
      }))
    )

  // Group commit: operations queued in this turn of the event loop, run together at its end.
  interface Pending {
    readonly rule: Rule<unknown>
    readonly committed: (result: unknown) => Effect.Effect<unknown, QueueError>
    readonly clock: Clock.Clock
    readonly resume: (outcome: Effect.Effect<unknown, QueueError>) => void
  }
  let pending: Array<Pending> = []
  const flush = (): void => {
    const ops = pending
    pending = []
    const outcomes: Array<{ ok: true; value: unknown } | { ok: false; error: unknown }> = []
    try {
      repo.transaction(() => {
        for (const op of ops) {
          try {
            // Nested: a savepoint, rolled back alone when the operation throws.
            const value = repo.transaction(() => runSync(op.rule(store, op.clock.unsafeCurrentTimeMillis())))
            outcomes.push({ ok: true, value })
          } catch (error) {
            outcomes.push({ ok: false, error })
          }
        }
      })
    } catch (error) {
      // The lock or the commit failed: nothing of the batch was committed.
      for (const op of ops) op.resume(ruleFailure(error))
      return
    }
    ops.forEach((op, i) => {
      const o = outcomes[i]!
      op.resume(o.ok ? op.committed(o.value) : ruleFailure(o.error))
    })
  }
  const writeGrouped = <A, B>(rule: Rule<A>, committed: (result: A) => Effect.Effect<B, QueueError>): Effect.Effect<B, QueueError> =>
    Effect.clockWith((clock) =>
      Effect.uninterruptible(
        Effect.async<B, QueueError>((resume) => {
          pending.push({ rule, committed: committed as Pending["committed"], clock, resume: resume as Pending["resume"] })
          if (pending.length === 1) setImmediate(flush)
        })
      )
    )

  /** Runs a rule against one read snapshot. */
  const read = <A>(rule: Rule<A>): Effect.Effect<A, QueueError> =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Effect.suspend(() => {
        try {
          return Effect.succeed(repo.read(() => runSync(rule(store, now))))
        } catch (error) {
          return ruleFailure(error)
        }
      })
    )

  return {
    write: options.groupCommit === true ? writeGrouped : writeAlone,
    read,
    dataVersion: () => Effect.sync(() => repo.dataVersion())
  }
}

/** The SQLite runner, over the TaskRepository service (group commit as QueueConfig says). */
export const SqliteRunner: Layer.Layer<StoreRunner, never, TaskRepository | QueueConfig> = Layer.effect(
  StoreRunner,
  Effect.gen(function* () {
    const repo = yield* TaskRepository
    const settings = yield* QueueConfig
    return makeSqliteRunner(repo, { groupCommit: settings.groupCommit })
  })
)
