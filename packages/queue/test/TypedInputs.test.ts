/**
 * The queue's inputs are typed: `tsc` (the package's `typecheck`, which includes this file) fails
 * when a `@ts-expect-error` below has no error to expect, i.e. when a typo in an input stops being a
 * compile error. Each such call is also run, to show that the same mistake is a ValidationError at
 * run time for callers whose values have no static type.
 */
import { describe, expect } from "@effect/vitest"
import { Effect } from "effect"
import { TaskQueue } from "../src/TaskQueue.js"
import type { Input } from "../src/Typed.js"
import { flip, queueTest } from "./TestQueue.js"

describe("typed inputs", () => {
  queueTest("a typo in a plan, a task or an operation's input fails tsc, and is a ValidationError at run time", () =>
    Effect.gen(function* () {
      const q = yield* TaskQueue
      const { tasks } = yield* q.submitPlan({
        tasks: [
          { key: "spec", prompt: "Write the spec", source: "agent_requirements", priority: 7 },
          { key: "impl", prompt: "Implement it", dependsOn: ["spec"], children: [{ key: "api", prompt: "The API", inputData: { repo: "api" } }] }
        ]
      })
      expect(Object.keys(tasks).sort()).toEqual(["api", "impl", "spec"])

      const mistakes: Array<Effect.Effect<unknown, { readonly _tag: string }>> = [
        // @ts-expect-error a typo at the top of a plan
        q.submitPlan({ taks: [{ key: "a", prompt: "x" }] }),
        // @ts-expect-error a typo in a plan node
        q.submitPlan({ tasks: [{ key: "a", promt: "x" }] }),
        // @ts-expect-error a typo in a nested child
        q.submitPlan({ tasks: [{ key: "a", prompt: "x", children: [{ key: "b", prompt: "y", priorty: 3 }] }] }),
        // @ts-expect-error a value of the wrong type
        q.submitPlan({ tasks: [{ key: "a", prompt: "x", priority: "high" }] }),
        // @ts-expect-error a source that does not exist
        q.submit({ prompt: "x", source: "robot" }),
        // @ts-expect-error a typo in a task
        q.submit({ prompt: "x", dependencyTyp: "parallel" }),
        // @ts-expect-error a required field missing
        q.submit({ priority: 3 }),
        // @ts-expect-error a typo in a claim
        q.claim({ wroker: "me" }),
        // @ts-expect-error a typo in a completion
        q.complete(tasks["spec"]!.id, { reslt: { ok: true } }),
        // @ts-expect-error a typo in a list filter
        q.list({ parent: tasks["impl"]!.id }),
        // @ts-expect-error a graph format that does not exist
        q.graph(undefined, "svg")
      ]
      for (const mistake of mistakes) expect((yield* flip(mistake))._tag).toBe("ValidationError")
    })
  )

  queueTest("values whose type says nothing (JSON bodies, MCP arguments, flag text) are accepted by tsc and checked at run time", () =>
    Effect.gen(function* () {
      const q = yield* TaskQueue
      const body: unknown = JSON.parse('{"prompt": "from a request", "priority": 11}')
      expect((yield* flip(q.submit(body))).message).toContain("priority")
      const args: Record<string, unknown> = { prompt: "from an agent", priority: 4 }
      expect((yield* q.submit(args)).priority).toBe(4)
      const format: string = "dot"
      expect((yield* q.graph(undefined, format)).format).toBe("dot")
    })
  )
})

// An editor completes field names from the contextual type: the schema's input type is a member of
// every operation's parameter, so this must stay assignable.
const _plan: Input<never, import("@abathur/domain").PlanInput> = { tasks: [{ key: "a", prompt: "x", children: [{ key: "b", prompt: "y" }] }] }
void _plan
