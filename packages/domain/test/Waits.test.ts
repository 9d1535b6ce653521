import { describe, expect, it } from "vitest"
import { describeWaitCycle, done, findWaitCycle, gate, type WaitFact, type WaitGraph, waitBatches, waitsFor } from "@abathur/domain"

/** A graph from tasks (parent, open) and unresolved edges; children and counts derived. */
const graphOf = (tasks: Record<string, { parent?: string; open?: boolean }>, edges: ReadonlyArray<[string, string]>): WaitGraph => {
  const facts = new Map<string, WaitFact>()
  const children = new Map<string, Array<string>>()
  const openBelow = (id: string): number =>
    Object.entries(tasks)
      .filter(([, t]) => t.parent === id)
      .reduce((n, [c, t]) => n + (t.open === false ? 0 : 1) + openBelow(c), 0)
  for (const [id, t] of Object.entries(tasks)) {
    facts.set(id, { parentId: t.parent ?? null, open: t.open !== false, subtreeOpen: openBelow(id) })
    if (t.parent !== undefined) children.set(t.parent, [...(children.get(t.parent) ?? []), id])
  }
  const waitsOn = new Map<string, Array<string>>()
  for (const [a, b] of edges) waitsOn.set(a, [...(waitsOn.get(a) ?? []), b])
  return { facts, children, waitsOn }
}

describe("the waits-for graph", () => {
  it("a subtask's gate waits for its parent's gate; a subtree waits for its open tasks", () => {
    const g = graphOf({ a: {}, d: { parent: "a" }, b: {} }, [["a", "b"]])
    expect(waitsFor(g, gate("d"))).toEqual([gate("a")])
    expect(waitsFor(g, gate("a"))).toEqual([done("b")])
    expect(waitsFor(g, done("a"))).toEqual([gate("a"), done("d")])
    expect(waitsFor(g, gate("unknown"))).toEqual([])
  })

  it("finds the deadlock that no chain of edges shows: B depends on D, below A, which depends on B", () => {
    const g = graphOf({ a: {}, d: { parent: "a" }, b: {} }, [
      ["a", "b"],
      ["b", "d"]
    ])
    const found = findWaitCycle(g, [gate("b")], { dependentId: "b", prerequisiteId: "d" })
    expect(found?.cycle).toEqual(["b", "d", "a", "b"])
    expect(describeWaitCycle(found!)).toBe("b depends on d, d is below a, a depends on b")
  })

  it("a subtree that holds the waiting task: B's subtask depends on D", () => {
    const g = graphOf({ a: {}, d: { parent: "a" }, b: {}, c: { parent: "b" } }, [
      ["a", "b"],
      ["c", "d"]
    ])
    const found = findWaitCycle(g, [gate("c")], { dependentId: "c", prerequisiteId: "d" })
    expect(found?.steps.map((s) => s.why)).toEqual(["depends on", "is below", "depends on", "has the subtask"])
    expect(found?.cycle).toEqual(["c", "d", "a", "b", "c"])
  })

  it("finished work waits for nothing: a completed subtask, or a finished task's edges, close no cycle", () => {
    const g = graphOf({ a: {}, d: { parent: "a", open: false }, b: {} }, [
      ["a", "b"],
      ["b", "d"]
    ])
    expect(findWaitCycle(g, [gate("b")])).toBeNull()
    const finished = graphOf({ a: { open: false }, b: {} }, [
      ["a", "b"],
      ["b", "a"]
    ])
    expect(findWaitCycle(finished, [gate("b")])).toBeNull()
  })

  it("batches: a subtask after its parent's prerequisites, a dependent after the last subtask", () => {
    const g = graphOf({ spec: {}, impl: {}, api: { parent: "impl" }, ui: { parent: "impl" }, ship: {} }, [
      ["impl", "spec"],
      ["ui", "api"],
      ["ship", "impl"]
    ])
    expect(waitBatches(g, ["spec", "impl", "api", "ui", "ship"])).toEqual([["spec"], ["impl", "api"], ["ui"], ["ship"]])
    const cyclic = graphOf({ a: {}, d: { parent: "a" }, b: {} }, [
      ["a", "b"],
      ["b", "d"]
    ])
    expect(() => waitBatches(cyclic, ["a", "b", "d"])).toThrow(/cycle/)
  })
})
