import { aNode, aTask, Plans } from "@abathur/testing"
import { describe, expect, it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import { TaskQueue } from "../../src/TaskQueue.js"
import { dump as databaseDump, flip, statuses, type StoreUnderTest, suiteOver } from "../StoreUnderTest.js"
import { claimsAndReads } from "./ClaimsAndReads.js"
import { ids, run } from "./ScenarioSteps.js"

/**
 * The queue's scenarios over a store (called for SQLite by Scenarios.test.ts, for PostgreSQL by
 * @abathur/postgres); the claims, leases and read side are in ClaimsAndReads.ts, run from here.
 */
export const scenarios = (store: StoreUnderTest) => {
  const { queueTest, testQueue } = suiteOver(store)

  describe("submission", () => {
    queueTest("a task without prerequisites is READY at once, with an audit row", () =>
      Effect.gen(function* () {
        const q = yield* TaskQueue
        const t = yield* q.submit({ prompt: "Write the spec\nwith details", priority: 7, source: "agent_planner" })
        expect(t.status).toBe("ready")
        expect(t.summary).toBe("Write the spec")
        expect(t.dependencyDepth).toBe(0)
        expect(t.calculatedPriority).toBeGreaterThan(0)
        const audit = yield* q.audit(t.id)
        expect(audit).toHaveLength(1)
        expect(audit[0]).toMatchObject({ fromStatus: null, toStatus: "ready", reason: "submitted" })
      })
    )

    queueTest("a task with an open prerequisite is BLOCKED; with a completed one READY", () =>
      Effect.gen(function* () {
        const q = yield* TaskQueue
        const a = yield* q.submit(aTask())
        const b = yield* q.submit(aTask({ dependsOn: [a.id] }))
        expect(b.status).toBe("blocked")
        expect(b.dependencyDepth).toBe(1)
        yield* run(a.id)
        const c = yield* q.submit(aTask({ dependsOn: [a.id] }))
        expect(c.status).toBe("ready")
        const detail = yield* q.get(c.id)
        expect(detail.prerequisites[0]!.resolvedAt).not.toBeNull()
      })
    )

    queueTest("a missing prerequisite or parent is TaskNotFound and changes nothing", () =>
      Effect.gen(function* () {
        const q = yield* TaskQueue
        yield* q.submit(aTask())
        const before = yield* databaseDump
        const missing = "3f2b8c1e-9d4a-4f6b-8e2a-1c5d7e9f0a2b"
        const e1 = yield* flip(q.submit(aTask({ dependsOn: [missing] })))
        expect(e1).toMatchObject({ _tag: "TaskNotFound", taskId: missing })
        const e2 = yield* flip(q.submit(aTask({ parentTaskId: missing })))
        expect(e2._tag).toBe("TaskNotFound")
        expect(yield* databaseDump).toEqual(before)
      })
    )

    queueTest("bad input is a ValidationError with a readable message", () =>
      Effect.gen(function* () {
        const q = yield* TaskQueue
        const e = yield* flip(q.submit({ prompt: "x", priority: 11 }))
        expect(e._tag).toBe("ValidationError")
        expect(e.message).toMatch(/priority/)
        const e2 = yield* flip(q.submit({ prompt: "  " }))
        expect(e2.message).toMatch(/prompt must not be empty/)
        const e3 = yield* flip(q.get("not-a-uuid"))
        expect(e3._tag).toBe("ValidationError")
      })
    )

    queueTest("a failed or cancelled prerequisite cannot be depended on", () =>
      Effect.gen(function* () {
        const q = yield* TaskQueue
        const a = yield* q.submit(aTask())
        yield* q.cancel(a.id)
        const e = yield* flip(q.submit(aTask({ dependsOn: [a.id] })))
        expect(e._tag).toBe("InvalidTransition")
      })
    )
  })

  describe("dependency resolution", () => {
    queueTest("a chain completes in order, each completion unblocking exactly the next", () =>
      Effect.gen(function* () {
        const q = yield* TaskQueue
        const { tasks } = yield* q.submitPlan(Plans.chain(5))
        const chain = ids(tasks, "c0", "c1", "c2", "c3", "c4")
        expect(yield* statuses(chain)).toEqual(["ready", "blocked", "blocked", "blocked", "blocked"])
        expect(tasks["c4"]!.dependencyDepth).toBe(4)
        for (let i = 0; i < 5; i++) {
          const c = yield* q.claim()
          expect(c!.id).toBe(chain[i])
          const r = yield* q.complete(c!.id, { leaseToken: c!.leaseToken })
          expect(r.unblocked).toEqual(i < 4 ? [chain[i + 1]] : [])
        }
        expect(yield* q.claim()).toBeNull()
      })
    )

    queueTest("a diamond's bottom waits for both sides (partial unblocking)", () =>
      Effect.gen(function* () {
        const q = yield* TaskQueue
        const { tasks } = yield* q.submitPlan(Plans.diamond())
        const [top, left, right, bottom] = ids(tasks, "top", "left", "right", "bottom")
        expect((yield* run(top!)).unblocked.sort()).toEqual([left!, right!].sort())
        expect((yield* run(left!)).unblocked).toEqual([])
        expect(yield* statuses([bottom!])).toEqual(["blocked"])
        expect((yield* run(right!)).unblocked).toEqual([bottom])
        expect(yield* statuses([bottom!])).toEqual(["ready"])
      })
    )

    queueTest(
      "fan-out: completing a task unblocks its 1,000 dependents at once",
      () =>
        Effect.gen(function* () {
          const q = yield* TaskQueue
          const { tasks } = yield* q.submitPlan(Plans.fanOut(1000))
          const root = tasks["root"]!
          const c = yield* q.claim()
          expect(c!.id).toBe(root.id)
          const r = yield* q.complete(root.id, { leaseToken: c!.leaseToken })
          expect(r.unblocked).toHaveLength(1000)
          expect((yield* q.status()).byStatus.ready).toBe(1000)
        }),
      { limits: { maxDependencies: 50, maxDepth: 10, maxSubtasks: 50 } }
    )

    queueTest("adding a dependency to a READY task on an open prerequisite blocks it; deepens downstream", () =>
      Effect.gen(function* () {
        const q = yield* TaskQueue
        const a = yield* q.submit(aTask())
        const b = yield* q.submit(aTask())
        const c = yield* q.submit(aTask({ dependsOn: [b.id] }))
        const detail = yield* q.addDependency(b.id, { prerequisiteId: a.id, dependencyType: "parallel" })
        expect(detail.status).toBe("blocked")
        expect(detail.dependencyDepth).toBe(1)
        expect(detail.prerequisites).toEqual([{ taskId: a.id, dependencyType: "parallel", onFailure: "cancel", resolvedAt: null }])
        expect((yield* q.get(c.id)).dependencyDepth).toBe(2)
        // adding the same edge again is a no-op
        const again = yield* q.addDependency(b.id, { prerequisiteId: a.id })
        expect(again.prerequisites).toHaveLength(1)
      })
    )

    queueTest("a RUNNING or terminal dependent cannot get a new prerequisite", () =>
      Effect.gen(function* () {
        const q = yield* TaskQueue
        const a = yield* q.submit(aTask())
        const b = yield* q.submit(aTask())
        const claimed = yield* q.claim()
        const other = claimed!.id === a.id ? b : a
        const e = yield* flip(q.addDependency(claimed!.id, { prerequisiteId: other.id }))
        expect(e._tag).toBe("InvalidTransition")
      })
    )
  })

  describe("cycles", () => {
    queueTest("self, two tasks, a long chain and through a diamond are rejected with the path", () =>
      Effect.gen(function* () {
        const q = yield* TaskQueue
        const a = yield* q.submit(aTask())
        const self = yield* flip(q.addDependency(a.id, { prerequisiteId: a.id }))
        expect(self).toMatchObject({ _tag: "DependencyCycle", cycle: [a.id, a.id] })

        const b = yield* q.submit(aTask({ dependsOn: [a.id] }))
        const two = yield* flip(q.addDependency(a.id, { prerequisiteId: b.id }))
        expect(two).toMatchObject({ _tag: "DependencyCycle", cycle: [a.id, b.id, a.id] })

        const { tasks } = yield* q.submitPlan(Plans.chain(8, "L"))
        const chain = ids(tasks, ...Array.from({ length: 8 }, (_, i) => `L${i}`))
        const long = yield* flip(q.addDependency(chain[0]!, { prerequisiteId: chain[7]! }))
        expect(long).toMatchObject({ _tag: "DependencyCycle", cycle: [chain[0], ...[...chain].reverse()] })

        const d = yield* q.submitPlan(Plans.diamond())
        const [top, , , bottom] = ids(d.tasks, "top", "left", "right", "bottom")
        const dia = yield* flip(q.addDependency(top!, { prerequisiteId: bottom! }))
        expect(dia._tag).toBe("DependencyCycle")
        const cycle = (dia as unknown as { cycle: Array<string> }).cycle
        expect(cycle[0]).toBe(top)
        expect(cycle[1]).toBe(bottom)
        expect(cycle[cycle.length - 1]).toBe(top)
        expect(cycle).toHaveLength(4)
      })
    )

    queueTest("a cycle inside a plan is rejected by keys, and nothing is written", () =>
      Effect.gen(function* () {
        const q = yield* TaskQueue
        const before = yield* databaseDump
        const e = yield* flip(
          q.submitPlan({
            tasks: [aNode("a", { dependsOn: ["c"] }), aNode("b", { dependsOn: ["a"] }), aNode("c", { dependsOn: ["b"] })]
          })
        )
        expect(e._tag).toBe("DependencyCycle")
        expect((e as unknown as { cycle: Array<string> }).cycle).toEqual(["a", "c", "b", "a"])
        expect(yield* databaseDump).toEqual(before)
      })
    )
  })

  describe("limits", () => {
    const small = { limits: { maxDependencies: 2, maxDepth: 2, maxSubtasks: 2 } }

    queueTest(
      "prerequisites per task",
      () =>
        Effect.gen(function* () {
          const q = yield* TaskQueue
          const xs = [yield* q.submit(aTask()), yield* q.submit(aTask()), yield* q.submit(aTask())]
          const e = yield* flip(q.submit(aTask({ dependsOn: xs.map((x) => x.id) })))
          expect(e).toMatchObject({ _tag: "LimitExceeded", limit: "dependencies", max: 2, actual: 3 })
          const ok = yield* q.submit(aTask({ dependsOn: [xs[0]!.id, xs[1]!.id] }))
          const e2 = yield* flip(q.addDependency(ok.id, { prerequisiteId: xs[2]!.id }))
          expect(e2).toMatchObject({ _tag: "LimitExceeded", limit: "dependencies" })
        }),
      small
    )

    queueTest(
      "dependency depth, on submit, in a plan and downstream of a new edge",
      () =>
        Effect.gen(function* () {
          const q = yield* TaskQueue
          const { tasks } = yield* q.submitPlan(Plans.chain(3))
          const e = yield* flip(q.submit(aTask({ dependsOn: [tasks["c2"]!.id] })))
          expect(e).toMatchObject({ _tag: "LimitExceeded", limit: "depth", max: 2, actual: 3 })
          const e2 = yield* flip(q.submitPlan(Plans.chain(4, "d")))
          expect(e2).toMatchObject({ _tag: "LimitExceeded", limit: "depth" })
          // a -> b (depth 1); adding b -> c0's chain end pushes b to 3
          const a = yield* q.submit(aTask())
          const b = yield* q.submit(aTask({ dependsOn: [a.id] }))
          const before = yield* databaseDump
          const e3 = yield* flip(q.addDependency(a.id, { prerequisiteId: tasks["c1"]!.id }))
          expect(e3).toMatchObject({ _tag: "LimitExceeded", limit: "depth", actual: 3 })
          expect(yield* databaseDump).toEqual(before)
          expect((yield* q.get(b.id)).dependencyDepth).toBe(1)
        }),
      small
    )

    queueTest(
      "direct subtasks per parent, counting nested plan children",
      () =>
        Effect.gen(function* () {
          const q = yield* TaskQueue
          const p = yield* q.submit(aTask())
          yield* q.submit(aTask({ parentTaskId: p.id }))
          yield* q.submit(aTask({ parentTaskId: p.id }))
          const e = yield* flip(q.submit(aTask({ parentTaskId: p.id })))
          expect(e).toMatchObject({ _tag: "LimitExceeded", limit: "subtasks", max: 2, actual: 3 })
          const e2 = yield* flip(q.submitPlan({ tasks: [aNode("p", { children: [aNode("x"), aNode("y"), aNode("z")] })] }))
          expect(e2).toMatchObject({ _tag: "LimitExceeded", limit: "subtasks", actual: 3 })
          const p2 = yield* q.submit(aTask())
          const e3 = yield* flip(
            q.submitPlan({ tasks: [aNode("x", { parentTaskId: p2.id }), aNode("y", { parentTaskId: p2.id }), aNode("z", { parentTaskId: p2.id })] })
          )
          expect(e3).toMatchObject({ _tag: "LimitExceeded", limit: "subtasks" })
        }),
      small
    )

    it.effect("unlimited (Infinity) lets a 60-deep chain and 60 subtasks through", () =>
      Effect.gen(function* () {
        const q = yield* TaskQueue
        const { tasks } = yield* q.submitPlan(Plans.chain(60))
        expect(tasks["c59"]!.dependencyDepth).toBe(59)
        const p = yield* q.submitPlan({ tasks: [aNode("p", { children: Array.from({ length: 60 }, (_, i) => aNode(`k${i}`)) })] })
        expect((yield* q.get(p.tasks["p"]!.id)).children).toHaveLength(60)
      }).pipe(Effect.provide(testQueue({ limits: { maxDependencies: Infinity, maxDepth: Infinity, maxSubtasks: Infinity } })))
    )
  })

  describe("failure, cancellation and retry", () => {
    queueTest("a failed attempt retries while retries remain, then fails and cancels dependents transitively", () =>
      Effect.gen(function* () {
        const q = yield* TaskQueue
        const a = yield* q.submit(aTask({ maxRetries: 1 }))
        const done = yield* q.submit(aTask())
        const b = yield* q.submit(aTask({ dependsOn: [a.id, done.id] }))
        const c = yield* q.submit(aTask({ dependsOn: [b.id] }))
        yield* run(done.id)
        const c1 = yield* q.claim()
        expect(c1!.id).toBe(a.id)
        const r1 = yield* q.fail(a.id, { error: "flaky", leaseToken: c1!.leaseToken })
        expect(r1).toMatchObject({ retried: true, cancelled: [] })
        expect(r1.task).toMatchObject({ status: "ready", retryCount: 1, errorMessage: "flaky" })
        // The retry waits for its backoff: 5 s x 2^0 x jitter (0.5..1.0), out of reach of claims until then.
        const wait = Date.parse(r1.task.notBefore!) - Date.parse(c1!.startedAt!)
        expect(wait).toBeGreaterThanOrEqual(2500)
        expect(wait).toBeLessThanOrEqual(5000)
        expect(yield* q.claim()).toBeNull()
        expect(yield* q.nextNotBefore()).toBe(r1.task.notBefore)
        yield* TestClock.adjust("5 seconds")
        const c2 = yield* q.claim()
        expect(c2!.id).toBe(a.id)
        const r2 = yield* q.fail(a.id, { error: "broken", leaseToken: c2!.leaseToken })
        expect(r2.retried).toBe(false)
        expect(r2.task.status).toBe("failed")
        expect(r2.cancelled.sort()).toEqual([b.id, c.id].sort())
        expect((yield* q.get(c.id)).errorMessage).toContain(a.id)
        expect(yield* statuses([done.id])).toEqual(["completed"])
      })
    )

    queueTest("cancel cascades to dependents and to subtasks below, and a RUNNING task may be cancelled", () =>
      Effect.gen(function* () {
        const q = yield* TaskQueue
        const { tasks } = yield* q.submitPlan({
          tasks: [aNode("parent", { children: [aNode("kid", { children: [aNode("grandkid")] })] }), aNode("after", { dependsOn: ["kid"] })]
        })
        const [parent, kid, grandkid, after] = ids(tasks, "parent", "kid", "grandkid", "after")
        const r = yield* q.cancel(parent!)
        expect(r.task.status).toBe("cancelled")
        expect(r.cancelled.sort()).toEqual([kid!, grandkid!, after!].sort())
        const e = yield* flip(q.cancel(parent!))
        expect(e._tag).toBe("InvalidTransition")

        const x = yield* q.submit(aTask())
        const claimed = yield* q.claim()
        expect(claimed!.id).toBe(x.id)
        yield* q.cancel(x.id)
        const late = yield* flip(q.complete(x.id, { leaseToken: claimed!.leaseToken }))
        expect(late._tag).toBe("InvalidTransition")
      })
    )

    queueTest("retry brings a FAILED task back and revives the dependents its failure cancelled", () =>
      Effect.gen(function* () {
        const q = yield* TaskQueue
        const a = yield* q.submit(aTask({ maxRetries: 0 }))
        const other = yield* q.submit(aTask({ maxRetries: 0 }))
        const b = yield* q.submit(aTask({ dependsOn: [a.id] }))
        const c = yield* q.submit(aTask({ dependsOn: [b.id] }))
        const doomed = yield* q.submit(aTask({ dependsOn: [a.id, other.id] }))
        const ca = yield* q.claim()
        const first = ca!.id === a.id ? ca! : null
        if (first === null) yield* q.release(ca!.id, { leaseToken: ca!.leaseToken })
        // fail `other` for good first, then `a`
        const x = yield* q.claim({ agentType: "general" })
        const failOther = x!.id === other.id ? x! : (yield* q.claim())!
        yield* q.fail(other.id, { error: "no", leaseToken: failOther.leaseToken })
        const ya = (yield* q.get(a.id)).status === "running" ? (first ?? x!) : (yield* q.claim())!
        expect(ya.id).toBe(a.id)
        const failed = yield* q.fail(a.id, { error: "boom", leaseToken: ya.leaseToken })
        expect(failed.cancelled.sort()).toEqual([b.id, c.id].sort())
        const r = yield* q.retry(a.id)
        expect(r.task).toMatchObject({ status: "ready", retryCount: 0, errorMessage: null })
        expect(r.revived.sort()).toEqual([b.id, c.id].sort())
        expect(yield* statuses([b.id, c.id, doomed.id])).toEqual(["blocked", "blocked", "cancelled"])
        const e = yield* flip(q.retry(b.id))
        expect(e._tag).toBe("InvalidTransition")
      })
    )
  })
  claimsAndReads(store)
}
