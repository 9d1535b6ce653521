/** Reads: a task's detail, lists, the queue's status, trees, graphs, activity and audit trails. */
import {
  type DependencyLink,
  formatTimestamp,
  isTerminal,
  OpenStatuses,
  priorityBreakdown,
  type QueueStatus,
  subtreeProgress,
  type Task
} from "@abathur/domain"
import type { AuditEntry, ListFilter, Neighbour, StoredTask } from "@abathur/storage"
import type { Activity, GraphLink, ListedTask, TaskDetail, TreeNode } from "./Model.js"
import { facts, listed, view } from "./Ranking.js"
import type { Step } from "./Store.js"
import { breadthFirst, load, type Tx } from "./Tx.js"

const link = (n: Neighbour): DependencyLink => ({
  taskId: n.taskId,
  dependencyType: n.dependencyType,
  onFailure: n.onFailure,
  resolvedAt: n.resolvedAt
})

export function* detail(tx: Tx, id: string, now: number): Step<TaskDetail> {
  const task = yield* load(tx, id)
  return {
    ...listed(tx, task, now),
    prerequisites: (yield* tx.store.prerequisitesOf(id)).map(link),
    dependents: (yield* tx.store.dependentsOf(id)).map(link),
    children: yield* tx.store.childIds(id),
    subtree: subtreeProgress(task.subtree),
    priorityBreakdown: priorityBreakdown(yield* facts(tx, task), now, tx.settings.priority)
  }
}

/** Tasks by score now (ties: oldest first); waiting tasks' scores are read from their ranks. */
export function* list(tx: Tx, filter: ListFilter, now: number): Step<Array<ListedTask>> {
  return (yield* tx.store.listTasks(filter))
    .map((t) => listed(tx, t, now))
    .sort((a, b) => b.calculatedPriority - a.calculatedPriority || (a.submittedAt < b.submittedAt ? -1 : a.submittedAt > b.submittedAt ? 1 : 0))
}

export function* status(tx: Tx): Step<QueueStatus> {
  const c = yield* tx.store.statusCounts()
  let total = 0
  for (const n of Object.values(c.byStatus)) total += n
  let open = 0
  let sum = 0
  for (const s of OpenStatuses) {
    open += c.byStatus[s]
    sum += c.prioritySum[s]
  }
  return {
    total,
    byStatus: c.byStatus,
    avgPriority: open === 0 ? null : Math.round((sum / open) * 100) / 100,
    maxDepth: c.maxOpenDepth,
    oldestWaitingAt: c.oldestWaitingAt
  }
}

/** The hierarchy below a task, or the forest of every root task. */
export function* tree(tx: Tx, id: string | undefined, now: number): Step<TreeNode | Array<TreeNode>> {
  const roots = id === undefined ? yield* tx.store.rootIds() : [(yield* load(tx, id)).id]
  // Load level by level, so a large forest costs one query per level, not per task.
  const tasks = new Map<string, StoredTask>()
  const children = new Map<string, Array<string>>()
  for (const t of yield* tx.store.getTasks(roots)) tasks.set(t.id, t)
  yield* breadthFirst(roots, function* (level) {
    const next: Array<string> = []
    for (const { id: child, parentId } of yield* tx.store.childrenOfMany(level)) {
      if (tasks.has(child)) continue
      let list = children.get(parentId)
      if (list === undefined) children.set(parentId, (list = []))
      list.push(child)
      next.push(child)
    }
    for (const t of yield* tx.store.getTasks(next)) tasks.set(t.id, t)
    return next
  })
  const order = (a: string, b: string) => {
    const ta = tasks.get(a)!,
      tb = tasks.get(b)!
    return ta.submittedAt < tb.submittedAt ? -1 : ta.submittedAt > tb.submittedAt ? 1 : 0
  }
  const build = (tid: string): TreeNode => ({
    task: view(tx, tasks.get(tid)!, now),
    subtree: subtreeProgress(tasks.get(tid)!.subtree),
    children: (children.get(tid) ?? []).sort(order).map(build)
  })
  return id === undefined ? roots.map(build) : build(roots[0]!)
}

/**
 * Tasks and links of the graph: all tasks, or one task's connected part (through dependencies
 * and the hierarchy). Links are dependencies (prerequisite -> dependent) and subtasks
 * (parent -> child).
 */
export function* graph(tx: Tx, id: string | undefined, now: number): Step<{ tasks: Array<Task>; edges: Array<GraphLink> }> {
  let ids: Array<string>
  if (id === undefined) {
    ids = (yield* tx.store.listTasks({})).map((t) => t.id)
  } else {
    yield* load(tx, id)
    ids = yield* breadthFirst([id], function* (level) {
      const next: Array<string> = []
      for (const cur of level) {
        const t = yield* tx.store.getTask(cur)
        for (const n of yield* tx.store.prerequisitesOf(cur)) next.push(n.taskId)
        for (const n of yield* tx.store.dependentsOf(cur)) next.push(n.taskId)
        next.push(...(yield* tx.store.childIds(cur)))
        if (t?.parentTaskId != null) next.push(t.parentTaskId)
      }
      return next
    })
  }
  const stored = yield* tx.store.getTasks(ids)
  const tasks = stored.map((t) => view(tx, t, now))
  const edges: Array<GraphLink> = (yield* tx.store.edgesAmong(ids)).map((e) => ({
    from: e.prerequisiteTaskId,
    to: e.dependentTaskId,
    resolved: e.resolvedAt !== null,
    kind: "dependency" as const,
    type: e.dependencyType,
    onFailure: e.onFailure
  }))
  const inSet = new Set(ids)
  for (const t of stored) {
    if (t.parentTaskId !== null && inSet.has(t.parentTaskId)) {
      edges.push({ from: t.parentTaskId, to: t.id, resolved: isTerminal(t.status), kind: "subtask", type: null, onFailure: null })
    }
  }
  return { tasks, edges }
}

/** Completions and failures per minute over the last `windowMs`, and the newest failed attempts. */
export function* activity(tx: Tx, windowMs: number, failures: number, now: number): Step<Activity> {
  const since = formatTimestamp(now - windowMs)
  return {
    since,
    until: formatTimestamp(now),
    minutes: yield* tx.store.activitySince(since),
    recentFailures: yield* tx.store.recentFailures(since, failures)
  }
}

export function* auditOf(tx: Tx, id: string): Step<Array<AuditEntry>> {
  yield* load(tx, id)
  return yield* tx.store.auditOf(id)
}
