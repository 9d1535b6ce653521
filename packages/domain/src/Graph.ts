/**
 * Pure graph rules over the dependency graph. Edges point along "depends on":
 * an edge A -> B means A waits for B.
 */

/** A node as the cycle check sees it: its id and its dependency depth. */
export interface DepthNode {
  readonly id: string
  readonly depth: number
}

/**
 * Would the edge `dependent -> prerequisite` close a cycle? Returns the cycle along
 * "depends on", first id repeated at the end (`[A, B, A]`), or null.
 *
 * The walk follows prerequisites from `prerequisite` and only visits nodes deeper than
 * `dependent`: a node can reach `dependent` through prerequisites only if its depth is
 * larger, so shallower parts of the graph are never read.
 */
export const findCycle = (
  dependent: DepthNode,
  prerequisite: DepthNode,
  prerequisitesOf: (id: string) => ReadonlyArray<DepthNode>
): ReadonlyArray<string> | null => {
  const walk = findCycleSteps(dependent, prerequisite, function* (id) {
    return prerequisitesOf(id)
  })
  const r = walk.next()
  if (r.done !== true) throw new Error("findCycle: a synchronous read yielded")
  return r.value
}

/**
 * `findCycle` over reads that may be asynchronous: `prerequisitesOf` is a generator (its yields,
 * such as promises, pass through to whoever drives the walk: the queue's store runner).
 */
export function* findCycleSteps<Y>(
  dependent: DepthNode,
  prerequisite: DepthNode,
  prerequisitesOf: (id: string) => Generator<Y, ReadonlyArray<DepthNode>, unknown>
): Generator<Y, ReadonlyArray<string> | null, unknown> {
  if (dependent.id === prerequisite.id) return [dependent.id, dependent.id]
  if (prerequisite.depth <= dependent.depth) return null
  const parent = new Map<string, string>()
  const stack: Array<string> = [prerequisite.id]
  const seen = new Set<string>([prerequisite.id])
  while (stack.length > 0) {
    const id = stack.pop()!
    for (const next of yield* prerequisitesOf(id)) {
      if (next.id === dependent.id) {
        const path: Array<string> = [id]
        for (let at = parent.get(id); at !== undefined; at = parent.get(at)) path.push(at)
        path.reverse()
        return [dependent.id, ...path, dependent.id]
      }
      if (next.depth <= dependent.depth || seen.has(next.id)) continue
      seen.add(next.id)
      parent.set(next.id, id)
      stack.push(next.id)
    }
  }
  return null
}

/**
 * Finds a cycle in a small graph given as adjacency lists (used for plans, by key).
 * Returns the cycle with its first node repeated at the end, or null when acyclic.
 */
export const findCycleIn = (nodes: ReadonlyArray<string>, edgesOf: (id: string) => ReadonlyArray<string>): ReadonlyArray<string> | null => {
  const WHITE = 0,
    GREY = 1,
    BLACK = 2
  const color = new Map<string, number>()
  for (const start of nodes) {
    if ((color.get(start) ?? WHITE) !== WHITE) continue
    // Iterative DFS keeping the current path, so deep chains do not overflow the stack.
    const path: Array<string> = [start]
    const iters: Array<Iterator<string>> = [edgesOf(start)[Symbol.iterator]()]
    color.set(start, GREY)
    while (path.length > 0) {
      const step = iters[iters.length - 1]!.next()
      if (step.done) {
        color.set(path.pop()!, BLACK)
        iters.pop()
        continue
      }
      const next = step.value
      const c = color.get(next) ?? WHITE
      if (c === GREY) return [...path.slice(path.indexOf(next)), next]
      if (c === WHITE) {
        color.set(next, GREY)
        path.push(next)
        iters.push(edgesOf(next)[Symbol.iterator]())
      }
    }
  }
  return null
}

/**
 * Groups nodes into batches that can run in parallel: batch 0 holds the nodes with no
 * prerequisite inside the set, batch k the nodes whose prerequisites are all in earlier
 * batches (topological layers). Within a batch, the given order is kept.
 * Edges to nodes outside the set are ignored.
 */
export const topologicalBatches = (
  nodes: ReadonlyArray<string>,
  prerequisitesOf: (id: string) => ReadonlyArray<string>
): ReadonlyArray<ReadonlyArray<string>> => {
  const inSet = new Set(nodes)
  const remaining = new Map<string, number>()
  const dependents = new Map<string, Array<string>>()
  for (const id of nodes) {
    let n = 0
    for (const p of prerequisitesOf(id)) {
      if (!inSet.has(p) || p === id) continue
      n++
      let list = dependents.get(p)
      if (list === undefined) dependents.set(p, (list = []))
      list.push(id)
    }
    remaining.set(id, n)
  }
  const order = new Map(nodes.map((id, i) => [id, i]))
  const batches: Array<Array<string>> = []
  let current = nodes.filter((id) => remaining.get(id) === 0)
  let placed = 0
  while (current.length > 0) {
    batches.push(current)
    placed += current.length
    const next: Array<string> = []
    for (const id of current) {
      for (const d of dependents.get(id) ?? []) {
        const left = remaining.get(d)! - 1
        remaining.set(d, left)
        if (left === 0) next.push(d)
      }
    }
    next.sort((a, b) => order.get(a)! - order.get(b)!)
    current = next
  }
  if (placed !== nodes.length) throw new Error("topologicalBatches: the graph has a cycle")
  return batches
}

/**
 * `topologicalBatches` over positions, for a large graph: nodes `0 .. n - 1`, edge `k` saying
 * that `dependents[k]` waits for `prerequisites[k]`. Batch 0 holds the positions with no
 * prerequisite, batch k those whose prerequisites are all in earlier batches; each batch in
 * ascending order (topologicalBatches' "given order"). An edge of a node to itself is ignored.
 */
export const positionBatches = (n: number, dependents: ArrayLike<number>, prerequisites: ArrayLike<number>): Array<Array<number>> => {
  const m = dependents.length
  const remaining = new Int32Array(n)
  // Each position's dependents, packed: out[start[p]] .. out[start[p + 1] - 1].
  const start = new Int32Array(n + 1)
  for (let k = 0; k < m; k++) {
    const d = dependents[k]!
    const p = prerequisites[k]!
    if (d === p) continue
    remaining[d]!++
    start[p + 1]!++
  }
  for (let i = 0; i < n; i++) start[i + 1]! += start[i]!
  const fill = start.slice(0, n)
  const out = new Int32Array(start[n]!)
  for (let k = 0; k < m; k++) {
    const d = dependents[k]!
    const p = prerequisites[k]!
    if (d !== p) out[fill[p]!++] = d
  }
  const batches: Array<Array<number>> = []
  let current: Array<number> = []
  for (let i = 0; i < n; i++) if (remaining[i] === 0) current.push(i)
  let placed = 0
  while (current.length > 0) {
    batches.push(current)
    placed += current.length
    const next: Array<number> = []
    for (const p of current) {
      for (let j = start[p]!; j < start[p + 1]!; j++) {
        const d = out[j]!
        if (--remaining[d]! === 0) next.push(d)
      }
    }
    next.sort((a, b) => a - b)
    current = next
  }
  if (placed !== n) throw new Error("positionBatches: the graph has a cycle")
  return batches
}

/** `dependency_depth`: 0 without prerequisites, else 1 + the largest prerequisite depth. */
export const depthFrom = (prerequisiteDepths: Iterable<number>): number => {
  let depth = 0
  for (const d of prerequisiteDepths) if (d + 1 > depth) depth = d + 1
  return depth
}
