/** Steps and the README's plan that the hierarchy suites share (Hierarchy.ts, EdgesAndSubmits.ts). */
import { aNode } from "@abathur/testing"
import { expect } from "@effect/vitest"
import { Effect } from "effect"
import { TaskQueue } from "../../src/TaskQueue.js"

/** Claims the task of this agent type (null when it is not claimable) and completes or fails it. */
export const finish = (agentType: string, outcome: "complete" | "fail" = "complete") =>
  Effect.gen(function* () {
    const q = yield* TaskQueue
    const c = yield* q.claim({ agentType, worker: "w" })
    expect(c, `${agentType} should be claimable`).not.toBeNull()
    if (outcome === "complete") {
      const r = yield* q.complete(c!.id, { leaseToken: c!.leaseToken })
      return { ...r, cancelled: [] as Array<string> }
    }
    const r = yield* q.fail(c!.id, { leaseToken: c!.leaseToken, error: `${agentType} broke` })
    return { task: r.task, unblocked: [] as Array<string>, cancelled: r.cancelled }
  })

export const claimable = (agentType: string) =>
  Effect.gen(function* () {
    const q = yield* TaskQueue
    const c = yield* q.claim({ agentType })
    if (c !== null) yield* q.release(c.id, { leaseToken: c.leaseToken })
    return c !== null
  })

/** The README's plan: spec; impl (after spec) with subtasks api and ui (ui after api); ship after impl. */
export const readmePlan = {
  tasks: [
    aNode("spec", { agentType: "spec" }),
    aNode("impl", {
      agentType: "impl",
      dependsOn: ["spec"],
      children: [aNode("api", { agentType: "api" }), aNode("ui", { agentType: "ui", dependsOn: ["api"], maxRetries: 0 })]
    }),
    aNode("ship", { agentType: "ship", dependsOn: ["impl"] })
  ]
}
