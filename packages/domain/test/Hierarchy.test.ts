import { describe, expect, it } from "vitest"
import {
  canonicalJson,
  defaultSource,
  edgeResolved,
  flattenPlan,
  PlanInput,
  renderDot,
  renderMermaid,
  retryBackoffMs,
  subtreeProgress,
  subtreeState
} from "../src/index.js"

const A = "3f2b8c1e-9d4a-4f6b-8e2a-1c5d7e9f0a2b"
const none = { open: 0, completed: 0, failed: 0, cancelled: 0 }

describe("subtree state and edge resolution", () => {
  it("an edge resolves when the subtree is complete; under ignore, when nothing in it is open", () => {
    expect(subtreeState("completed", none)).toEqual({ closed: true, complete: true, doomed: false })
    // A parent done with its own part while a subtask runs: nothing resolves yet.
    const open = subtreeState("completed", { ...none, open: 1, completed: 2 })
    expect(open).toEqual({ closed: false, complete: false, doomed: false })
    expect(edgeResolved("cancel", open)).toBe(false)
    expect(edgeResolved("ignore", open)).toBe(false)
    // A failed subtask dooms cancel edges at once, even while others run.
    expect(subtreeState("running", { ...none, open: 1, failed: 1 })).toEqual({ closed: false, complete: false, doomed: true })
    const finishedBadly = subtreeState("completed", { ...none, cancelled: 1 })
    expect(edgeResolved("cancel", finishedBadly)).toBe(false)
    expect(edgeResolved("ignore", finishedBadly)).toBe(true)
    expect(subtreeState("failed", none)).toEqual({ closed: true, complete: false, doomed: true })
    expect(subtreeProgress({ open: 1, completed: 2, failed: 3, cancelled: 4 })).toEqual({ total: 10, open: 1, completed: 2, failed: 3, cancelled: 4 })
  })
})

describe("retry backoff", () => {
  it("doubles per retry, stops at the maximum, with jitter in [0.5, 1.0]; base 0 is at once", () => {
    expect([1, 2, 3, 4, 8].map((n) => retryBackoffMs(5, 600, n, 1))).toEqual([5000, 10000, 20000, 40000, 600000])
    expect(retryBackoffMs(5, 600, 1, 0)).toBe(2500)
    expect(retryBackoffMs(0, 600, 3, 1)).toBe(0)
    for (let i = 0; i < 50; i++) {
      const ms = retryBackoffMs(10, 600, 2, Math.random())
      expect(ms).toBeGreaterThanOrEqual(10_000)
      expect(ms).toBeLessThanOrEqual(20_000)
    }
  })
})

describe("source defaults and fingerprints", () => {
  it("a subtask or an MCP submit is agent_planner unless it says otherwise", () => {
    expect(defaultSource(false)).toBe("human")
    expect(defaultSource(true)).toBe("agent_planner")
    expect(defaultSource(false, "agent_planner")).toBe("agent_planner")
  })
  it("canonical JSON does not depend on key order", () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { z: 1, y: 2 }], c: null } })).toBe(canonicalJson({ a: { c: null, d: [2, { y: 2, z: 1 }] }, b: 1 }))
    expect(canonicalJson({ a: undefined, b: 1 })).toBe('{"b":1}')
  })
})

describe("plans with edge objects", () => {
  it("keys and ids with onFailure and their own dependency type; the first mention wins", () => {
    const plan = PlanInput.parse({
      idempotencyKey: "p-1",
      tasks: [
        { key: "a", prompt: "a" },
        { key: "b", prompt: "b", dependsOn: [{ key: "a", onFailure: "ignore", dependencyType: "parallel" }, "a", { id: A }] }
      ]
    })
    expect(plan.idempotencyKey).toBe("p-1")
    const flat = flattenPlan(plan)
    if (flat._tag !== "Ok") throw new Error("expected a plan")
    const b = flat.nodes.find((n) => n.key === "b")!
    expect(b.edges).toEqual([
      { ref: "a", local: true, onFailure: "ignore", dependencyType: "parallel" },
      { ref: A, local: false, onFailure: "cancel", dependencyType: undefined }
    ])
    expect(b.localDependsOn).toEqual(["a"])
    expect(b.externalDependsOn).toEqual([A])
  })
  it("{key} must name a key of the plan; two nodes may not share an idempotency key", () => {
    const unknown = flattenPlan(PlanInput.parse({ tasks: [{ key: "a", prompt: "a", dependsOn: [{ key: A }] }] }))
    expect(unknown).toMatchObject({ _tag: "Problem", problem: { _tag: "UnknownReference" } })
    const twice = flattenPlan(
      PlanInput.parse({
        tasks: [
          { key: "a", prompt: "a", idempotencyKey: "k" },
          { key: "b", prompt: "b", idempotencyKey: "k" }
        ]
      })
    )
    expect(twice).toMatchObject({ _tag: "Problem", problem: { _tag: "DuplicateIdempotencyKey", key: "b" } })
    expect(PlanInput.safeParse({ tasks: [{ key: "a", prompt: "a", dependsOn: [{ id: A, key: "a" }] }] }).success).toBe(false)
  })
})

describe("graph renderers draw the hierarchy", () => {
  const tasks = [
    { id: A, summary: "parent", status: "completed" as const },
    { id: "11111111-1111-4111-8111-111111111111", summary: "child", status: "running" as const }
  ]
  const link = { from: tasks[0]!.id, to: tasks[1]!.id, resolved: false, kind: "subtask" as const }
  it("Mermaid: a dotted link, styled grey", () => {
    const text = renderMermaid(tasks, [link])
    expect(text).toContain(`t${A.replaceAll("-", "")} -.-> t11111111111141118111111111111111`)
    expect(text).toContain("linkStyle 0 stroke:#999")
  })
  it("DOT: a dashed grey edge", () => {
    expect(renderDot(tasks, [link])).toContain(`"${A}" -> "${tasks[1]!.id}" [style=dashed, color="#999999", arrowhead=odot];`)
  })
})
