/**
 * Migration 2's graph work on the legacy dependencies: the edges that would close a cycle
 * (dropped, each with the cycle it would close) and the dependency depth of every task.
 */

/** A dependency edge carried over from a legacy database. */
export interface Edge {
  readonly id: string
  readonly dependent: string
  readonly prerequisite: string
  readonly type: string
  readonly createdAt: string
  readonly legacyResolvedAt: string | null
}

/**
 * Strongly connected components of a directed graph (iterative Tarjan): a map from node to
 * component number. Only edges inside one component can lie on a cycle.
 */
const components = (nodes: Iterable<string>, successors: ReadonlyMap<string, ReadonlyArray<string>>): Map<string, number> => {
  const index = new Map<string, number>()
  const low = new Map<string, number>()
  const onStack = new Set<string>()
  const stack: Array<string> = []
  const component = new Map<string, number>()
  let counter = 0
  let componentCount = 0
  for (const root of nodes) {
    if (index.has(root)) continue
    const work: Array<{ node: string; next: number }> = [{ node: root, next: 0 }]
    index.set(root, counter)
    low.set(root, counter)
    counter++
    stack.push(root)
    onStack.add(root)
    while (work.length > 0) {
      const frame = work[work.length - 1]!
      const out = successors.get(frame.node) ?? []
      if (frame.next < out.length) {
        const next = out[frame.next++]!
        if (!index.has(next)) {
          index.set(next, counter)
          low.set(next, counter)
          counter++
          stack.push(next)
          onStack.add(next)
          work.push({ node: next, next: 0 })
        } else if (onStack.has(next)) {
          low.set(frame.node, Math.min(low.get(frame.node)!, index.get(next)!))
        }
        continue
      }
      work.pop()
      const parent = work[work.length - 1]
      if (parent !== undefined) low.set(parent.node, Math.min(low.get(parent.node)!, low.get(frame.node)!))
      if (low.get(frame.node) === index.get(frame.node)) {
        let member: string | undefined
        do {
          member = stack.pop()!
          onStack.delete(member)
          component.set(member, componentCount)
        } while (member !== frame.node)
        componentCount++
      }
    }
  }
  return component
}

/** A path from `from` to `to` along `successors`, or null. */
const findPath = (from: string, to: string, successors: ReadonlyMap<string, ReadonlyArray<string>>): Array<string> | null => {
  const previous = new Map<string, string | null>([[from, null]])
  const queue = [from]
  for (let head = 0; head < queue.length; head++) {
    const node = queue[head]!
    if (node === to) {
      const path: Array<string> = []
      for (let at: string | null = node; at !== null; at = previous.get(at) ?? null) path.push(at)
      return path.reverse()
    }
    for (const next of successors.get(node) ?? []) {
      if (!previous.has(next)) {
        previous.set(next, node)
        queue.push(next)
      }
    }
  }
  return null
}

/** Keeps the edges, in order, that close no cycle; reports the others with the cycle they close. */
export const dropCycles = (edges: ReadonlyArray<Edge>): { kept: Array<Edge>; dropped: Array<{ edge: Edge; cycle: Array<string> }> } => {
  const successors = new Map<string, Array<string>>()
  for (const e of edges) {
    const out = successors.get(e.dependent)
    if (out === undefined) successors.set(e.dependent, [e.prerequisite])
    else out.push(e.prerequisite)
  }
  const component = components(successors.keys(), successors)
  const kept: Array<Edge> = []
  const dropped: Array<{ edge: Edge; cycle: Array<string> }> = []
  const inside = new Map<string, Array<string>>()
  for (const e of edges) {
    if (component.get(e.dependent) !== component.get(e.prerequisite)) {
      kept.push(e)
      continue
    }
    // Both ends in one strongly connected component: keep the edge unless the kept edges
    // already lead from the prerequisite back to the dependent.
    const back = findPath(e.prerequisite, e.dependent, inside)
    if (back !== null) {
      dropped.push({ edge: e, cycle: [e.dependent, ...back] })
      continue
    }
    kept.push(e)
    const out = inside.get(e.dependent)
    if (out === undefined) inside.set(e.dependent, [e.prerequisite])
    else out.push(e.prerequisite)
  }
  return { kept, dropped }
}

/** dependency_depth of every task with prerequisites: 1 + the largest depth of its prerequisites. */
export const depths = (edges: ReadonlyArray<Edge>): Map<string, number> => {
  const prerequisites = new Map<string, number>()
  const dependents = new Map<string, Array<string>>()
  for (const e of edges) {
    prerequisites.set(e.dependent, (prerequisites.get(e.dependent) ?? 0) + 1)
    if (!prerequisites.has(e.prerequisite)) prerequisites.set(e.prerequisite, 0)
    const out = dependents.get(e.prerequisite)
    if (out === undefined) dependents.set(e.prerequisite, [e.dependent])
    else out.push(e.dependent)
  }
  const depth = new Map<string, number>()
  const open = new Map(prerequisites)
  const queue: Array<string> = []
  for (const [task, count] of open) {
    if (count === 0) {
      queue.push(task)
      depth.set(task, 0)
    }
  }
  for (let head = 0; head < queue.length; head++) {
    const task = queue[head]!
    const d = depth.get(task)!
    for (const dependent of dependents.get(task) ?? []) {
      depth.set(dependent, Math.max(depth.get(dependent) ?? 0, d + 1))
      const left = open.get(dependent)! - 1
      open.set(dependent, left)
      if (left === 0) queue.push(dependent)
    }
  }
  return depth
}
