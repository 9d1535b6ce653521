import { type ClaimedTask, MAX_CLAIM_WAIT_SECONDS } from "@abathur/domain"
import { Effect, type Scope } from "effect"
import type { QueueError } from "./QueueError.js"

/**
 * A claim that waits for work (`waitSeconds`): the HTTP long poll and MCP `task_claim` both run
 * this one loop, each with the wake-ups its host has.
 */

/**
 * What a waiting claim waits on between attempts. `next` is taken *before* each claim attempt;
 * when the attempt finds nothing, the claim waits on what it returned for at most `millis`, so
 * that a task made ready between the attempt and the wait is not missed. The wait answers `false`
 * to stop waiting early (the host is shutting down): the claim then returns no task.
 */
export interface WorkSignal {
  readonly next: Effect.Effect<(millis: number) => Effect.Effect<boolean>>
}

/**
 * Opens a work signal for one waiting claim, in the scope of that claim (held until it ends): a
 * host that knows when work arrives (the HTTP server wakes on commits, lease expiries and
 * `notBefore` instants) passes its own; the default, `pollForWork()`, sleeps 250 ms between attempts.
 */
export type WaitForWork = Effect.Effect<WorkSignal, never, Scope.Scope>

/** The fallback: retry every `intervalMillis` (stdio `abathur mcp` has no wake-ups of its own). */
export const pollForWork = (intervalMillis = 250): WaitForWork =>
  Effect.succeed({
    next: Effect.succeed((millis: number) => Effect.as(Effect.sleep(Math.min(intervalMillis, Math.max(1, millis))), true))
  })

/** How a claim waits: on what (default `pollForWork()`), and who watches each attempt (metrics). */
export interface ClaimWaitOptions {
  readonly waitForWork?: WaitForWork | undefined
  /** Called with what each attempt claimed ([] when nothing was ready). */
  readonly onAttempt?: ((claimed: ReadonlyArray<ClaimedTask>) => void) | undefined
}

/**
 * Runs `attempt` until it claims something or `waitSeconds` (at most MAX_CLAIM_WAIT_SECONDS) have
 * passed, waiting on `waitForWork` between attempts; without a wait, one attempt. Each attempt is
 * uninterruptible: a client that goes away mid-claim must not cut a claim between its commit and
 * the publication of its changes. Answers the tasks of the attempt that found some, else [].
 */
export const claimWaiting = (
  attempt: Effect.Effect<Array<ClaimedTask>, QueueError>,
  waitSeconds: number,
  waitForWork: WaitForWork
): Effect.Effect<Array<ClaimedTask>, QueueError> => {
  const claim = Effect.uninterruptible(attempt)
  if (!(waitSeconds > 0)) return claim
  return Effect.gen(function* () {
    const deadline = Date.now() + Math.min(waitSeconds, MAX_CLAIM_WAIT_SECONDS) * 1000
    const signal = yield* waitForWork
    for (;;) {
      const wait = yield* signal.next
      const claimed = yield* claim
      const left = deadline - Date.now()
      if (claimed.length > 0 || left <= 0) return claimed
      if (!(yield* wait(left))) return []
    }
  }).pipe(Effect.scoped)
}
