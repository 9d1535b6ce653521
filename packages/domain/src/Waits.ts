/**
 * The waits-for relation of the hierarchy rule, as a graph with two nodes per task:
 *
 * - `gate(u)`: u may start. It waits for `gate(parent of u)` (a subtask waits for its ancestors'
 *   prerequisites) and, for each unresolved edge `u -> p` of an open u, for `done(p)`.
 * - `done(t)`: t and its whole subtree are complete. It waits for `gate(t)` while t is open, and
 *   for `done(c)` of each child c that is open or has open descendants.
 *
 * A cycle in this graph is a deadlock: every task on it waits for another on it. The plain
 * dependency graph being acyclic is not enough: with `A -> B` and D a subtask of A, the edge
 * `B -> D` closes `gate(B) -> done(D) -> gate(D) -> gate(A) -> done(B) -> gate(B)`.
 * The same graph orders the execution plan: a task's batch is the batch in which its gate opens.
 */

/** What the graph needs to know of one task. */
export interface WaitFact {
  readonly parentId: string | null
  /** The task itself is not terminal. */
  readonly open: boolean
  /** How many of its descendants are open. */
  readonly subtreeOpen: number
}

/** The part of the waits-for graph that was read: facts, open-work children, unresolved edges. */
export interface WaitGraph {
  readonly facts: ReadonlyMap<string, WaitFact>
  /** Children that are open or have open descendants (only for tasks whose `done` was reached). */
  readonly children: ReadonlyMap<string, ReadonlyArray<string>>
  /** Prerequisites over unresolved edges (only for open tasks whose `gate` was reached). */
  readonly waitsOn: ReadonlyMap<string, ReadonlyArray<string>>
}

export type WaitNode = { readonly kind: "gate" | "done"; readonly id: string }

export const gate = (id: string): WaitNode => ({ kind: "gate", id })
export const done = (id: string): WaitNode => ({ kind: "done", id })

const none: ReadonlyArray<string> = []

/** The nodes `node` waits for, as far as `graph` knows them. */
export const waitsFor = (graph: WaitGraph, node: WaitNode): Array<WaitNode> => {
  const fact = graph.facts.get(node.id)
  if (fact === undefined) return []
  if (node.kind === "gate") {
    const out: Array<WaitNode> = fact.parentId === null ? [] : [gate(fact.parentId)]
    if (fact.open) for (const p of graph.waitsOn.get(node.id) ?? none) out.push(done(p))
    return out
  }
  const out: Array<WaitNode> = fact.open ? [gate(node.id)] : []
  if (fact.subtreeOpen > 0) for (const c of graph.children.get(node.id) ?? none) out.push(done(c))
  return out
}

const key = (n: WaitNode): string => (n.kind === "gate" ? "g" : "d") + n.id

/** One step of a deadlock, told for people. */
export interface WaitStep {
  readonly from: string
  readonly to: string
  readonly why: "depends on" | "is below" | "has the subtask"
}

/** A deadlock: the tasks in order, first repeated at the end, and each step's reason. */
export interface WaitCycle {
  readonly cycle: ReadonlyArray<string>
  readonly steps: ReadonlyArray<WaitStep>
}

/**
 * A cycle of waiting reachable from `starts`, or null. The tale starts with the edge `first`
 * when it is on the cycle (the edge being added), else with some dependency.
 * (An iterative depth-first search over integer nodes: a 10,000-task plan is checked in a few
 * milliseconds.)
 */
export const findWaitCycle = (
  graph: WaitGraph,
  starts: ReadonlyArray<WaitNode>,
  first?: { readonly dependentId: string; readonly prerequisiteId: string }
): WaitCycle | null => {
  // Node 2i is gate(ids[i]), node 2i + 1 is done(ids[i]).
  const index = new Map<string, number>()
  const ids: Array<string> = []
  const idx = (id: string): number => {
    let i = index.get(id)
    if (i === undefined) {
      i = ids.length
      index.set(id, i)
      ids.push(id)
    }
    return i
  }
  const successors = (n: number): Array<number> => {
    const id = ids[n >> 1]!
    const fact = graph.facts.get(id)
    const out: Array<number> = []
    if (fact === undefined) return out
    if ((n & 1) === 0) {
      if (fact.parentId !== null) out.push(2 * idx(fact.parentId))
      if (fact.open) for (const p of graph.waitsOn.get(id) ?? none) out.push(2 * idx(p) + 1)
    } else {
      if (fact.open) out.push(n - 1)
      if (fact.subtreeOpen > 0) for (const c of graph.children.get(id) ?? none) out.push(2 * idx(c) + 1)
    }
    return out
  }
  const WHITE = 0,
    GREY = 1,
    BLACK = 2
  const color: Array<number> = []
  let found: Array<number> | null = null
  for (const s of starts) {
    const start = 2 * idx(s.id) + (s.kind === "done" ? 1 : 0)
    if ((color[start] ?? WHITE) !== WHITE) continue
    const path: Array<number> = [start]
    const next: Array<Array<number>> = [successors(start)]
    const at: Array<number> = [0]
    color[start] = GREY
    while (path.length > 0 && found === null) {
      const top = path.length - 1
      const list = next[top]!
      if (at[top]! >= list.length) {
        color[path.pop()!] = BLACK
        next.pop()
        at.pop()
        continue
      }
      const m = list[at[top]!++]!
      const c = color[m] ?? WHITE
      if (c === GREY) found = [...path.slice(path.indexOf(m)), m]
      else if (c === WHITE) {
        color[m] = GREY
        path.push(m)
        next.push(successors(m))
        at.push(0)
      }
    }
    if (found !== null) break
  }
  if (found === null) return null
  const nodes = found.map((n) => ((n & 1) === 0 ? gate(ids[n >> 1]!) : done(ids[n >> 1]!)))
  const steps: Array<WaitStep> = []
  for (let i = 0; i + 1 < nodes.length; i++) {
    const a = nodes[i]!,
      b = nodes[i + 1]!
    if (a.kind === "gate") steps.push({ from: a.id, to: b.id, why: b.kind === "done" ? "depends on" : "is below" })
    else if (b.kind === "done") steps.push({ from: a.id, to: b.id, why: "has the subtask" })
  }
  const added =
    first === undefined ? -1 : steps.findIndex((s) => s.why === "depends on" && s.from === first.dependentId && s.to === first.prerequisiteId)
  const from =
    added >= 0
      ? added
      : Math.max(
          0,
          steps.findIndex((s) => s.why === "depends on")
        )
  const told = [...steps.slice(from), ...steps.slice(0, from)]
  const cycle = told.map((s) => s.from)
  cycle.push(told[0]?.from ?? nodes[0]!.id)
  return { cycle, steps: told }
}

/** The steps of a deadlock as one sentence: "B depends on D, D is below A, A depends on B". */
export const describeWaitCycle = (c: WaitCycle): string => c.steps.map((s) => `${s.from} ${s.why} ${s.to}`).join(", ")

/**
 * Batches of an execution plan under the hierarchy rule: a task's batch is 0 when its gate is
 * open, else one past the last batch among the open tasks it waits for (through its own and its
 * ancestors' edges, into the prerequisites' subtrees). Tasks in `scope` only, in their given
 * order within a batch. `graph` must hold everything reachable from the scope's gates, acyclic.
 */
export const waitBatches = (graph: WaitGraph, scope: ReadonlyArray<string>): Array<Array<string>> => {
  // level(gate u): the batch in which u may start; level(done t): the batch after t's subtree.
  const level = new Map<string, number>()
  const levelOf = (start: WaitNode): number => {
    const stack: Array<{ node: WaitNode; k: string; next: Array<WaitNode>; i: number; best: number }> = []
    const push = (node: WaitNode): void => {
      stack.push({ node, k: key(node), next: waitsFor(graph, node), i: 0, best: 0 })
    }
    const startKey = key(start)
    if (level.has(startKey)) return level.get(startKey)!
    push(start)
    const onPath = new Set<string>([startKey])
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!
      if (top.i < top.next.length) {
        const n = top.next[top.i++]!
        const k = key(n)
        const known = level.get(k)
        if (known !== undefined) {
          top.best = Math.max(top.best, contribution(top.node, n, known))
        } else if (onPath.has(k)) {
          throw new Error("waitBatches: the waits-for graph has a cycle")
        } else {
          onPath.add(k)
          push(n)
        }
        continue
      }
      stack.pop()
      onPath.delete(top.k)
      level.set(top.k, top.best)
      const parent = stack[stack.length - 1]
      if (parent !== undefined) parent.best = Math.max(parent.best, contribution(parent.node, top.node, top.best))
    }
    return level.get(startKey)!
  }
  /** What `to`'s level adds to `from`'s: done(t) waits for gate(t) one batch past it (t runs). */
  const contribution = (from: WaitNode, to: WaitNode, toLevel: number): number => (from.kind === "done" && to.kind === "gate" ? toLevel + 1 : toLevel)
  const batches: Array<Array<string>> = []
  for (const id of scope) {
    const b = levelOf(gate(id))
    while (batches.length <= b) batches.push([])
    batches[b]!.push(id)
  }
  return batches.filter((b) => b.length > 0)
}
