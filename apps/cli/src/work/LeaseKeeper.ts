import { Cause, Effect, Either } from "effect"
import { BackendError, isLost, type WorkBackend, type WorkError } from "./Backend.js"
import type { LogLevel } from "./WorkerPool.js"
import type { Entry } from "./TaskRun.js"

/**
 * The worker pool's leases: renewed while a task's command runs (every third of the lease), given
 * up when the queue says the task is no longer ours (its command is then stopped), and reports
 * (complete, fail, release) retried through transient errors of the backend.
 */

export const short = (id: string) => id.slice(0, 8)

/** Text for people from an error of the queue, the server or a defect. */
export const describe = (error: WorkError | Cause.Cause<WorkError>): string =>
  Cause.isCause(error) ? (Cause.pretty(error).split("\n")[0] ?? "unexpected failure") : `${error._tag}: ${error.message}`

/** Turns defects (e.g. SQLITE_BUSY past the busy timeout) into transient backend errors. */
export const guard = <A>(effect: Effect.Effect<A, WorkError>): Effect.Effect<A, WorkError> =>
  Effect.catchAllDefect(effect, (defect) =>
    Effect.fail(new BackendError({ message: defect instanceof Error ? defect.message : String(defect), transient: true }))
  )

export const transient = (error: WorkError) => error._tag === "BackendError" && error.transient

export interface LeaseKeeper {
  /** The task is no longer ours (`why`): stop its command; nothing is reported for it. */
  readonly lose: (entry: Entry, why: string) => Effect.Effect<void>
  /** Renews the entry's lease until interrupted (or until the task is lost). */
  readonly heartbeats: (entry: Entry, leaseSeconds: number) => Effect.Effect<void>
  /**
   * Runs a report until it is recorded or refused for good (transient errors are retried a few
   * times); a refusal is logged and returned.
   */
  readonly persist: <A>(what: string, entry: Entry, effect: Effect.Effect<A, WorkError>) => Effect.Effect<Either.Either<A, WorkError>>
}

export const makeLeaseKeeper = (
  backend: WorkBackend,
  log: (level: LogLevel, message: string) => Effect.Effect<void>,
  graceMs: number
): LeaseKeeper => {
  const lose = (entry: Entry, why: string) =>
    Effect.suspend(() => {
      if (entry.lost !== null || entry.exited) return Effect.void
      entry.lost = why
      entry.child?.terminate(graceMs)
      return log("warning", `task ${short(entry.task.id)} ${why}: stopping its command (process group ${entry.child?.pid ?? "?"})`)
    })

  const heartbeats = (entry: Entry, leaseSeconds: number) =>
    Effect.gen(function* () {
      const every = Math.min(60_000, Math.max(100, Math.floor((leaseSeconds * 1000) / 3)))
      while (true) {
        yield* Effect.sleep(every)
        const r = yield* Effect.either(guard(backend.heartbeat(entry.task.id, entry.task.leaseToken, leaseSeconds)))
        if (Either.isLeft(r)) {
          if (isLost(r.left)) return yield* lose(entry, `was cancelled or reclaimed (${r.left._tag}: ${r.left.message})`)
          yield* log("warning", `task ${short(entry.task.id)}: heartbeat failed, trying again: ${describe(r.left)}`)
        }
      }
    })

  const persist = <A>(what: string, entry: Entry, effect: Effect.Effect<A, WorkError>): Effect.Effect<Either.Either<A, WorkError>> =>
    Effect.gen(function* () {
      for (let attempt = 0; ; attempt++) {
        const r = yield* Effect.either(guard(effect))
        if (Either.isRight(r)) return r
        if (transient(r.left) && attempt < 8) {
          yield* log("warning", `task ${short(entry.task.id)}: could not ${what} yet (${describe(r.left)}); trying again`)
          yield* Effect.sleep(Math.min(5000, 100 * 2 ** attempt))
          continue
        }
        const why = isLost(r.left) ? "it was cancelled or reclaimed meanwhile" : describe(r.left)
        yield* log(isLost(r.left) ? "warning" : "error", `task ${short(entry.task.id)}: could not ${what}: ${why}`)
        return r
      }
    })

  return { lose, heartbeats, persist }
}
