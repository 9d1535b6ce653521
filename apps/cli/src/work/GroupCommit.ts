import type { ClaimedTask } from "@abathur/domain"
import { Deferred, Effect, Either } from "effect"
import type { ClaimRequest, Completion, WorkBackend, WorkError } from "./Backend.js"
import { describe, guard, short } from "./LeaseKeeper.js"
import type { LogLevel } from "./WorkerPool.js"

/**
 * Group commit of the worker pool's completions: children that finish close together are reported
 * in one `completeMany` (one transaction, one commit) instead of one transaction each. The first
 * completion to arrive waits a few milliseconds at most, and only while other children of the pool
 * could still join it; what joined meanwhile goes in the same batch. A refused batch (a lost
 * lease, a busy database) is reported again one task at a time, so that one task's refusal does
 * not lose the others' results. Backends without `completeMany` (HTTP) complete one by one.
 */

export interface GroupCommitOptions {
  /** How long the first completion of a batch waits for others at most. */
  readonly windowMs: number
  /** How many other reports may still join the batch (children running or exiting). */
  readonly others: (gathered: number) => number
  /** How many tasks the batch may claim next, when `wanted` of its completions asked for one (0: none). */
  readonly nextLimit: (wanted: number) => number
  readonly request: ClaimRequest
  readonly log: (level: LogLevel, message: string) => Effect.Effect<void>
}

/** Completes a task; with `next`, asks for the slot's next task (null: none was ready; undefined: none was claimed for it). */
export type Complete = (completion: Completion, next: boolean) => Effect.Effect<ClaimedTask | null | undefined, WorkError>

/** What a batch answers a completion: its next task, or "report it alone". */
type Outcome = { readonly batched: true; readonly next: ClaimedTask | null | undefined } | { readonly batched: false }

interface Waiting {
  readonly completion: Completion
  readonly next: boolean
  readonly done: Deferred.Deferred<Outcome>
}

export const makeGroupCommit = (backend: WorkBackend, options: GroupCommitOptions): Complete => {
  const single: Complete = (c, next) => backend.complete(c.id, c.leaseToken, c.result, next ? options.request : undefined)
  const completeMany = backend.completeMany
  if (completeMany === undefined) return single
  /** The batch gathering now; its first member leads it (waits, then commits it). */
  let gathering: Array<Waiting> = []

  /** Commits a batch of two or more in one transaction; a refusal sends each back to report alone. */
  const commit = (batch: ReadonlyArray<Waiting>) =>
    Effect.gen(function* () {
      const wanted = batch.filter((w) => w.next).length
      const limit = wanted === 0 ? 0 : options.nextLimit(wanted)
      const r = yield* Effect.either(
        guard(
          completeMany(
            batch.map((w) => w.completion),
            limit > 0 ? { request: options.request, limit } : undefined
          )
        )
      )
      if (Either.isLeft(r)) {
        yield* options.log("debug", `${batch.length} completions refused as one batch (${describe(r.left)}): reporting them one by one`)
        for (const w of batch) yield* Deferred.succeed(w.done, { batched: false })
        return
      }
      yield* options.log("debug", `${batch.length} tasks completed in one transaction: ${batch.map((w) => short(w.completion.id)).join(", ")}`)
      const claimed = [...r.right]
      for (const w of batch) {
        const next = w.next && limit > 0 ? (claimed.shift() ?? null) : undefined
        yield* Deferred.succeed(w.done, { batched: true, next })
      }
    })

  /** The leader: waits (at most the window) while others may join, then takes the batch and commits it. */
  const lead = Effect.gen(function* () {
    yield* Effect.yieldNow()
    const deadline = Date.now() + options.windowMs
    while (options.others(gathering.length) > 0 && Date.now() < deadline) yield* Effect.sleep(1)
    const batch = gathering
    gathering = []
    if (batch.length === 1) yield* Deferred.succeed(batch[0]!.done, { batched: false })
    else yield* commit(batch)
  })

  return (completion, next) =>
    Effect.gen(function* () {
      const done = yield* Deferred.make<Outcome>()
      gathering.push({ completion, next, done })
      if (gathering.length === 1) yield* Effect.uninterruptible(lead)
      const outcome = yield* Deferred.await(done)
      return outcome.batched ? outcome.next : yield* single(completion, next)
    })
}
