import fc from "fast-check"
import { describe, expect, it, vi } from "vitest"
import { type DepthNode, depthFrom, findCycle, findCycleIn, positionBatches, topologicalBatches } from "@abathur/domain"

/** A graph by "depends on" edges, with depths computed from them. */
const graph = (edges: Record<string, ReadonlyArray<string>>) => {
  const depth = new Map<string, number>()
  const depthOf = (id: string): number => {
    const known = depth.get(id)
    if (known !== undefined) return known
    const d = depthFrom((edges[id] ?? []).map(depthOf))
    depth.set(id, d)
    return d
  }
  const node = (id: string): DepthNode => ({ id, depth: depthOf(id) })
  const prerequisitesOf = vi.fn((id: string): ReadonlyArray<DepthNode> => (edges[id] ?? []).map(node))
  return { node, prerequisitesOf, edgesOf: (id: string): ReadonlyArray<string> => edges[id] ?? [] }
}

/** A cycle must start and end at the same node and follow existing edges (or the new one). */
const expectCycleAlong = (cycle: ReadonlyArray<string> | null, edgesOf: (id: string) => ReadonlyArray<string>, extra?: readonly [string, string]) => {
  expect(cycle).not.toBeNull()
  const c = cycle!
  expect(c.length).toBeGreaterThanOrEqual(2)
  expect(c[c.length - 1]).toBe(c[0])
  for (let i = 0; i + 1 < c.length; i++) {
    const from = c[i]!,
      to = c[i + 1]!
    const isExtra = extra !== undefined && from === extra[0] && to === extra[1]
    expect(isExtra || edgesOf(from).includes(to), `${from} -> ${to} is an edge`).toBe(true)
  }
}

describe("findCycle (would the edge dependent -> prerequisite close a cycle?)", () => {
  it("a self edge is the cycle [A, A]", () => {
    const g = graph({})
    expect(findCycle(g.node("A"), g.node("A"), g.prerequisitesOf)).toEqual(["A", "A"])
    expect(g.prerequisitesOf).not.toHaveBeenCalled()
  })

  it("two tasks: A -> B when B already depends on A gives [A, B, A]", () => {
    const g = graph({ B: ["A"] })
    expect(findCycle(g.node("A"), g.node("B"), g.prerequisitesOf)).toEqual(["A", "B", "A"])
  })

  it("a long chain reports every id in 'depends on' order", () => {
    const n = 1000
    const edges: Record<string, Array<string>> = {}
    for (let i = 1; i < n; i++) edges[`N${i}`] = [`N${i - 1}`]
    const g = graph(edges)
    const cycle = findCycle(g.node("N0"), g.node(`N${n - 1}`), g.prerequisitesOf)
    const expected = ["N0", ...Array.from({ length: n - 1 }, (_, i) => `N${n - 1 - i}`), "N0"]
    expect(cycle).toEqual(expected)
  })

  it("finds a cycle through a diamond", () => {
    // A depends on B and C, both depend on D; adding D -> A closes a cycle
    const g = graph({ A: ["B", "C"], B: ["D"], C: ["D"] })
    const cycle = findCycle(g.node("D"), g.node("A"), g.prerequisitesOf)
    expectCycleAlong(cycle, g.edgesOf, ["D", "A"])
    expect(cycle![0]).toBe("D")
    expect(cycle![1]).toBe("A")
    expect(cycle).toHaveLength(4)
  })

  it("returns null when the edge closes no cycle", () => {
    const g = graph({ A: ["B", "C"], B: ["D"], C: ["D"] })
    // E -> A: nothing reaches E
    expect(findCycle(g.node("E"), g.node("A"), g.prerequisitesOf)).toBeNull()
    // B -> C: C does not reach B (they share a prerequisite, which is not a cycle)
    expect(findCycle(g.node("B"), g.node("C"), g.prerequisitesOf)).toBeNull()
    // A -> D: already implied, no cycle
    expect(findCycle(g.node("A"), g.node("D"), g.prerequisitesOf)).toBeNull()
  })

  it("reads nothing when the prerequisite is not deeper than the dependent", () => {
    const g = graph({ A: ["B"], B: ["C"], X: ["Y"] })
    expect(findCycle(g.node("A"), g.node("X"), g.prerequisitesOf)).toBeNull()
    expect(g.prerequisitesOf).not.toHaveBeenCalled()
  })

  it("never reads the prerequisites of a node whose depth is not above the dependent's", () => {
    // D (depth 2) gets a new prerequisite P (depth 5). Below P hangs a wide shallow
    // part of the graph (depth <= 2) that cannot reach D and must never be read.
    const edges: Record<string, Array<string>> = {
      D: ["d1"],
      d1: ["d0"],
      P: ["P4"],
      P4: ["P3", "s2a", "s1"],
      P3: ["P2", "s2b"],
      P2: ["P1"],
      P1: ["s0"],
      s2a: ["s1"],
      s2b: ["s1", "s0"],
      s1: ["s0"]
    }
    for (let i = 0; i < 100; i++) {
      edges[`w${i}`] = ["s1"]
      edges.P4!.push(`w${i}`)
    }
    const g = graph(edges)
    expect(g.node("D").depth).toBe(2)
    expect(g.node("P").depth).toBe(5)
    expect(findCycle(g.node("D"), g.node("P"), g.prerequisitesOf)).toBeNull()
    const visited = g.prerequisitesOf.mock.calls.map(([id]) => id)
    for (const id of visited) expect(g.node(id).depth, `read ${id}`).toBeGreaterThan(2)
    expect(visited.sort()).toEqual(["P", "P3", "P4"])
    expect(g.prerequisitesOf).toHaveBeenCalledTimes(3)
  })

  it("reads each node at most once", () => {
    // many paths into the same deep node
    const edges: Record<string, Array<string>> = { P: [] }
    for (let i = 0; i < 50; i++) {
      edges.P!.push(`m${i}`)
      edges[`m${i}`] = ["hub"]
    }
    edges.hub = ["h1"]
    edges.h1 = ["h0"]
    const g = graph(edges)
    expect(findCycle(g.node("X"), g.node("P"), g.prerequisitesOf)).toBeNull()
    const ids = g.prerequisitesOf.mock.calls.map(([id]) => id)
    expect(new Set(ids).size).toBe(ids.length)
    expect(ids.filter((id) => id === "hub")).toHaveLength(1)
  })

  it("agrees with findCycleIn on random DAGs (property)", () => {
    // random DAG over 0..n-1 with edges from higher to lower index; add one random edge
    const arb = fc
      .integer({ min: 2, max: 12 })
      .chain((n) => fc.tuple(fc.constant(n), fc.array(fc.tuple(fc.nat(n - 1), fc.nat(n - 1)), { maxLength: 30 }), fc.nat(n - 1), fc.nat(n - 1)))
    fc.assert(
      fc.property(arb, ([n, pairs, from, to]) => {
        const edges: Record<string, Array<string>> = {}
        for (const [a, b] of pairs) {
          if (a === b) continue
          const [hi, lo] = a > b ? [a, b] : [b, a]
          ;(edges[`n${hi}`] ??= []).push(`n${lo}`)
        }
        const g = graph(edges)
        const cycle = findCycle(g.node(`n${from}`), g.node(`n${to}`), g.prerequisitesOf)
        const withEdge = (id: string) => (id === `n${from}` ? [...g.edgesOf(id), `n${to}`] : g.edgesOf(id))
        const ids = Array.from({ length: n }, (_, i) => `n${i}`)
        const expected = findCycleIn(ids, withEdge)
        expect(cycle === null).toBe(expected === null)
        if (cycle !== null) {
          expectCycleAlong(cycle, g.edgesOf, [`n${from}`, `n${to}`])
          expect(cycle[0]).toBe(`n${from}`)
          expect(cycle[1]).toBe(`n${to}`)
        }
      })
    )
  })
})

describe("findCycleIn", () => {
  it("returns a cycle with its first node repeated at the end", () => {
    const edges: Record<string, ReadonlyArray<string>> = { a: ["b"], b: ["c"], c: ["a"] }
    const cycle = findCycleIn(["a", "b", "c"], (id) => edges[id] ?? [])
    expect(cycle).toEqual(["a", "b", "c", "a"])
  })

  it("reports only the cycle, not the path that led to it", () => {
    const edges: Record<string, ReadonlyArray<string>> = { x: ["y"], y: ["a"], a: ["b"], b: ["a"] }
    expect(findCycleIn(["x", "y", "a", "b"], (id) => edges[id] ?? [])).toEqual(["a", "b", "a"])
  })

  it("finds a self loop", () => {
    expect(findCycleIn(["a"], () => ["a"])).toEqual(["a", "a"])
  })

  it("returns null for an acyclic graph, diamonds included", () => {
    const edges: Record<string, ReadonlyArray<string>> = { a: ["b", "c"], b: ["d"], c: ["d"], d: [] }
    expect(findCycleIn(["a", "b", "c", "d"], (id) => edges[id] ?? [])).toBeNull()
    expect(findCycleIn([], () => [])).toBeNull()
  })

  it("follows edges to nodes not listed as starts", () => {
    const edges: Record<string, ReadonlyArray<string>> = { a: ["b"], b: ["c"], c: ["b"] }
    expect(findCycleIn(["a"], (id) => edges[id] ?? [])).toEqual(["b", "c", "b"])
  })

  it("walks a chain of 100,000 nodes without overflowing the stack", () => {
    const n = 100_000
    const ids = Array.from({ length: n }, (_, i) => `n${i}`)
    const next = (id: string) => {
      const i = Number(id.slice(1))
      return i + 1 < n ? [`n${i + 1}`] : []
    }
    expect(findCycleIn(ids, next)).toBeNull()
    const cycle = findCycleIn(ids, (id) => (id === `n${n - 1}` ? ["n0"] : next(id)))
    expect(cycle).toHaveLength(n + 1)
    expect(cycle![0]).toBe("n0")
    expect(cycle![n]).toBe("n0")
  })
})

describe("topologicalBatches", () => {
  const batches = (edges: Record<string, ReadonlyArray<string>>, nodes = Object.keys(edges)) => topologicalBatches(nodes, (id) => edges[id] ?? [])

  it("puts a chain one task per batch, prerequisites first", () => {
    expect(batches({ c: ["b"], b: ["a"], a: [] })).toEqual([["a"], ["b"], ["c"]])
  })

  it("layers a diamond in three batches", () => {
    expect(batches({ top: ["l", "r"], l: ["bottom"], r: ["bottom"], bottom: [] })).toEqual([["bottom"], ["l", "r"], ["top"]])
  })

  it("puts independent tasks in one batch", () => {
    expect(batches({ a: [], b: [], c: [] })).toEqual([["a", "b", "c"]])
  })

  it("ignores edges to tasks outside the set", () => {
    expect(batches({ a: ["done-1"], b: ["a", "done-2"] }, ["a", "b"])).toEqual([["a"], ["b"]])
  })

  it("keeps the given order within a batch", () => {
    const edges = { c: ["x"], a: ["x"], b: ["x"], x: [] }
    expect(batches(edges, ["c", "a", "b", "x"])).toEqual([["x"], ["c", "a", "b"]])
    expect(batches(edges, ["b", "x", "c", "a"])).toEqual([["x"], ["b", "c", "a"]])
    // freed in a different order from the one given
    const e2 = { z: ["p2"], y: ["p1"], p1: [], p2: [] }
    expect(batches(e2, ["z", "y", "p1", "p2"])).toEqual([
      ["p1", "p2"],
      ["z", "y"]
    ])
  })

  it("places a task after its deepest prerequisite", () => {
    expect(batches({ d: ["a", "c"], c: ["b"], b: ["a"], a: [] })).toEqual([["a"], ["b"], ["c"], ["d"]])
  })

  it("returns no batch for no tasks", () => {
    expect(topologicalBatches([], () => [])).toEqual([])
  })

  it("throws on a cycle", () => {
    expect(() => batches({ a: ["b"], b: ["a"], c: [] })).toThrow(/cycle/)
  })

  it("places every task once, after all its prerequisites (property)", () => {
    const arb = fc
      .integer({ min: 1, max: 30 })
      .chain((n) => fc.tuple(fc.constant(n), fc.array(fc.tuple(fc.nat(n - 1), fc.nat(n - 1)), { maxLength: 80 })))
    fc.assert(
      fc.property(arb, ([n, pairs]) => {
        const edges: Record<string, Array<string>> = {}
        for (const [a, b] of pairs) if (a > b) (edges[`n${a}`] ??= []).push(`n${b}`)
        const ids = Array.from({ length: n }, (_, i) => `n${i}`)
        const result = batches(edges, ids)
        const layer = new Map<string, number>()
        result.forEach((batch, i) => {
          for (const id of batch) layer.set(id, i)
        })
        expect(layer.size).toBe(n)
        expect(result.flat()).toHaveLength(n)
        for (const id of ids) {
          const prereqs = edges[id] ?? []
          for (const p of prereqs) expect(layer.get(p)!).toBeLessThan(layer.get(id)!)
          // layers are tight: a task sits right after its deepest prerequisite
          const expected = prereqs.length === 0 ? 0 : 1 + Math.max(...prereqs.map((p) => layer.get(p)!))
          expect(layer.get(id)).toBe(expected)
        }
      })
    )
  })
})

describe("positionBatches (topologicalBatches over positions)", () => {
  it("layers a diamond, ascending positions within a batch, and ignores an edge of a node to itself", () => {
    // 3 waits for 1 and 2, which wait for 0; 1 also names itself.
    expect(positionBatches(4, [3, 3, 1, 2, 1], [1, 2, 0, 0, 1])).toEqual([[0], [1, 2], [3]])
    // Freed in the reverse order of their positions.
    expect(positionBatches(4, [0, 1], [3, 2])).toEqual([
      [2, 3],
      [0, 1]
    ])
  })

  it("returns no batch for no nodes and throws on a cycle", () => {
    expect(positionBatches(0, [], [])).toEqual([])
    expect(() => positionBatches(3, [0, 1], [1, 0])).toThrow(/cycle/)
  })

  it("gives topologicalBatches' batches for any acyclic graph and any order of the nodes (property)", () => {
    const arb = fc.integer({ min: 1, max: 30 }).chain((n) =>
      fc.tuple(
        fc.constant(n),
        fc.uniqueArray(fc.tuple(fc.nat(n - 1), fc.nat(n - 1)), { maxLength: 80, selector: ([a, b]) => `${a}>${b}` }),
        fc.shuffledSubarray(
          Array.from({ length: n }, (_, i) => i),
          { minLength: n }
        )
      )
    )
    fc.assert(
      fc.property(arb, ([n, pairs, order]) => {
        // Node `a` depends on `b` when a > b (acyclic); `order` places the nodes.
        const acyclic = pairs.filter(([a, b]) => a > b)
        const ids = order.map((i) => `n${i}`)
        const position = new Map(order.map((node, at) => [node, at]))
        const edges: Record<string, Array<string>> = {}
        for (const [a, b] of acyclic) (edges[`n${a}`] ??= []).push(`n${b}`)
        const byPosition = positionBatches(
          n,
          acyclic.map(([a]) => position.get(a)!),
          acyclic.map(([, b]) => position.get(b)!)
        )
        expect(byPosition.map((batch) => batch.map((at) => ids[at]))).toEqual(topologicalBatches(ids, (id) => edges[id] ?? []))
      })
    )
  })
})

describe("depthFrom", () => {
  it("is 0 without prerequisites", () => {
    expect(depthFrom([])).toBe(0)
  })

  it("is 1 + the largest prerequisite depth", () => {
    expect(depthFrom([0])).toBe(1)
    expect(depthFrom([3, 1, 7, 2])).toBe(8)
    expect(depthFrom(new Set([4, 4, 0]))).toBe(5)
  })

  it("takes any iterable", () => {
    function* depths() {
      yield 2
      yield 9
    }
    expect(depthFrom(depths())).toBe(10)
  })
})
