/**
 * Edges and graph rules: what may depend on what (the state of a prerequisite, the cycle check,
 * the hierarchy check of add-dependency, submit and plans), when a new edge is resolved, adding
 * and removing an edge between existing tasks (with the depths downstream), and the execution
 * plan (open tasks in parallel batches).
 */
import {
  depthFrom,
  edgeResolved,
  type DependencyType,
  type ExecutionPlan,
  findCycleSteps,
  type FlatPlanNode,
  formatTimestamp,
  isTerminal,
  type OnFailure,
  positionBatches,
  subtreeState,
  type TaskStatus,
  describeWaitCycle,
  findWaitCycle,
  gate,
  type WaitCycle,
  type WaitFact,
  waitBatches
} from "@abathur/domain"
import type { StoredTask } from "@abathur/storage"
import { v7 as uuidv7 } from "uuid"
import { doomOf, edgesResolved, gateClosed, gated } from "./Cascade.js"
import type { TaskDetail } from "./Model.js"
import { DependencyCycle, InvalidTransition, TaskNotFound } from "./QueueError.js"
import { refresh, refreshById } from "./Ranking.js"
import { detail } from "./Reads.js"
import type { Step } from "./Store.js"
import { breadthFirst, checkLimit, load, type Tx } from "./Tx.js"
import { readWaitGraph } from "./WaitGraph.js"

/**
 * A prerequisite that is FAILED or CANCELLED cannot be depended on; nor, through a `cancel`
 * edge, one with a FAILED or CANCELLED task below it (the dependent would be cancelled at once).
 */
export const checkPrerequisite = (p: StoredTask, onFailure: OnFailure): void => {
  const doom = doomOf(p.id, p.status, p.subtree.failed + p.subtree.cancelled)
  if (doom === null || (!doom.own && onFailure !== "cancel")) return
  throw new InvalidTransition({
    message: doom.own
      ? `task ${p.id} ${doom.why} and cannot be depended on: retry it first`
      : `task ${p.id} ${doom.why}: retry that one first, or depend on it with onFailure "ignore"`,
    taskId: p.id,
    status: p.status
  })
}

/** When an edge on `p` with this policy resolves now, or null while it does not. */
export const resolution = (p: StoredTask, onFailure: OnFailure, now: number): string | null => {
  const s = subtreeState(p.status, p.subtree)
  if (!edgeResolved(onFailure, s)) return null
  const leaf = p.subtree.open + p.subtree.completed + p.subtree.failed + p.subtree.cancelled === 0
  return leaf && p.completedAt !== null ? p.completedAt : formatTimestamp(now)
}

export function* insertEdge(
  tx: Tx,
  dependentId: string,
  prerequisiteId: string,
  type: DependencyType,
  onFailure: OnFailure,
  now: number,
  resolvedAt: string | null
): Step<void> {
  yield* tx.store.insertDependency({
    // Time-ordered (UUID v7, RFC 9562): new edges append to the primary key's b-tree.
    id: uuidv7(),
    dependentTaskId: dependentId,
    prerequisiteTaskId: prerequisiteId,
    dependencyType: type,
    onFailure,
    createdAt: formatTimestamp(now),
    resolvedAt
  })
}

// ---- the cycle and hierarchy checks ------------------------------------------------------

/** The ids above a task in the hierarchy, nearest first. */
export function* ancestorIds(tx: Tx, parentId: string | null): Step<Array<string>> {
  const out: Array<string> = []
  const seen = new Set<string>()
  for (let p = parentId; p !== null && !seen.has(p); p = (yield* tx.store.getTask(p))?.parentTaskId ?? null) {
    seen.add(p)
    out.push(p)
  }
  return out
}

/**
 * A task cannot depend on its own ancestor (the ancestor's subtree includes it: it would wait
 * for itself) nor on its descendant (the descendant waits for its ancestors' edges).
 */
export const hierarchyLoop = (dependentId: string, prerequisiteId: string, what: "ancestor" | "descendant"): never => {
  throw new DependencyCycle({
    message:
      what === "ancestor"
        ? `task ${dependentId} is below ${prerequisiteId} in the hierarchy and cannot depend on it: ${prerequisiteId}'s subtree includes it (a subtask already waits for its parent's prerequisites)`
        : `task ${dependentId} is above ${prerequisiteId} in the hierarchy and cannot depend on it: ${prerequisiteId} waits for the prerequisites of its ancestors`,
    cycle: [dependentId, prerequisiteId, dependentId]
  })
}

/** A new task under `parentTaskId` cannot depend on one of its ancestors (submit). */
export function* checkSubmitHierarchy(tx: Tx, parentTaskId: string | null, prerequisiteIds: ReadonlyArray<string>): Step<void> {
  if (parentTaskId !== null && prerequisiteIds.length > 0) {
    const above = new Set(yield* ancestorIds(tx, parentTaskId))
    for (const p of prerequisiteIds) if (above.has(p)) hierarchyLoop("the new task", p, "ancestor")
  }
}

/** No node of a plan depends on a node (or an existing task) above or below it in the hierarchy. */
export function* checkPlanHierarchy(tx: Tx, nodes: ReadonlyArray<FlatPlanNode>, nodeOf: (key: string) => FlatPlanNode): Step<void> {
  const keysAbove = (key: string): Array<string> => {
    const out: Array<string> = []
    for (let k = nodeOf(key).parentKey; k !== null; k = nodeOf(k).parentKey) out.push(k)
    return out
  }
  const externalAbove = new Map<string, Set<string>>()
  for (const n of nodes) {
    if (n.edges.length === 0) continue
    const chain = keysAbove(n.key)
    const top = nodeOf(chain[chain.length - 1] ?? n.key)
    for (const e of n.edges) {
      if (e.local && chain.includes(e.ref)) hierarchyLoop(n.key, e.ref, "ancestor")
      if (e.local && keysAbove(e.ref).includes(n.key)) hierarchyLoop(n.key, e.ref, "descendant")
      if (!e.local && top.node.parentTaskId != null) {
        let ids = externalAbove.get(top.key)
        if (ids === undefined) externalAbove.set(top.key, (ids = new Set(yield* ancestorIds(tx, top.node.parentTaskId))))
        if (ids.has(e.ref)) hierarchyLoop(n.key, e.ref, "ancestor")
      }
    }
  }
}

export const checkWaiting = (task: StoredTask, what: string): void => {
  if (!(["pending", "blocked", "ready"] as ReadonlyArray<TaskStatus>).includes(task.status)) {
    throw new InvalidTransition({
      message: `task ${task.id} is ${task.status}: only pending, blocked or ready tasks can ${what}`,
      taskId: task.id,
      status: task.status
    })
  }
}

/**
 * Refuses a change after which tasks would wait for each other forever: a cycle of the
 * waits-for relation (own and ancestors' edges, into prerequisites' subtrees) through `starts`.
 * The relation checked is the declared one: every task not COMPLETED and all of its edges,
 * resolved or not, since a task that started can wait again (released, retried, revived) and a
 * resolved edge opens again when a subtask joins its prerequisite's subtree. Called after the
 * change is written, inside its transaction: the throw rolls it back.
 */
export function* checkDeadlock(
  tx: Tx,
  starts: ReadonlyArray<string>,
  what: string,
  added?: { dependentId: string; prerequisiteId: string }
): Step<void> {
  // Without a live subtask the waits are the dependency edges alone, which the cycle check covers.
  if (!(yield* tx.store.anyLiveSubtask())) return
  const { graph } = yield* readWaitGraph(tx.store, starts, true)
  const found = findWaitCycle(graph, starts.map(gate), added)
  if (found !== null) deadlock(found, what)
}

/**
 * The deadlock check of a plan under no existing parent: nothing outside waits for its tasks, so
 * its own tasks and local edges are the whole question (existing prerequisites are ends),
 * answered in memory.
 */
export const checkPlanDeadlock = (
  nodes: ReadonlyArray<{ id: string; parentId: string | null; openBelow: number; waitsOn: ReadonlyArray<string> }>
): void => {
  const facts = new Map<string, WaitFact>()
  const children = new Map<string, Array<string>>()
  const waitsOn = new Map<string, ReadonlyArray<string>>()
  for (const n of nodes) {
    facts.set(n.id, { parentId: n.parentId, open: true, subtreeOpen: n.openBelow })
    if (n.parentId !== null) {
      const list = children.get(n.parentId)
      if (list === undefined) children.set(n.parentId, [n.id])
      else list.push(n.id)
    }
    if (n.waitsOn.length > 0) waitsOn.set(n.id, n.waitsOn)
  }
  const found = findWaitCycle(
    { facts, children, waitsOn },
    nodes.map((n) => gate(n.id))
  )
  if (found !== null) deadlock(found, "this plan")
}

const deadlock = (found: WaitCycle, what: string): never => {
  throw new DependencyCycle({ message: `${what} would make tasks wait for each other forever: ${describeWaitCycle(found)}`, cycle: found.cycle })
}

// ---- adding and removing edges -----------------------------------------------------------

/** Adds `dependent -> prerequisite` between existing tasks. */
export function* addDependency(
  tx: Tx,
  dependentId: string,
  prerequisiteId: string,
  type: DependencyType | undefined,
  now: number,
  actor: string | null,
  onFailure: OnFailure = "cancel"
): Step<TaskDetail> {
  const dependent = yield* load(tx, dependentId)
  const prerequisite = yield* load(tx, prerequisiteId, "prerequisite")
  checkWaiting(dependent, "get a new prerequisite")
  if (dependentId === prerequisiteId) {
    throw new DependencyCycle({ message: `task ${dependentId} cannot depend on itself`, cycle: [dependentId, dependentId] })
  }
  checkPrerequisite(prerequisite, onFailure)
  if (yield* tx.store.hasDependency(dependentId, prerequisiteId)) return yield* detail(tx, dependentId, now)
  if ((yield* ancestorIds(tx, dependent.parentTaskId)).includes(prerequisiteId)) hierarchyLoop(dependentId, prerequisiteId, "ancestor")
  if ((yield* ancestorIds(tx, prerequisite.parentTaskId)).includes(dependentId)) hierarchyLoop(dependentId, prerequisiteId, "descendant")
  const limits = tx.settings.limits
  checkLimit("dependencies", limits.maxDependencies, (yield* tx.store.countPrerequisites(dependentId)) + 1, `prerequisites of ${dependentId}`)
  const cycle = yield* findCycleSteps(
    { id: dependentId, depth: dependent.dependencyDepth },
    { id: prerequisiteId, depth: prerequisite.dependencyDepth },
    (id) => tx.store.prerequisiteDepths(id)
  )
  if (cycle !== null) {
    throw new DependencyCycle({ message: `adding this dependency would close a cycle: ${cycle.join(" -> ")}`, cycle })
  }
  // Deepen the dependent and everything downstream of it, within the limit.
  const newDepth = prerequisite.dependencyDepth + 1
  if (newDepth > dependent.dependencyDepth) {
    const depths = new Map<string, number>([[dependentId, newDepth]])
    yield* breadthFirst(
      [dependentId],
      function* (level) {
        const next: Array<string> = []
        for (const id of level) {
          const d = depths.get(id)!
          checkLimit("depth", limits.maxDepth, d, `dependency depth of ${id}`)
          for (const n of yield* tx.store.dependentsOf(id)) {
            if (n.depth < d + 1 && (depths.get(n.taskId) ?? -1) < d + 1) {
              depths.set(n.taskId, d + 1)
              next.push(n.taskId)
            }
          }
        }
        return next
      },
      true
    )
    for (const [id, d] of depths) yield* tx.store.updateTask(id, { dependencyDepth: d })
  }
  const resolvedAt = resolution(prerequisite, onFailure, now)
  const wasGated = yield* gated(tx, dependent)
  yield* insertEdge(tx, dependentId, prerequisiteId, type ?? dependent.dependencyType, onFailure, now, resolvedAt)
  yield* checkDeadlock(tx, [dependentId], "this dependency", { dependentId, prerequisiteId })
  if (resolvedAt === null) {
    if (!wasGated) yield* gateClosed(tx, dependent, now, actor, `new prerequisite ${prerequisiteId}`)
    // Fresh: the prerequisite may be below the dependent, just blocked with it. A task with no
    // parent is below nothing, and is not downstream of the dependent (no cycle): unchanged here.
    if (prerequisite.parentTaskId === null) yield* refresh(tx, prerequisite, now)
    else yield* refreshById(tx, prerequisiteId, now)
  }
  return yield* detail(tx, dependentId, now)
}

/**
 * Removes `dependent -> prerequisite`. The dependent becomes READY when that was its last open
 * edge and no ancestor waits; its depth (and its dependents') follows its remaining prerequisites.
 */
export function* removeDependency(tx: Tx, dependentId: string, prerequisiteId: string, now: number, actor: string | null): Step<TaskDetail> {
  const dependent = yield* load(tx, dependentId)
  checkWaiting(dependent, "lose a prerequisite")
  const removed = yield* tx.store.deleteDependency(dependentId, prerequisiteId)
  if (removed === null) {
    throw new TaskNotFound({
      message: `task ${dependentId} does not depend on ${prerequisiteId}`,
      taskId: prerequisiteId
    })
  }
  const at = formatTimestamp(now)
  const reason = `dependency on ${prerequisiteId} removed`
  // Depths: the dependent and what is downstream of it may get shallower.
  // (Depths only fall, and the graph is acyclic: a task is visited again only when a
  // prerequisite of it got shallower.)
  yield* breadthFirst(
    [dependentId],
    function* (level) {
      const next: Array<string> = []
      for (const id of level) {
        const t = yield* tx.store.getTask(id)
        if (t === null) continue
        const d = depthFrom((yield* tx.store.prerequisiteDepths(id)).map((p) => p.depth))
        if (d !== t.dependencyDepth) {
          yield* tx.store.updateTask(id, { dependencyDepth: d })
          for (const n of yield* tx.store.dependentsOf(id)) next.push(n.taskId)
        }
      }
      return next
    },
    true
  )
  if (removed.resolvedAt === null) {
    const prerequisite = yield* tx.store.getTask(prerequisiteId)
    if (prerequisite !== null) yield* refresh(tx, prerequisite, now)
    if (!dependent.ancestorGated && !(yield* tx.store.hasUnresolved(dependentId))) {
      yield* edgesResolved(tx, [dependentId], now, actor, reason)
    }
  }
  if (!tx.readied.includes(dependentId)) {
    yield* tx.store.insertAudit({ taskId: dependentId, fromStatus: dependent.status, toStatus: dependent.status, at, actor, reason })
  }
  return yield* detail(tx, dependentId, now)
}

// ---- the execution plan ------------------------------------------------------------------

/**
 * Open tasks (or the named ones with everything they wait for) in parallel batches, under the
 * hierarchy rule: a task waits for its own and its ancestors' prerequisites and for every open
 * task in those prerequisites' subtrees.
 */
export function* executionPlan(tx: Tx, ids: ReadonlyArray<string> | undefined): Step<ExecutionPlan> {
  let batches: Array<Array<string>>
  if (ids === undefined || ids.length === 0) {
    if (yield* tx.store.anyLiveSubtask()) {
      const scope = yield* tx.store.openTaskIds()
      batches = waitBatches((yield* readWaitGraph(tx.store, scope, false)).graph, scope)
    } else {
      // No hierarchy to follow: the open tasks' edges alone, layered over their positions.
      const open = yield* tx.store.openGraph()
      batches = positionBatches(open.ids.length, open.dependents, open.prerequisites).map((b) => b.map((i) => open.ids[i]!))
    }
  } else {
    // The named open tasks and every open task they wait for (the region's waited-for tasks).
    const named: Array<string> = []
    for (const id of new Set(ids)) if (!isTerminal((yield* load(tx, id)).status)) named.push(id)
    const { graph, waited } = yield* readWaitGraph(tx.store, named, false)
    const inScope = new Set(named)
    for (const id of waited) inScope.add(id)
    batches = waitBatches(graph, [...inScope])
  }
  return {
    batches,
    totalBatches: batches.length,
    maxParallelism: batches.reduce((m, b) => Math.max(m, b.length), 0)
  }
}
