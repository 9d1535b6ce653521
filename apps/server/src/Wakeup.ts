import { TaskQueue, type WaitForWork, type WorkSignal } from "@abathur/queue"
import { Context, Deferred, Effect, Exit, FiberId, Layer, PubSub, Queue, type Scope } from "effect"
import type { ChangeFeed } from "./Store.js"

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
 *   On PostgreSQL (`feed`), other servers' commits are announced by LISTEN/NOTIFY instead (a task
 *   became READY anywhere, or entered RUNNING with a lease): nothing polls.
 * - Expiring leases: a RUNNING task whose lease expires becomes claimable (the next claim
 *   recovers it) without any commit at that instant. While someone is interested, one fiber
 *   sleeps until the earliest lease expiry and then wakes everyone; it reads the expiry again
 *   whenever a task enters or leaves RUNNING here, or another process commits (on PostgreSQL:
 *   makes a task READY, or takes a lease).
 * - Delayed starts: a READY task waiting for its `notBefore` (a delayed submit or a retry
 *   backoff) becomes claimable at that instant, again without a commit. A second fiber sleeps
 *   until the earliest such instant, the same way (read again when a task enters or leaves
 *   READY here, or another process commits). No polling: each watch is one timer.
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
  /** Counts a waiting claim (HTTP long poll or MCP `task_claim`) while the scope is open. */
  readonly waiting: Effect.Effect<void, never, Scope.Scope>
  /** How many claims are waiting right now. */
  readonly waitingClaims: () => number
}

export class Wakeup extends Context.Tag("@abathur/server/Wakeup")<Wakeup, WakeupService>() {
  static readonly layer = (
    options: { readonly pollMillis?: number; readonly feed?: ChangeFeed | null } = {}
  ): Layer.Layer<Wakeup, never, TaskQueue> =>
    Layer.scoped(
      Wakeup,
      Effect.gen(function* () {
        const queue = yield* TaskQueue
        const pollMillis = options.pollMillis ?? 50
        let current = yield* Deferred.make<void>()
        const wakeNow = (): void => {
          const d = current
          current = Deferred.unsafeMake<void>(FiberId.none)
          Deferred.unsafeDone(d, Exit.void)
        }
        const wake = Effect.sync(wakeNow)

        let interested = 0
        let started = yield* Deferred.make<void>()
        // Tells the lease watch to read the earliest expiry again (at most one pending).
        const leasePokes = yield* Queue.sliding<void>(1)
        // Tells the delayed-start watch to read the earliest notBefore again.
        const delayPokes = yield* Queue.sliding<void>(1)
        const poke = Effect.zipRight(Queue.offer(leasePokes, undefined), Queue.offer(delayPokes, undefined))

        // In-process changes.
        // Checked synchronously after each commit: no fiber runs for a commit that wakes nobody.
        yield* queue.onCommit((batch) => {
          let ready = false
          let leases = false
          let delays = false
          for (const c of batch) {
            if (c.to === "ready") ready = true
            if (c.to === "running" || c.from === "running") leases = true
            if (c.to === "ready" || c.from === "ready") delays = true
          }
          if (ready) wakeNow()
          if (leases && interested > 0) Queue.unsafeOffer(leasePokes, undefined)
          if (delays && interested > 0) Queue.unsafeOffer(delayPokes, undefined)
        })

        // Other processes' commits, watched only while someone is interested.
        const externalHub = yield* PubSub.sliding<number>(16)
        if (options.feed != null) {
          // Announced (PostgreSQL's LISTEN/NOTIFY): no polling; a counter stands for the version.
          let heard = 0
          yield* options.feed(
            () => {
              heard++
              wakeNow()
              Queue.unsafeOffer(leasePokes, undefined)
              Queue.unsafeOffer(delayPokes, undefined)
              externalHub.unsafeOffer(heard)
            },
            // A lease taken on another server: read the earliest expiry again (nobody is woken now).
            () => Queue.unsafeOffer(leasePokes, undefined)
          )
        }
        let last = options.feed != null ? 0 : yield* queue.dataVersion()
        const watch = Effect.gen(function* () {
          for (;;) {
            if (interested === 0) yield* Deferred.await(started)
            const v = yield* queue.dataVersion()
            if (v !== last) {
              last = v
              yield* wake
              yield* poke
              yield* PubSub.publish(externalHub, v)
            }
            yield* Effect.sleep(pollMillis)
          }
        })
        if (options.feed == null) yield* Effect.forkScoped(watch)

        // Expiring leases (and delayed starts), watched only while someone is interested. `fired`
        // is the instant that last woke everyone: a lease that expired but that no claim
        // recovered (nobody waiting claims) is not fired again until something changes.
        const instantWatch = (nextInstant: () => Effect.Effect<string | null, unknown>, pokes: Queue.Queue<void>) =>
          Effect.gen(function* () {
            let fired: string | null = null
            for (;;) {
              if (interested === 0) yield* Deferred.await(started)
              const at = yield* Effect.orElseSucceed(nextInstant(), () => null)
              const due = at === null || at === fired ? Number.NaN : Date.parse(at)
              if (Number.isNaN(due)) {
                yield* Queue.take(pokes)
                continue
              }
              // 1 ms past the instant: the claim takes what is due at or before its time.
              const expired = yield* Effect.raceFirst(
                Effect.as(Effect.sleep(Math.max(0, due - Date.now()) + 1), true),
                Effect.as(Queue.take(pokes), false)
              )
              if (expired) {
                fired = at
                yield* wake
              }
            }
          })
        yield* Effect.forkScoped(instantWatch(() => queue.nextLeaseExpiry(), leasePokes))
        yield* Effect.forkScoped(instantWatch(() => queue.nextNotBefore(), delayPokes))

        const interest = Effect.acquireRelease(
          Effect.suspend(() => {
            interested++
            return interested === 1 ? Effect.zipRight(Deferred.succeed(started, undefined), poke) : Effect.void
          }),
          () =>
            Effect.sync(() => {
              interested--
              if (interested === 0) started = Deferred.unsafeMake<void>(FiberId.none)
            })
        ).pipe(Effect.asVoid)

        let waitingClaims = 0
        const service: WakeupService = {
          next: Effect.sync(() => Deferred.await(current)),
          interest,
          external: PubSub.subscribe(externalHub),
          interested: () => interested,
          waiting: Effect.acquireRelease(
            Effect.sync(() => {
              waitingClaims++
            }),
            () =>
              Effect.sync(() => {
                waitingClaims--
              })
          ),
          waitingClaims: () => waitingClaims
        }
        return service
      })
    )
}

/** Completed when the server begins to shut down: long polls answer 204, event streams end. */
export class Shutdown extends Context.Tag("@abathur/server/Shutdown")<Shutdown, Deferred.Deferred<void>>() {
  static readonly layer: Layer.Layer<Shutdown> = Layer.effect(Shutdown, Deferred.make<void>())
}

/**
 * What one waiting claim (an HTTP long poll, or MCP `task_claim` with `waitSeconds`) waits on,
 * for the claim's scope: it counts as interested and waiting, and each wait ends at the next
 * wake-up, after `millis`, or at a shutdown (then `false`: the claim gives up, no task).
 */
export const workSignal: Effect.Effect<WorkSignal, never, Wakeup | Shutdown | Scope.Scope> = Effect.gen(function* () {
  const wakeup = yield* Wakeup
  const shutdown = yield* Shutdown
  yield* wakeup.interest
  yield* wakeup.waiting
  return {
    next: Effect.map(
      wakeup.next,
      (signal) => (millis: number) =>
        Effect.raceAll([Effect.as(signal, true), Effect.as(Effect.sleep(millis), true), Effect.as(Deferred.await(shutdown), false)])
    )
  }
})

/**
 * The claims' wait (HTTP long polls and MCP `task_claim` with `waitSeconds`), on this server's
 * wake-ups (its own commits, other processes' commits, lease expiries, delayed starts) instead of polling.
 * It takes the two services only: the signal lives in the scope of the claim that waits (the whole
 * context would carry the caller's Scope, and the waiting claim would count until that one closed).
 */
export const waitForWork: Effect.Effect<WaitForWork, never, Wakeup | Shutdown> = Effect.map(
  Effect.all([Wakeup, Shutdown]),
  ([wakeup, shutdown]): WaitForWork => Effect.provide(workSignal, Context.make(Wakeup, wakeup).pipe(Context.add(Shutdown, shutdown)))
)
