import { TaskQueue } from "@abathur/queue"
import { Cause, Duration, Effect, Layer, Schedule } from "effect"

/** How often the server re-ranks what fell due while nobody claims (default). */
export const REFRESH_EVERY_MILLIS = 30_000

/**
 * Keeps the stored priorities current while the queue is idle: at start and then every
 * `everyMillis`, one write transaction re-ranks the tasks that fell due (`refreshPriorities`:
 * deadlines whose urgency rose a step, tasks crossing the starvation horizon). Claims do the same
 * first, but after a quiet night the first claim would re-rank everything that fell due during it
 * (at 100k READY tasks, seconds); done as it falls due, each step is small and no claim waits for
 * it. A failed step is logged and the next one runs on schedule.
 */
export const Refresher = {
  layer: (options: { readonly everyMillis?: number } = {}): Layer.Layer<never, never, TaskQueue> =>
    Layer.scopedDiscard(
      Effect.gen(function* () {
        const queue = yield* TaskQueue
        const step = queue.refreshPriorities().pipe(
          Effect.tap((n) => (n > 0 ? Effect.logDebug(`re-ranked ${n} waiting tasks that fell due`) : Effect.void)),
          Effect.catchAllCause((cause) => Effect.logWarning(`the background priority refresh failed: ${Cause.pretty(cause)}`))
        )
        yield* Effect.forkScoped(Effect.repeat(step, Schedule.spaced(Duration.millis(options.everyMillis ?? REFRESH_EVERY_MILLIS))))
      })
    )
}
