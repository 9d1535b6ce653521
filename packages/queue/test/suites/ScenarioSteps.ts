/** Steps the scenario suites share (Scenarios.ts, ClaimsAndReads.ts). */
import { expect } from "@effect/vitest"
import { Effect } from "effect"
import { TaskQueue } from "../../src/TaskQueue.js"

export const ids = (tasks: Record<string, { id: string }>, ...keys: Array<string>) => keys.map((k) => tasks[k]!.id)

/** Claims until `id` comes up, completes it, and gives back the tasks claimed on the way. */
export const run = (id: string) =>
  Effect.gen(function* () {
    const q = yield* TaskQueue
    const held: Array<{ id: string; leaseToken: string }> = []
    for (;;) {
      const c = yield* q.claim({ worker: "w" })
      expect(c).not.toBeNull()
      if (c!.id !== id) {
        held.push(c!)
        continue
      }
      const result = yield* q.complete(id, { leaseToken: c!.leaseToken })
      for (const h of held) yield* q.release(h.id, { leaseToken: h.leaseToken })
      return result
    }
  })
