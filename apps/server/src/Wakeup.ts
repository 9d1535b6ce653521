import { TaskQueue } from "@abathur/queue"
import { Context, Deferred, Effect, FiberId, Layer, PubSub, Queue, type Scope } from "effect"

/**
 * Wakes long-poll claims when a task may have become ready, and tells event streams when
 * another process changed the database.
 *
 * - In-process: every state change this server commits is published by the queue service;
 *   a change to READY wakes the waiters at once.
 * - Other processes (the CLI, another server) commit to the same SQLite file: SQLite's
 *   `PRAGMA data_version` changes when another connection commits. While someone is
 *   interested (a waiting claim, an open event stream), one fiber reads it every
 *   `pollMillis` (a cheap in-memory check, not a claim) and wakes everyone when it moves.
 */
export interface WakeupService {
  /**
   * The next wake-up after this call. Take it *before* looking for work, then wait on it,
   * so that a task made ready in between is not missed.
   */
  readonly next: Effect.Effect<Effect.Effect<void>>
  /** Keeps the watch of other processes' commits running while the scope is open. */
  readonly interest: Effect.Effect<void, never, Scope.Scope>
  /** Notifications (the new data version) of commits made by other processes. */
  readonly external: Effect.Effect<Queue.Dequeue<number>, never, Scope.Scope>
  /** How many are interested right now (waiting claims and event streams). */
  readonly interested: () => number
}

export class Wakeup extends Context.Tag("@abathur/server/Wakeup")<Wakeup, WakeupService>() {
  static readonly layer = (options: { readonly pollMillis?: number } = {}): Layer.Layer<Wakeup, never, TaskQueue> =>
    Layer.scoped(
      Wakeup,
      Effect.gen(function* () {
        const queue = yield* TaskQueue
        const pollMillis = options.pollMillis ?? 50
        let current = yield* Deferred.make<void>()
        const wake = Effect.suspend(() => {
          const d = current
          current = Deferred.unsafeMake<void>(FiberId.none)
          return Deferred.succeed(d, undefined)
        })

        // In-process changes.
        const changes = yield* queue.subscribe
        yield* Effect.forkScoped(
          Effect.forever(
            Effect.flatMap(Queue.takeBetween(changes, 1, 4096), (batch) => {
              for (const c of batch) if (c.to === "ready") return wake
              return Effect.void
            })
          )
        )

        // Other processes' commits, watched only while someone is interested.
        const externalHub = yield* PubSub.sliding<number>(16)
        let interested = 0
        let started = yield* Deferred.make<void>()
        let last = yield* queue.dataVersion()
        const watch = Effect.gen(function* () {
          for (;;) {
            if (interested === 0) yield* Deferred.await(started)
            const v = yield* queue.dataVersion()
            if (v !== last) {
              last = v
              yield* wake
              yield* PubSub.publish(externalHub, v)
            }
            yield* Effect.sleep(pollMillis)
          }
        })
        yield* Effect.forkScoped(watch)

        const interest = Effect.acquireRelease(
          Effect.suspend(() => {
            interested++
            return interested === 1 ? Deferred.succeed(started, undefined) : Effect.void
          }),
          () =>
            Effect.sync(() => {
              interested--
              if (interested === 0) started = Deferred.unsafeMake<void>(FiberId.none)
            })
        ).pipe(Effect.asVoid)

        const service: WakeupService = {
          next: Effect.sync(() => Deferred.await(current)),
          interest,
          external: PubSub.subscribe(externalHub),
          interested: () => interested
        }
        return service
      })
    )
}

/** Completed when the server begins to shut down: long polls answer 204, event streams end. */
export class Shutdown extends Context.Tag("@abathur/server/Shutdown")<Shutdown, Deferred.Deferred<void>>() {
  static readonly layer: Layer.Layer<Shutdown> = Layer.effect(Shutdown, Deferred.make<void>())
}
