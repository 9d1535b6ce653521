/**
 * Submission: one task, or a plan (a tree of tasks with dependencies by key) all or nothing,
 * each with its idempotency key (a repeat with the same fields returns what the first made).
 */
import {
  canonicalJson,
  defaultSource,
  type DependsOnSpec,
  depthFrom,
  describePlanProblem,
  emptySubtree,
  flattenPlan,
  formatTimestamp,
  isWaiting,
  newTaskId,
  PlanInput,
  type PriorityFacts,
  type SubmitTask,
  SubmitTaskInput,
  summarize,
  type Task,
  type TaskDependency,
  type TaskSource,
  type TaskStatus
} from "@abathur/domain"
import type { AuditEntry, StoredTask } from "@abathur/storage"
import { createHash } from "node:crypto"
import { v7 as uuidv7 } from "uuid"
import { drain, gated } from "./Cascade.js"
import { checkDeadlock, checkPlanDeadlock, checkPlanHierarchy, checkPrerequisite, checkSubmitHierarchy, insertEdge, resolution } from "./Graph.js"
import { type SubmitDefaults, validate } from "./Model.js"
import { DependencyCycle, IdempotencyConflict, TaskNotFound, ValidationError } from "./QueueError.js"
import { ms, refreshById, scoreAt, view } from "./Ranking.js"
import { bump } from "./Status.js"
import type { Step } from "./Store.js"
import { audit, auditMany, checkLimit, load, type Tx } from "./Tx.js"

const fingerprint = (value: unknown): string => createHash("sha256").update(canonicalJson(value)).digest("hex")

/**
 * A new task's row, built once: its priority facts come from the input and the submission time
 * (`at`, `now` formatted once per operation; `atMs` that time read back), not from a first draft
 * of the row parsed again. The fields keep the order of the stored model (rowToTask's).
 */
const newTask = (
  tx: Tx,
  input: Omit<SubmitTask, "dependsOn">,
  now: number,
  at: string,
  atMs: number,
  status: TaskStatus,
  depth: number,
  parentTaskId: string | null,
  openDependents: number,
  extra: { source: TaskSource; ancestorGated: boolean; idempotencyFingerprint: string | null; openBelow?: number }
): StoredTask => {
  // Time-ordered in its first 8 hex digits, which still tell tasks apart (domain's Ids.ts).
  const id = newTaskId()
  const deadline = input.deadline ?? null
  const estimatedDurationSeconds = input.estimatedDurationSeconds ?? null
  const notBefore = input.notBefore ?? null
  const facts: PriorityFacts = {
    priority: input.priority,
    source: extra.source,
    deadline: ms(deadline),
    estimatedDurationSeconds,
    openDependents,
    waitingSince: atMs
  }
  const score = scoreAt(tx, status, facts, now, id, notBefore)
  return {
    id,
    prompt: input.prompt,
    summary: input.summary ?? summarize(input.prompt),
    agentType: input.agentType,
    priority: input.priority,
    status,
    source: extra.source,
    dependencyType: input.dependencyType,
    calculatedPriority: score.calculatedPriority,
    deadline,
    estimatedDurationSeconds,
    dependencyDepth: depth,
    parentTaskId,
    sessionId: input.sessionId ?? null,
    inputData: input.inputData,
    resultData: null,
    errorMessage: null,
    retryCount: 0,
    maxRetries: input.maxRetries,
    maxExecutionTimeoutSeconds: input.maxExecutionTimeoutSeconds,
    submittedAt: at,
    startedAt: null,
    completedAt: null,
    lastUpdatedAt: at,
    createdBy: input.createdBy ?? null,
    leaseToken: null,
    leaseExpiresAt: null,
    workerId: null,
    priorityRefreshAt: score.priorityRefreshAt,
    cancelledBy: null,
    priorityRank: score.priorityRank,
    priorityStarved: score.priorityStarved,
    notBefore,
    idempotencyKey: input.idempotencyKey ?? null,
    idempotencyFingerprint: extra.idempotencyFingerprint,
    stallCount: 0,
    retryBackoffSeconds: input.retryBackoffSeconds ?? null,
    subtree: { open: extra.openBelow ?? 0, completed: 0, failed: 0, cancelled: 0 },
    ancestorGated: extra.ancestorGated
  }
}

/** The existing task of an idempotency key (same fields), or null; a conflict when the fields differ. */
function* idempotent(tx: Tx, key: string | null | undefined, fp: string | null): Step<StoredTask | null> {
  if (key == null || fp === null) return null
  const existing = yield* tx.store.taskByIdempotencyKey(key)
  if (existing === null) return null
  if (existing.idempotencyFingerprint === fp) return existing
  throw new IdempotencyConflict({
    message: `idempotencyKey ${JSON.stringify(key)} was used for task ${existing.id} with other fields: use a new key for new work`,
    taskId: existing.id
  })
}

/**
 * Submits one task. Its status is READY or BLOCKED at once. With an idempotency key that names
 * a task submitted with the same fields, returns that task (`created: false`).
 */
export function* submit(
  tx: Tx,
  raw: unknown,
  now: number,
  actor: string | null,
  options: SubmitDefaults = {}
): Step<{ task: Task; created: boolean }> {
  const input = validate(SubmitTaskInput, raw)
  const limits = tx.settings.limits
  const parentTaskId = input.parentTaskId ?? null
  const source = input.source ?? defaultSource(parentTaskId !== null, options.defaultSource)
  const fp = input.idempotencyKey == null ? null : fingerprint({ ...input, source })
  const existing = yield* idempotent(tx, input.idempotencyKey, fp)
  if (existing !== null) return { task: view(tx, existing, now), created: false }
  let parent: StoredTask | null = null
  if (parentTaskId !== null) {
    parent = yield* load(tx, parentTaskId, "parent task")
    checkLimit("subtasks", limits.maxSubtasks, (yield* tx.store.countChildren(parentTaskId)) + 1, `subtasks of ${parentTaskId}`)
  }
  const specs = new Map<string, DependsOnSpec>()
  for (const d of input.dependsOn) if (!specs.has(d.id)) specs.set(d.id, d)
  checkLimit("dependencies", limits.maxDependencies, specs.size, "prerequisites of the new task")
  const prereqs = new Map((yield* tx.store.getTasks([...specs.keys()])).map((t) => [t.id, t]))
  const edges: Array<{ p: StoredTask; spec: DependsOnSpec; resolvedAt: string | null }> = []
  for (const [pid, spec] of specs) {
    const p = prereqs.get(pid)
    if (p === undefined) throw new TaskNotFound({ message: `prerequisite ${pid} does not exist`, taskId: pid })
    checkPrerequisite(p, spec.onFailure)
    edges.push({ p, spec, resolvedAt: resolution(p, spec.onFailure, now) })
  }
  yield* checkSubmitHierarchy(
    tx,
    parentTaskId,
    edges.map((e) => e.p.id)
  )
  const depth = depthFrom(edges.map((e) => e.p.dependencyDepth))
  checkLimit("depth", limits.maxDepth, depth, "dependency depth of the new task")
  const ancestorGated = parent !== null && (yield* gated(tx, parent))
  const waits = ancestorGated || edges.some((e) => e.resolvedAt === null)
  const at = formatTimestamp(now)
  const task = newTask(tx, input, now, at, ms(at) ?? now, waits ? "blocked" : "ready", depth, parentTaskId, 0, {
    source,
    ancestorGated,
    idempotencyFingerprint: fp
  })
  yield* tx.store.insertTask(task)
  for (const e of edges) yield* insertEdge(tx, task.id, e.p.id, e.spec.dependencyType ?? input.dependencyType, e.spec.onFailure, now, e.resolvedAt)
  yield* audit(tx, {
    taskId: task.id,
    fromStatus: null,
    toStatus: task.status,
    at: task.submittedAt,
    actor: actor ?? task.createdBy,
    reason: "submitted"
  })
  // A new open task below the parent: a finished subtree opens again (its dependents that have
  // not started wait for the new subtask too).
  if (parentTaskId !== null) yield* bump(tx, parentTaskId, { ...emptySubtree, open: 1 }, task.id)
  yield* drain(tx, now, actor)
  // Without a parent nothing waits for the new task yet: it cannot close a cycle.
  if (parentTaskId !== null) yield* checkDeadlock(tx, [task.id], "this subtask")
  // Work now waits on these: their dependency factor rose.
  for (const e of edges) if (e.resolvedAt === null && isWaiting(e.p.status)) yield* refreshById(tx, e.p.id, now)
  return { task: view(tx, task, now), created: true }
}

const noEdges: ReadonlyArray<string | null> = []

/**
 * Submits a plan (a tree of tasks with dependencies by key), all or nothing. With the plan's
 * idempotency key, a plan posted again with the same content returns the same tasks.
 */
export function* submitPlan(
  tx: Tx,
  raw: unknown,
  now: number,
  actor: string | null,
  onProgress?: (done: number, total: number) => void,
  options: SubmitDefaults = {}
): Step<{ tasks: Record<string, Task>; created: boolean }> {
  const plan = validate(PlanInput, raw)
  const planFp = plan.idempotencyKey === undefined ? null : fingerprint({ tasks: plan.tasks, defaultSource: options.defaultSource ?? "human" })
  if (plan.idempotencyKey !== undefined && planFp !== null) {
    const prior = yield* tx.store.getPlanSubmission(plan.idempotencyKey)
    if (prior !== null) {
      const first = Object.values(prior.taskKeys)[0] ?? ""
      if (prior.fingerprint !== planFp) {
        throw new IdempotencyConflict({
          message: `the plan's idempotencyKey ${JSON.stringify(plan.idempotencyKey)} was used for another plan: use a new key for new work`,
          taskId: first
        })
      }
      const stored = new Map((yield* tx.store.getTasks(Object.values(prior.taskKeys))).map((t) => [t.id, t]))
      const tasks: Record<string, Task> = {}
      for (const [key, tid] of Object.entries(prior.taskKeys)) {
        const t = stored.get(tid)
        if (t !== undefined) tasks[key] = view(tx, t, now)
      }
      return { tasks, created: false }
    }
  }
  const flat = flattenPlan(plan)
  if (flat._tag === "Problem") {
    const p = flat.problem
    if (p._tag === "Cycle") throw new DependencyCycle({ message: describePlanProblem(p), cycle: p.cycle })
    throw new ValidationError({ message: describePlanProblem(p) })
  }
  const limits = tx.settings.limits
  // The plan's nodes by place (parents before children); per-node facts below are arrays by place.
  const nodes = flat.nodes
  const total = nodes.length
  const indexOf = new Map<string, number>()
  for (let i = 0; i < total; i++) indexOf.set(nodes[i]!.key, i)
  const place = (key: string): number => indexOf.get(key)!
  const nodeKeys = nodes.flatMap((n) => (n.node.idempotencyKey != null ? [n.node.idempotencyKey] : []))
  if (nodeKeys.length > 0) {
    for (const [k, tid] of yield* tx.store.idempotencyKeysTaken(nodeKeys)) {
      throw new IdempotencyConflict({
        message: `idempotencyKey ${JSON.stringify(k)} of a plan node already names task ${tid}: repeat a whole plan with the plan's own idempotencyKey`,
        taskId: tid
      })
    }
  }
  yield* checkPlanHierarchy(tx, nodes, (key) => nodes[place(key)]!)
  // Existing tasks the plan names: prerequisites and parents.
  const external = [...new Set(nodes.flatMap((n) => n.externalDependsOn))]
  const states = new Map((yield* tx.store.getTasks(external)).map((t) => [t.id, t]))
  for (const n of nodes) {
    for (const e of n.edges) {
      if (e.local) continue
      const s = states.get(e.ref)
      if (s === undefined) throw new TaskNotFound({ message: `prerequisite ${e.ref} does not exist`, taskId: e.ref })
      checkPrerequisite(s, e.onFailure)
    }
  }
  const childCount = new Map<string, number>()
  for (const n of nodes) {
    const parent = n.parentKey ?? n.node.parentTaskId ?? null
    if (parent !== null) childCount.set(parent, (childCount.get(parent) ?? 0) + 1)
  }
  const externalParents = new Map<string, StoredTask>()
  for (const [parent, count] of childCount) {
    if (indexOf.has(parent)) {
      checkLimit("subtasks", limits.maxSubtasks, count, `subtasks of plan node ${JSON.stringify(parent)}`)
    } else {
      externalParents.set(parent, yield* load(tx, parent, "parent task"))
      checkLimit("subtasks", limits.maxSubtasks, (yield* tx.store.countChildren(parent)) + count, `subtasks of ${parent}`)
    }
  }
  // Depths in dependency order; dependents counted for the priority.
  const depth = new Array<number>(total).fill(0)
  const localDependents = new Array<number>(total).fill(0)
  for (const key of flat.order) {
    const n = nodes[place(key)]!
    const count = n.localDependsOn.length + n.externalDependsOn.length
    checkLimit("dependencies", limits.maxDependencies, count, `prerequisites of plan node ${JSON.stringify(key)}`)
    const d =
      count === 0
        ? 0
        : depthFrom([...n.localDependsOn.map((k) => depth[place(k)]!), ...n.externalDependsOn.map((id) => states.get(id)!.dependencyDepth)])
    checkLimit("depth", limits.maxDepth, d, `dependency depth of plan node ${JSON.stringify(key)}`)
    depth[place(key)] = d
    for (const k of n.localDependsOn) localDependents[place(k)]!++
  }
  // Edges' resolution (a plan's own tasks are open), gates (parents come before children) and
  // the open tasks below each node.
  const parentOf = new Array<number>(total)
  const resolvedAt = new Array<ReadonlyArray<string | null>>(total)
  const ownWait = new Array<boolean>(total)
  const gatedAbove = new Array<boolean>(total)
  const gatedParent = new Map<string, boolean>()
  for (let i = 0; i < total; i++) {
    const n = nodes[i]!
    const p = n.parentKey === null ? -1 : place(n.parentKey)
    parentOf[i] = p
    const r = n.edges.length === 0 ? noEdges : n.edges.map((e) => (e.local ? null : resolution(states.get(e.ref)!, e.onFailure, now)))
    resolvedAt[i] = r
    ownWait[i] = r.some((x) => x === null)
    if (p !== -1) gatedAbove[i] = ownWait[p]! || gatedAbove[p]!
    else {
      const ext = n.node.parentTaskId != null ? externalParents.get(n.node.parentTaskId) : undefined
      let g = false
      if (ext !== undefined) {
        // Read once per existing parent: nothing is written before the inserts.
        const known = gatedParent.get(ext.id)
        if (known === undefined) gatedParent.set(ext.id, (g = yield* gated(tx, ext)))
        else g = known
      }
      gatedAbove[i] = g
    }
  }
  const openBelow = new Array<number>(total).fill(0)
  for (let i = total - 1; i >= 0; i--) {
    const p = parentOf[i]!
    if (p !== -1) openBelow[p] = openBelow[p]! + 1 + openBelow[i]!
  }
  // Insert parents before children, then the edges.
  const created = new Array<StoredTask>(total)
  const submittedAt = formatTimestamp(now)
  const submittedMs = ms(submittedAt) ?? now
  // Set-based: parents before children, many rows per statement.
  const step = 500
  for (let from = 0; from < total; from += step) {
    const rows: Array<StoredTask> = []
    const entries: Array<AuditEntry> = []
    for (let i = from; i < Math.min(from + step, total); i++) {
      const n = nodes[i]!
      const p = parentOf[i]!
      const parentId = p !== -1 ? created[p]!.id : (n.node.parentTaskId ?? null)
      const source = n.node.source ?? defaultSource(parentId !== null, options.defaultSource)
      const fp = n.node.idempotencyKey == null ? null : fingerprint({ ...n.node, children: undefined, source })
      const isGated = gatedAbove[i]!
      const status = isGated || ownWait[i]! ? "blocked" : "ready"
      const task = newTask(tx, n.node, now, submittedAt, submittedMs, status, depth[i]!, parentId, localDependents[i]!, {
        source,
        ancestorGated: isGated,
        idempotencyFingerprint: fp,
        openBelow: openBelow[i]!
      })
      rows.push(task)
      entries.push({
        taskId: task.id,
        fromStatus: null,
        toStatus: task.status,
        at: task.submittedAt,
        actor: actor ?? task.createdBy,
        reason: "submitted in a plan"
      })
      created[i] = task
    }
    yield* tx.store.insertTasks(rows)
    yield* auditMany(tx, entries)
    onProgress?.(Math.min(from + step, total), total)
  }
  const edges: Array<TaskDependency> = []
  for (let i = 0; i < total; i++) {
    const n = nodes[i]!
    const r = resolvedAt[i]!
    for (let j = 0; j < n.edges.length; j++) {
      const e = n.edges[j]!
      edges.push({
        id: uuidv7(),
        dependentTaskId: created[i]!.id,
        prerequisiteTaskId: e.local ? created[place(e.ref)]!.id : e.ref,
        dependencyType: e.dependencyType ?? n.node.dependencyType,
        onFailure: e.onFailure,
        createdAt: submittedAt,
        resolvedAt: r[j] ?? null
      })
    }
  }
  yield* tx.store.insertDependencies(edges)
  // New open tasks below existing parents: their subtrees may open again.
  for (let i = 0; i < total; i++) {
    const n = nodes[i]!
    if (n.parentKey === null && n.node.parentTaskId != null) {
      yield* bump(tx, n.node.parentTaskId, { ...emptySubtree, open: 1 + openBelow[i]! }, created[i]!.id)
    }
  }
  yield* drain(tx, now, actor)
  // A plain DAG of new tasks was checked by flattenPlan; hierarchy can hide a deadlock.
  if (externalParents.size > 0) {
    if (edges.length > 0)
      yield* checkDeadlock(
        tx,
        created.map((t) => t.id),
        "this plan"
      )
  } else if (edges.length > 0 && nodes.some((n) => n.parentKey !== null)) {
    checkPlanDeadlock(
      nodes.map((n, i) => ({
        id: created[i]!.id,
        parentId: parentOf[i] === -1 ? null : created[parentOf[i]!]!.id,
        openBelow: openBelow[i]!,
        waitsOn: n.edges.filter((e) => e.local).map((e) => created[place(e.ref)]!.id)
      }))
    )
  }
  for (const id of external) {
    const s = states.get(id)!
    if (isWaiting(s.status)) yield* refreshById(tx, id, now)
  }
  const result: Record<string, Task> = {}
  for (let i = 0; i < total; i++) result[nodes[i]!.key] = view(tx, created[i]!, now)
  if (plan.idempotencyKey !== undefined && planFp !== null) {
    const taskKeys: Record<string, string> = {}
    for (let i = 0; i < total; i++) taskKeys[nodes[i]!.key] = created[i]!.id
    yield* tx.store.insertPlanSubmission(plan.idempotencyKey, { fingerprint: planFp, taskKeys }, submittedAt)
  }
  return { tasks: result, created: true }
}
