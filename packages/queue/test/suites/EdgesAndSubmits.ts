import { aNode, aTask } from "@abathur/testing"
import { describe, expect } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import { defaultQueueSettings } from "../../src/QueueConfig.js"
import { TaskQueue } from "../../src/TaskQueue.js"
import { checkInvariants } from "../Invariants.js"
import { dump as databaseDump, flip, type StoreUnderTest, suiteOver } from "../StoreUnderTest.js"
import { finish, readmePlan } from "./HierarchySteps.js"

/**
 * Removing a dependency, delayed starts, idempotent submits and source defaults (CONTRACT,
 * "Additions of December 2026"), over a store (run by Hierarchy.ts).
 */
export const edgesAndSubmits = (store: StoreUnderTest) => {
  const { queueTest } = suiteOver(store)

  describe("removing a dependency", () => {
    queueTest("readies the dependent when it was its last open edge; unknown edge TaskNotFound; started dependent refused", () =>
      Effect.gen(function* () {
        const q = yield* TaskQueue
        const a = yield* q.submit(aTask({ agentType: "a" }))
        const b = yield* q.submit(aTask({ agentType: "b" }))
        const d = yield* q.submit(aTask({ dependsOn: [a.id, b.id], agentType: "d" }))
        const after = yield* q.submit(aTask({ dependsOn: [d.id] }))
        expect((yield* q.get(after.id)).dependencyDepth).toBe(2)
        const one = yield* q.removeDependency(d.id, a.id)
        expect(one.status).toBe("blocked")
        expect(one.prerequisites.map((p) => p.taskId)).toEqual([b.id])
        const two = yield* q.removeDependency(d.id, b.id)
        expect(two).toMatchObject({ status: "ready", dependencyDepth: 0 })
        expect((yield* q.get(after.id)).dependencyDepth).toBe(1)
        const audit = yield* q.audit(d.id)
        expect(audit.map((x) => x.reason)).toEqual(["submitted", `dependency on ${a.id} removed`, `dependency on ${b.id} removed`])
        expect(audit[2]).toMatchObject({ fromStatus: "blocked", toStatus: "ready" })

        const missing = yield* flip(q.removeDependency(d.id, a.id))
        expect(missing).toMatchObject({ _tag: "TaskNotFound", taskId: a.id })
        // A resolved edge of a waiting dependent may go too (nothing changes but the edge).
        yield* finish("d")
        expect((yield* q.removeDependency(after.id, d.id)).status).toBe("ready")
        // Only a PENDING, BLOCKED or READY dependent loses an edge.
        const e = yield* q.submit(aTask({ dependsOn: [b.id], agentType: "e" }))
        yield* finish("b")
        yield* finish("e")
        const before = yield* databaseDump
        const done = yield* flip(q.removeDependency(e.id, b.id))
        expect(done).toMatchObject({ _tag: "InvalidTransition", status: "completed" })
        expect(yield* databaseDump).toEqual(before)
        yield* checkInvariants()
      })
    )

    queueTest("a dependent whose parent still waits stays BLOCKED", () =>
      Effect.gen(function* () {
        const q = yield* TaskQueue
        const gate = yield* q.submit(aTask())
        const parent = yield* q.submit(aTask({ dependsOn: [gate.id] }))
        const other = yield* q.submit(aTask())
        const kid = yield* q.submit(aTask({ parentTaskId: parent.id, dependsOn: [other.id] }))
        expect((yield* q.removeDependency(kid.id, other.id)).status).toBe("blocked")
        yield* checkInvariants()
      })
    )
  })

  describe("delayed starts", () => {
    queueTest("a READY task is not claimable before its notBefore; nextNotBefore says when; then it is", () =>
      Effect.gen(function* () {
        const q = yield* TaskQueue
        const t = yield* q.submit(aTask({ notBefore: "1970-01-01T00:01:00Z", priority: 10 }))
        expect(t).toMatchObject({ status: "ready", notBefore: "1970-01-01T00:01:00.000Z" })
        const other = yield* q.submit(aTask({ priority: 0 }))
        expect(yield* q.nextNotBefore()).toBe("1970-01-01T00:01:00.000Z")
        const first = yield* q.claim()
        expect(first!.id).toBe(other.id)
        expect(yield* q.claim()).toBeNull()
        yield* checkInvariants({ freshness: true })
        yield* TestClock.adjust("60 seconds")
        const c = yield* q.claim()
        expect(c!.id).toBe(t.id)
        expect(yield* q.nextNotBefore()).toBeNull()
        yield* checkInvariants({ freshness: true })
      })
    )

    queueTest(
      "retryBackoffSeconds 0 retries at once; the backoff doubles and stops at the maximum",
      () =>
        Effect.gen(function* () {
          const q = yield* TaskQueue
          const quick = yield* q.submit(aTask({ retryBackoffSeconds: 0, agentType: "quick" }))
          const r = yield* finish("quick", "fail")
          expect(r.task).toMatchObject({ id: quick.id, status: "ready", notBefore: null })
          const slow = yield* q.submit(aTask({ retryBackoffSeconds: 100, maxRetries: 5, agentType: "slow" }))
          const waits: Array<number> = []
          for (let i = 0; i < 4; i++) {
            const c = yield* q.claim({ agentType: "slow" })
            const f = yield* q.fail(slow.id, { leaseToken: c!.leaseToken, error: "again" })
            waits.push((Date.parse(f.task.notBefore!) - Date.parse(c!.startedAt!)) / 1000)
            yield* TestClock.setTime(Date.parse(f.task.notBefore!))
          }
          // jitter 1.0 (random() = 0.999...): 100, 200, then capped at 300
          expect(waits).toEqual([100, 200, 300, 300])
        }),
      { scheduling: { ...defaultQueueSettings.scheduling, retryBackoffMaxSeconds: 300, random: () => 1 } }
    )
  })

  describe("idempotent submits", () => {
    queueTest("the same key and fields return the first task and write nothing; other fields are IdempotencyConflict", () =>
      Effect.gen(function* () {
        const q = yield* TaskQueue
        const first = yield* q.submitWithOutcome({ prompt: "Index the repo", idempotencyKey: "run-7/index" })
        expect(first.created).toBe(true)
        expect(first.task.idempotencyKey).toBe("run-7/index")
        const before = yield* databaseDump
        const again = yield* q.submitWithOutcome({ prompt: "Index the repo", priority: 5, idempotencyKey: "run-7/index" })
        expect(again).toEqual({ task: first.task, created: false })
        expect(yield* databaseDump).toEqual(before)
        const e = yield* flip(q.submit({ prompt: "Index another repo", idempotencyKey: "run-7/index" }))
        expect(e).toMatchObject({ _tag: "IdempotencyConflict", taskId: first.task.id })
        const tooLong = yield* flip(q.submit({ prompt: "x", idempotencyKey: "k".repeat(201) }))
        expect(tooLong._tag).toBe("ValidationError")
        expect(yield* databaseDump).toEqual(before)
      })
    )

    queueTest("a plan's idempotency key: posting it again returns the same tasks; another plan under it conflicts", () =>
      Effect.gen(function* () {
        const q = yield* TaskQueue
        const plan = { ...readmePlan, idempotencyKey: "release-2" }
        const first = yield* q.submitPlanWithOutcome(plan)
        expect(first.created).toBe(true)
        const before = yield* databaseDump
        const again = yield* q.submitPlanWithOutcome(plan)
        expect(again.created).toBe(false)
        expect(Object.fromEntries(Object.entries(again.tasks).map(([k, t]) => [k, t.id]))).toEqual(
          Object.fromEntries(Object.entries(first.tasks).map(([k, t]) => [k, t.id]))
        )
        expect(yield* databaseDump).toEqual(before)
        const e = yield* flip(q.submitPlan({ tasks: [aNode("other")], idempotencyKey: "release-2" }))
        expect(e._tag).toBe("IdempotencyConflict")
        expect(yield* databaseDump).toEqual(before)
      })
    )
  })

  describe("source defaults", () => {
    queueTest("omitted: human at the top, agent_planner for subtasks, nested nodes and MCP-style submits", () =>
      Effect.gen(function* () {
        const q = yield* TaskQueue
        const top = yield* q.submit(aTask())
        const sub = yield* q.submit(aTask({ parentTaskId: top.id }))
        const named = yield* q.submit(aTask({ parentTaskId: top.id, source: "human" }))
        const viaMcp = yield* q.submit(aTask(), { defaultSource: "agent_planner" })
        const { tasks } = yield* q.submitPlan({ tasks: [aNode("root", { children: [aNode("leaf")] })] })
        expect([top, sub, named, viaMcp, tasks["root"]!, tasks["leaf"]!].map((t) => t.source)).toEqual([
          "human",
          "agent_planner",
          "human",
          "agent_planner",
          "human",
          "agent_planner"
        ])
      })
    )
  })
}
