/**
 * What the queue gives every face (CLI, HTTP, MCP) alike: the claim that waits for work, the
 * priority explained with the configured weights, and plans adopted under a parent.
 */
import { defaultPrioritySettings, MAX_CLAIM_WAIT_SECONDS, PrioritySettings } from "@abathur/domain"
import { aNode, aTask } from "@abathur/testing"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Ref } from "effect"
import type { WaitForWork } from "../src/ClaimWaiting.js"
import { TaskQueue } from "../src/TaskQueue.js"
import { flip, testQueue } from "./TestQueue.js"

/** A work signal that counts its waits and wakes only when `wake` is completed. */
const manualSignal = Effect.gen(function* () {
  const waits = yield* Ref.make(0)
  const wake = yield* Deferred.make<void>()
  const signal: WaitForWork = Effect.succeed({
    next: Effect.succeed((millis: number) =>
      Effect.zipRight(
        Ref.update(waits, (n) => n + 1),
        Effect.raceFirst(Effect.as(Deferred.await(wake), true), Effect.as(Effect.sleep(Math.min(millis, 20_000)), true))
      )
    )
  })
  return { waits, wake, signal }
})

describe("claimWaiting: one claim-with-wait for HTTP and MCP", () => {
  it.live("waits for work, and takes the task made ready while it waited", () =>
    Effect.gen(function* () {
      const q = yield* TaskQueue
      const { waits, wake, signal } = yield* manualSignal
      const attempts: Array<number> = []
      const claiming = yield* Effect.fork(
        q.claimWaiting({ worker: "w", waitSeconds: 30 }, { waitForWork: signal, onAttempt: (claimed) => attempts.push(claimed.length) })
      )
      // It found nothing and waits on the signal.
      yield* Effect.repeat(Ref.get(waits), { until: (n) => n > 0 })
      const task = yield* q.submit(aTask())
      yield* Deferred.succeed(wake, undefined)
      const claimed = yield* Fiber.join(claiming)
      expect(claimed.map((t) => t.id)).toEqual([task.id])
      expect(claimed[0]!.leaseToken).not.toBe("")
      // Every attempt is seen (metrics count them): the empty one before the wait, then the claim.
      expect(attempts).toEqual([0, 1])
    }).pipe(Effect.provide(testQueue()))
  )

  it.live("without waitSeconds it claims once and never opens the signal; with limit it claims several", () =>
    Effect.gen(function* () {
      const q = yield* TaskQueue
      const never: WaitForWork = Effect.die(new Error("the signal must not be opened"))
      expect(yield* q.claimWaiting({}, { waitForWork: never })).toEqual([])
      const a = yield* q.submit(aTask({ priority: 9 }))
      const b = yield* q.submit(aTask({ priority: 8 }))
      yield* q.submit(aTask({ priority: 1 }))
      expect((yield* q.claimWaiting({ limit: 2 }, { waitForWork: never })).map((t) => t.id)).toEqual([a.id, b.id])
    }).pipe(Effect.provide(testQueue()))
  )

  it.live("a wait that the host stops (shutdown) answers no task", () =>
    Effect.gen(function* () {
      const q = yield* TaskQueue
      const stopped: WaitForWork = Effect.succeed({ next: Effect.succeed(() => Effect.succeed(false)) })
      expect(yield* q.claimWaiting({ waitSeconds: 30 }, { waitForWork: stopped })).toEqual([])
    }).pipe(Effect.provide(testQueue()))
  )

  it.effect("waitSeconds over the cap is a ValidationError that names it", () =>
    Effect.gen(function* () {
      const q = yield* TaskQueue
      const e = yield* flip(q.claimWaiting({ waitSeconds: MAX_CLAIM_WAIT_SECONDS + 1 }))
      expect(e._tag).toBe("ValidationError")
      expect(e.message).toContain(`at most ${MAX_CLAIM_WAIT_SECONDS}`)
    }).pipe(Effect.provide(testQueue()))
  )
})

describe("the priority explained with the queue's own settings", () => {
  const settings = PrioritySettings.parse({
    weights: { base: 4, urgency: 0, dependency: 0, starvation: 0, source: 0 },
    starvationHorizonSeconds: 600
  })

  it.effect("a queue with non-default weights explains the score with them", () =>
    Effect.gen(function* () {
      const q = yield* TaskQueue
      const t = yield* q.submit(aTask({ priority: 7 }))
      const d = yield* q.get(t.id)
      // Only the base factor weighs: the score is the base score, and so is its explanation.
      expect(d.calculatedPriority).toBeCloseTo(70, 5)
      expect(d.priorityExplanation.weights).toEqual({ base: 4, urgency: 0, dependency: 0, starvation: 0, source: 0 })
      expect(d.priorityExplanation.contributions.base).toBeCloseTo(70, 5)
      expect(d.priorityExplanation.contributions.source).toBe(0)
      expect(d.priorityExplanation.score).toBeCloseTo(d.calculatedPriority, 5)
      expect(d.priorityExplanation.starvationHorizonSeconds).toBe(600)
    }).pipe(Effect.provide(testQueue({ priority: settings })))
  )

  it.effect("the default queue explains with the default weights; addDependency answers the explanation too", () =>
    Effect.gen(function* () {
      const q = yield* TaskQueue
      const a = yield* q.submit(aTask())
      const b = yield* q.submit(aTask())
      const d = yield* q.addDependency(b.id, { prerequisiteId: a.id })
      expect(d.priorityExplanation.weights).toEqual(defaultPrioritySettings.weights)
      expect(d.priorityExplanation.score).toBeCloseTo(d.calculatedPriority, 1)
      expect((yield* q.removeDependency(b.id, a.id)).priorityExplanation.weights).toEqual(defaultPrioritySettings.weights)
    }).pipe(Effect.provide(testQueue()))
  )
})

describe("a plan adopted under a parent (every face: CLI --parent, HTTP and MCP parentTaskId)", () => {
  it.effect("the plan's parentTaskId parents the top-level nodes that name none; nested nodes keep their node", () =>
    Effect.gen(function* () {
      const q = yield* TaskQueue
      const parent = yield* q.submit(aTask())
      const other = yield* q.submit(aTask())
      const { tasks } = yield* q.submitPlan({
        parentTaskId: parent.id,
        tasks: [aNode("a", { children: [aNode("a1")] }), aNode("b", { parentTaskId: other.id })]
      })
      expect(tasks["a"]!.parentTaskId).toBe(parent.id)
      expect(tasks["a1"]!.parentTaskId).toBe(tasks["a"]!.id)
      expect(tasks["b"]!.parentTaskId).toBe(other.id)
      // A subtask's default source.
      expect(tasks["a"]!.source).toBe("agent_planner")
      expect((yield* q.get(parent.id)).children).toEqual([tasks["a"]!.id])
    }).pipe(Effect.provide(testQueue()))
  )

  it.effect("a parent that does not exist is TaskNotFound; a bad one a ValidationError naming parentTaskId", () =>
    Effect.gen(function* () {
      const q = yield* TaskQueue
      const missing = yield* flip(q.submitPlan({ parentTaskId: "3f2b8c1e-9d4a-4f6b-8e2a-1c5d7e9f0a2b", tasks: [aNode("a")] }))
      expect(missing._tag).toBe("TaskNotFound")
      const bad = yield* flip(q.submitPlan({ parentTaskId: "nope", tasks: [aNode("a")] }))
      expect(bad._tag).toBe("ValidationError")
      expect(bad.message).toContain("parentTaskId")
      expect((yield* q.list()).length).toBe(0)
    }).pipe(Effect.provide(testQueue()))
  )

  it.effect("posting an adopted plan again with its idempotencyKey returns the same tasks", () =>
    Effect.gen(function* () {
      const q = yield* TaskQueue
      const parent = yield* q.submit(aTask())
      const plan = { parentTaskId: parent.id, idempotencyKey: "plan-1", tasks: [aNode("a")] }
      const first = yield* q.submitPlanWithOutcome(plan)
      const again = yield* q.submitPlanWithOutcome(plan)
      expect(again.created).toBe(false)
      expect(again.tasks["a"]!.id).toBe(first.tasks["a"]!.id)
      const other = yield* q.submit(aTask())
      expect((yield* flip(q.submitPlan({ ...plan, parentTaskId: other.id })))._tag).toBe("IdempotencyConflict")
    }).pipe(Effect.provide(testQueue()))
  )
})
