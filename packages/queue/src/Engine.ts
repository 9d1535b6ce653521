import {
  canTransition,
  type ClaimedTask,
  depthFrom,
  describePlanProblem,
  type ExecutionPlan,
  findCycle,
  flattenPlan,
  formatIssues,
  formatTimestamp,
  isTerminal,
  isWaiting,
  MAX_DURATION_SECONDS,
  OpenStatuses,
  parseTimestamp,
  PlanInput,
  type PriorityBreakdown,
  priorityBreakdown,
  type PriorityFacts,
  priorityRank,
  rankedScore,
  starvationRate,
  type QueueStatus,
  SubmitTaskInput,
  type SubmitTask,
  summarize,
  type Task,
  type DependencyLink,
  type DependencyType,
  type TaskDependency,
  type TaskStatus,
  TerminalStatuses,
  topologicalBatches,
  type JsonValue
} from "@abathur/domain"
import type { ActivityMinute, AuditEntry, DueRefresh, ListFilter, RefreshFacts, StoredPriority, StoredTask, TaskPatch, TaskStore } from "@abathur/storage"
import { v7 as uuidv7 } from "uuid"
import type { z } from "zod"
import type { QueueSettings } from "./QueueConfig.js"
import {
  DependencyCycle,
  InvalidTransition,
  LeaseMismatch,
  LimitExceeded,
  TaskNotFound,
  ValidationError
} from "./QueueError.js"

/** A state change made by an operation (published after commit). */
export interface TaskChange {
  readonly taskId: string
  readonly from: TaskStatus | null
  readonly to: TaskStatus
  readonly at: string
}

/**
 * A task as `list` and `show` give it: a RUNNING task adds the name of the worker that claimed it
 * (`worker`, null when the claim named none) and when its lease ends (`leaseExpiresAt`).
 */
export type ListedTask = Task & { readonly worker?: string | null; readonly leaseExpiresAt?: string | null }

/** Completions and failures over a recent window, per minute, from the audit trail. */
export interface Activity {
  readonly since: string
  readonly until: string
  readonly minutes: ReadonlyArray<ActivityMinute>
  /** The newest failed attempts (retried or final), newest first. */
  readonly recentFailures: ReadonlyArray<AuditEntry>
}

/** A task with its neighbourhood, as `show` prints it. */
export interface TaskDetail extends Task {
  readonly worker?: string | null
  readonly leaseExpiresAt?: string | null
  readonly prerequisites: ReadonlyArray<DependencyLink>
  readonly dependents: ReadonlyArray<DependencyLink>
  readonly children: ReadonlyArray<string>
  readonly priorityBreakdown: PriorityBreakdown
}

export interface TreeNode {
  readonly task: Task
  readonly children: ReadonlyArray<TreeNode>
}

/** Validates `input` with a zod schema or throws the contract's ValidationError. */
export const validate = <S extends z.ZodType>(schema: S, input: unknown): z.output<S> => {
  const result = schema.safeParse(input)
  if (!result.success) throw new ValidationError({ message: formatIssues(result.error) })
  return result.data
}

/** The public model of a stored task (no lease or bookkeeping fields), as stored. */
export const publicTask = (t: StoredTask): Task => {
  const {
    leaseToken: _l,
    leaseExpiresAt: _e,
    workerId: _w,
    priorityRefreshAt: _p,
    cancelledBy: _c,
    priorityRank: _r,
    priorityStarved: _s,
    ...task
  } = t
  return task
}

/**
 * A number in [0, 1) fixed by a task id: its last 32 bits, random in a UUID v4 and in a v7 alike
 * (a v7's first bits are its creation time, the same for a whole plan).
 */
const spreadOf = (id: string): number => {
  const n = Number.parseInt(id.slice(-8), 16)
  return Number.isFinite(n) ? n / 2 ** 32 : 0
}

/** A stored timeout within the contract's bound (a row from an older version may hold any number). */
const boundedTimeout = (seconds: number): number =>
  Number.isFinite(seconds) && seconds >= 1 ? Math.min(Math.round(seconds), MAX_DURATION_SECONDS) : MAX_DURATION_SECONDS

const ms = (iso: string | null): number | null => (iso === null ? null : (parseTimestamp(iso) ?? null))

/**
 * The queue's rules, over the task repository. Every public method runs inside one
 * transaction opened by the caller (TaskQueue), takes the current time, and either
 * completes or throws a QueueError, in which case the transaction rolls back.
 */
export class Engine {
  /** Changes made by the current operation. */
  private changes: Array<TaskChange> = []

  constructor(
    private readonly store: TaskStore,
    private readonly settings: QueueSettings
  ) {}

  /** Returns and forgets the changes made since the last call. */
  takeChanges(): Array<TaskChange> {
    const c = this.changes
    this.changes = []
    return c
  }

  // ---- helpers ---------------------------------------------------------------------------

  private load(id: string, what = "task"): StoredTask {
    const task = this.store.getTask(id)
    if (task === null) {
      throw new TaskNotFound({ message: `${what} ${id} does not exist: check the id with \`abathur list\``, taskId: id })
    }
    return task
  }

  private audit(entry: AuditEntry): void {
    this.store.insertAudit(entry)
    this.changes.push({ taskId: entry.taskId, from: entry.fromStatus, to: entry.toStatus, at: entry.at })
  }

  private auditMany(entries: ReadonlyArray<AuditEntry>): void {
    this.store.insertAudits(entries)
    for (const e of entries) this.changes.push({ taskId: e.taskId, from: e.fromStatus, to: e.toStatus, at: e.at })
  }

  /** Moves a task to another state (checked against the state machine) and records it. */
  private transition(
    task: StoredTask,
    to: TaskStatus,
    now: number,
    patch: TaskPatch,
    actor: string | null,
    reason: string | null
  ): StoredTask {
    if (!canTransition(task.status, to)) {
      throw new InvalidTransition({
        message: `task ${task.id} is ${task.status} and cannot become ${to}`,
        taskId: task.id,
        status: task.status
      })
    }
    const at = formatTimestamp(now)
    let next: StoredTask = { ...task, ...patch, status: to, lastUpdatedAt: at }
    const full: TaskPatch = { ...patch, status: to, lastUpdatedAt: at }
    if (isWaiting(to)) {
      // The refreshed priority goes into the same UPDATE as the state change (one statement, not two).
      const p = this.priorityOf(next, now)
      Object.assign(full, p)
      next = { ...next, ...p }
    } else {
      // Out of the claim order: the score stays what it was when the task stopped waiting.
      const calculatedPriority = this.view(task, now).calculatedPriority
      full.calculatedPriority = calculatedPriority
      full.priorityRefreshAt = null
      full.priorityRank = null
      next = { ...next, calculatedPriority, priorityRefreshAt: null, priorityRank: null }
    }
    this.store.updateTask(task.id, full)
    this.audit({ taskId: task.id, fromStatus: task.status, toStatus: to, at, actor, reason })
    return next
  }

  private facts(task: StoredTask, openDependents?: number): PriorityFacts {
    return {
      priority: task.priority,
      source: task.source,
      deadline: ms(task.deadline),
      estimatedDurationSeconds: task.estimatedDurationSeconds,
      openDependents: openDependents ?? this.store.countOpenDependents(task.id),
      waitingSince: ms(task.submittedAt) ?? 0
    }
  }

  /** Recomputes a waiting task's stored priority, claim rank and next refresh time. */
  private refresh(task: StoredTask, now: number, openDependents?: number): StoredTask {
    if (!isWaiting(task.status)) return task
    const p = this.priorityOf(task, now, openDependents)
    if (
      p.calculatedPriority !== task.calculatedPriority ||
      p.priorityRank !== task.priorityRank ||
      p.priorityStarved !== task.priorityStarved ||
      p.priorityRefreshAt !== task.priorityRefreshAt
    ) {
      this.store.updateTask(task.id, p)
    }
    return { ...task, ...p }
  }

  /** A waiting task's priority at `now`, its place in the claim order and when to recompute them. */
  private priorityOf(task: StoredTask, now: number, openDependents?: number): StoredPriority {
    return this.scoreAt(task.status, this.facts(task, openDependents), now, task.id)
  }

  /**
   * The score of a task with these facts at `now`, its claim rank, and when they must next be
   * recomputed. Only READY tasks are refreshed as time passes (claims compare READY tasks
   * only); a BLOCKED task's are recomputed when its facts change and when it becomes READY.
   */
  private scoreAt(status: TaskStatus, facts: PriorityFacts, now: number, id: string): StoredPriority {
    const p = this.settings.priority
    const r = priorityRank(facts, now, p)
    let refreshAt = r.refreshAt
    const rate = starvationRate(p)
    if (refreshAt !== null && !r.starved && facts.deadline === null && rate > 0) {
      // Tasks submitted together reach the horizon together: each crosses at an instant of its
      // own within the last refresh step before it (by its id), so that a busy queue spreads a
      // big plan's crossing over many claims instead of stalling one of them.
      const horizonAt = facts.waitingSince + p.starvationHorizonSeconds * 1000
      refreshAt = Math.max(now, Math.ceil(horizonAt - spreadOf(id) * (p.refreshStep / rate)))
    }
    return {
      calculatedPriority: r.calculatedPriority,
      priorityRank: r.rank,
      priorityStarved: r.starved,
      priorityRefreshAt: status === "ready" && refreshAt !== null ? formatTimestamp(refreshAt) : null
    }
  }

  /**
   * The public model of a task at `now`: a waiting task's score is what its rank stands for
   * now (starvation grows while it waits, without a write); other tasks keep their last score.
   */
  private view(t: StoredTask, now: number): Task {
    const task = publicTask(t)
    if (!isWaiting(t.status) || t.priorityRank === null) return task
    const waitingSince = ms(t.submittedAt) ?? 0
    const score = rankedScore({ rank: t.priorityRank, starved: t.priorityStarved, waitingSince }, now, this.settings.priority)
    return { ...task, calculatedPriority: Math.min(100, Math.max(0, score)) }
  }

  /** The public model, with the worker and lease end of a RUNNING task (never its lease token). */
  private listed(t: StoredTask, now: number): ListedTask {
    const task = this.view(t, now)
    return t.status === "running" ? { ...task, worker: t.workerId, leaseExpiresAt: t.leaseExpiresAt } : task
  }

  private claimed(t: StoredTask, now: number): ClaimedTask {
    return { ...this.view(t, now), leaseToken: t.leaseToken ?? "", leaseExpiresAt: t.leaseExpiresAt ?? "" }
  }

  private refreshById(id: string, now: number): void {
    const task = this.store.getTask(id)
    if (task !== null) this.refresh(task, now)
  }

  /**
   * Refreshes every stored priority whose time has come (the freshness rule): READY tasks
   * whose urgency has risen by a step, or that have just crossed the starvation horizon.
   */
  refreshDue(now: number): number {
    // One query reads every due task; one prepared UPDATE per task writes it back (only a task
    // with a deadline needs its dependents counted).
    const due = this.store.dueForRefresh(formatTimestamp(now))
    for (const f of due) if (!this.crossHorizon(f, now)) this.rerank(f, now)
    return due.length
  }

  /**
   * Moves a READY task without a deadline into the starved class once it is within one refresh
   * step of the horizon (its refresh time is set early, see `scoreAt`): its score stops growing
   * at its rank's value at the horizon, at most a step above the formula until then, and nothing
   * about it moves with time any more (no need to count its dependents). False when that does
   * not apply.
   */
  private crossHorizon(f: DueRefresh, now: number): boolean {
    const p = this.settings.priority
    const rate = starvationRate(p)
    const waitingSince = ms(f.submittedAt) ?? 0
    const horizonAt = waitingSince + p.starvationHorizonSeconds * 1000
    if (f.deadline !== null || f.rank === null || f.starved || rate === 0 || now < horizonAt - p.refreshStep / rate) return false
    const score = rankedScore({ rank: f.rank, starved: false, waitingSince }, horizonAt, p)
    // The stored score (calculated_priority) keeps its last value: reads derive the score from
    // the rank, and leaving it spares an index and the statistics trigger per crossing.
    this.store.updateTask(f.id, { priorityRank: score, priorityStarved: true, priorityRefreshAt: null })
    return true
  }

  private rerank(f: DueRefresh, now: number): void {
    const facts = this.refreshFacts({ ...f, openDependents: this.store.countOpenDependents(f.id) })
    this.store.setPriority(f.id, this.scoreAt(f.status, facts, now, f.id))
  }

  private refreshFacts(f: RefreshFacts): PriorityFacts {
    return {
      priority: f.priority,
      source: f.source,
      deadline: ms(f.deadline),
      estimatedDurationSeconds: f.estimatedDurationSeconds,
      openDependents: f.openDependents,
      waitingSince: ms(f.submittedAt) ?? 0
    }
  }

  /** The best READY task at `now` (ties: oldest first): the better head of the two rank classes. */
  private bestReady(agentType: string | null, now: number): string | null {
    let best: { id: string; score: number; submittedAt: string } | null = null
    for (const h of this.store.readyHeads(agentType)) {
      const score = rankedScore({ rank: h.rank, starved: h.starved, waitingSince: ms(h.submittedAt) ?? 0 }, now, this.settings.priority)
      if (best === null || score > best.score || (score === best.score && h.submittedAt < best.submittedAt)) {
        best = { id: h.id, score, submittedAt: h.submittedAt }
      }
    }
    return best?.id ?? null
  }

  private checkLimit(limit: "dependencies" | "depth" | "subtasks", max: number, actual: number, what: string): void {
    if (actual > max) {
      throw new LimitExceeded({
        message: `${what}: ${actual} is over the limit of ${max} (raise ABATHUR_MAX_${limit === "dependencies" ? "DEPENDENCIES" : limit === "depth" ? "DEPTH" : "SUBTASKS"}, 0 = unlimited)`,
        limit,
        max,
        actual
      })
    }
  }

  private checkLease(task: StoredTask, leaseToken: string | undefined, action: string): void {
    if (task.status !== "running") {
      throw new InvalidTransition({
        message: `cannot ${action} task ${task.id}: it is ${task.status}, not running`,
        taskId: task.id,
        status: task.status
      })
    }
    if (leaseToken !== undefined && leaseToken !== task.leaseToken) {
      throw new LeaseMismatch({
        message: `task ${task.id} is running under another lease: it was reclaimed, so this worker's result is refused`,
        taskId: task.id
      })
    }
  }

  /** A prerequisite that is FAILED or CANCELLED cannot be depended on. */
  private checkDependable(prerequisiteId: string, status: TaskStatus): void {
    if (status === "failed" || status === "cancelled") {
      throw new InvalidTransition({
        message: `task ${prerequisiteId} is ${status} and cannot be depended on: retry it first`,
        taskId: prerequisiteId,
        status
      })
    }
  }

  // ---- submission ------------------------------------------------------------------------

  private newTask(
    input: SubmitTask,
    now: number,
    status: TaskStatus,
    depth: number,
    parentTaskId: string | null,
    openDependents: number
  ): StoredTask {
    const at = formatTimestamp(now)
    const task: StoredTask = {
      // Random (v4), not time-ordered: people name tasks by their first hex digits (`abathur show
      // 3f2b`), and a v7's first digits are its creation time, the same for a whole plan. Edges,
      // which nobody names, take time-ordered ids (below).
      id: crypto.randomUUID(),
      prompt: input.prompt,
      summary: input.summary ?? summarize(input.prompt),
      agentType: input.agentType,
      priority: input.priority,
      status,
      source: input.source,
      dependencyType: input.dependencyType,
      calculatedPriority: 0,
      deadline: input.deadline ?? null,
      estimatedDurationSeconds: input.estimatedDurationSeconds ?? null,
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
      priorityRefreshAt: null,
      cancelledBy: null,
      priorityRank: null,
      priorityStarved: false
    }
    return { ...task, ...this.scoreAt(status, this.facts(task, openDependents), now, task.id) }
  }

  private insertEdge(dependentId: string, prerequisiteId: string, type: DependencyType, now: number, resolvedAt: string | null) {
    this.store.insertDependency({
      // Time-ordered (UUID v7, RFC 9562): new edges append to the primary key's b-tree.
      id: uuidv7(),
      dependentTaskId: dependentId,
      prerequisiteTaskId: prerequisiteId,
      dependencyType: type,
      createdAt: formatTimestamp(now),
      resolvedAt
    })
  }

  /** Submits one task. Its status is READY or BLOCKED at once. */
  submit(raw: unknown, now: number, actor: string | null): Task {
    const input = validate(SubmitTaskInput, raw)
    const limits = this.settings.limits
    const parentTaskId = input.parentTaskId ?? null
    if (parentTaskId !== null) {
      this.load(parentTaskId, "parent task")
      this.checkLimit("subtasks", limits.maxSubtasks, this.store.countChildren(parentTaskId) + 1, `subtasks of ${parentTaskId}`)
    }
    const prereqIds = [...new Set(input.dependsOn)]
    this.checkLimit("dependencies", limits.maxDependencies, prereqIds.length, "prerequisites of the new task")
    const states = this.store.getStates(prereqIds)
    for (const id of prereqIds) {
      const s = states.get(id)
      if (s === undefined) throw new TaskNotFound({ message: `prerequisite ${id} does not exist: check the id with \`abathur list\``, taskId: id })
      this.checkDependable(id, s.status)
    }
    const depth = depthFrom([...states.values()].map((s) => s.depth))
    this.checkLimit("depth", limits.maxDepth, depth, "dependency depth of the new task")
    const open = prereqIds.filter((id) => states.get(id)!.status !== "completed")
    const task = this.newTask(input, now, open.length > 0 ? "blocked" : "ready", depth, parentTaskId, 0)
    this.store.insertTask(task)
    for (const id of prereqIds) {
      const s = states.get(id)!
      this.insertEdge(task.id, id, input.dependencyType, now, s.status === "completed" ? (s.completedAt ?? task.submittedAt) : null)
    }
    this.audit({ taskId: task.id, fromStatus: null, toStatus: task.status, at: task.submittedAt, actor: actor ?? task.createdBy, reason: "submitted" })
    // Work now waits on these: their dependency factor rose.
    for (const id of open) this.refreshById(id, now)
    return this.view(task, now)
  }

  /** Submits a plan (a tree of tasks with dependencies by key), all or nothing. */
  submitPlan(raw: unknown, now: number, actor: string | null, onProgress?: (done: number, total: number) => void): Record<string, Task> {
    const plan = validate(PlanInput, raw)
    const flat = flattenPlan(plan)
    if (flat._tag === "Problem") {
      const p = flat.problem
      if (p._tag === "Cycle") throw new DependencyCycle({ message: describePlanProblem(p), cycle: p.cycle })
      throw new ValidationError({ message: describePlanProblem(p) })
    }
    const limits = this.settings.limits
    const byKey = new Map(flat.nodes.map((n) => [n.key, n]))
    // Existing tasks the plan names: prerequisites and parents.
    const external = [...new Set(flat.nodes.flatMap((n) => n.externalDependsOn))]
    const states = this.store.getStates(external)
    for (const id of external) {
      const s = states.get(id)
      if (s === undefined) throw new TaskNotFound({ message: `prerequisite ${id} does not exist: check the id with \`abathur list\``, taskId: id })
      this.checkDependable(id, s.status)
    }
    const childCount = new Map<string, number>()
    for (const n of flat.nodes) {
      const parent = n.parentKey ?? n.node.parentTaskId ?? null
      if (parent !== null) childCount.set(parent, (childCount.get(parent) ?? 0) + 1)
    }
    for (const [parent, count] of childCount) {
      if (byKey.has(parent)) {
        this.checkLimit("subtasks", limits.maxSubtasks, count, `subtasks of plan node ${JSON.stringify(parent)}`)
      } else {
        this.load(parent, "parent task")
        this.checkLimit("subtasks", limits.maxSubtasks, this.store.countChildren(parent) + count, `subtasks of ${parent}`)
      }
    }
    // Depths and statuses in dependency order; dependents counted for the priority.
    const depth = new Map<string, number>()
    const blocked = new Map<string, boolean>()
    const localDependents = new Map<string, number>()
    for (const key of flat.order) {
      const n = byKey.get(key)!
      const count = n.localDependsOn.length + n.externalDependsOn.length
      this.checkLimit("dependencies", limits.maxDependencies, count, `prerequisites of plan node ${JSON.stringify(key)}`)
      const d = depthFrom([
        ...n.localDependsOn.map((k) => depth.get(k)!),
        ...n.externalDependsOn.map((id) => states.get(id)!.depth)
      ])
      this.checkLimit("depth", limits.maxDepth, d, `dependency depth of plan node ${JSON.stringify(key)}`)
      depth.set(key, d)
      blocked.set(key, n.localDependsOn.length > 0 || n.externalDependsOn.some((id) => states.get(id)!.status !== "completed"))
      for (const k of n.localDependsOn) localDependents.set(k, (localDependents.get(k) ?? 0) + 1)
    }
    // Insert parents before children, then the edges: set-based, many rows per statement.
    const created = new Map<string, StoredTask>()
    const total = flat.nodes.length
    const step = 500
    for (let from = 0; from < total; from += step) {
      const rows: Array<StoredTask> = []
      const entries: Array<AuditEntry> = []
      for (const n of flat.nodes.slice(from, from + step)) {
        const parentId = n.parentKey !== null ? created.get(n.parentKey)!.id : (n.node.parentTaskId ?? null)
        const input: SubmitTask = { ...n.node, dependsOn: [] }
        const task = this.newTask(input, now, blocked.get(n.key)! ? "blocked" : "ready", depth.get(n.key)!, parentId, localDependents.get(n.key) ?? 0)
        rows.push(task)
        entries.push({ taskId: task.id, fromStatus: null, toStatus: task.status, at: task.submittedAt, actor: actor ?? task.createdBy, reason: "submitted in a plan" })
        created.set(n.key, task)
      }
      this.store.insertTasks(rows)
      this.auditMany(entries)
      onProgress?.(Math.min(from + step, total), total)
    }
    const at = formatTimestamp(now)
    const edges: Array<TaskDependency> = []
    const edge = (dependentTaskId: string, prerequisiteTaskId: string, dependencyType: DependencyType, resolvedAt: string | null) =>
      edges.push({ id: uuidv7(), dependentTaskId, prerequisiteTaskId, dependencyType, createdAt: at, resolvedAt })
    for (const n of flat.nodes) {
      const task = created.get(n.key)!
      for (const k of n.localDependsOn) edge(task.id, created.get(k)!.id, n.node.dependencyType, null)
      for (const id of n.externalDependsOn) {
        const s = states.get(id)!
        edge(task.id, id, n.node.dependencyType, s.status === "completed" ? (s.completedAt ?? task.submittedAt) : null)
      }
    }
    this.store.insertDependencies(edges)
    for (const id of external) if (states.get(id)!.status !== "completed") this.refreshById(id, now)
    const result: Record<string, Task> = {}
    for (const [key, task] of created) result[key] = this.view(task, now)
    return result
  }

  /** Adds `dependent -> prerequisite` between existing tasks. */
  addDependency(dependentId: string, prerequisiteId: string, type: DependencyType | undefined, now: number, actor: string | null): TaskDetail {
    const dependent = this.load(dependentId)
    const prerequisite = this.load(prerequisiteId, "prerequisite")
    if (!(["pending", "blocked", "ready"] as ReadonlyArray<TaskStatus>).includes(dependent.status)) {
      throw new InvalidTransition({
        message: `task ${dependentId} is ${dependent.status}: only pending, blocked or ready tasks can get a new prerequisite`,
        taskId: dependentId,
        status: dependent.status
      })
    }
    if (dependentId === prerequisiteId) {
      throw new DependencyCycle({ message: `task ${dependentId} cannot depend on itself`, cycle: [dependentId, dependentId] })
    }
    this.checkDependable(prerequisiteId, prerequisite.status)
    if (this.store.hasDependency(dependentId, prerequisiteId)) return this.detail(dependentId, now)
    const limits = this.settings.limits
    this.checkLimit("dependencies", limits.maxDependencies, this.store.countPrerequisites(dependentId) + 1, `prerequisites of ${dependentId}`)
    const cycle = findCycle(
      { id: dependentId, depth: dependent.dependencyDepth },
      { id: prerequisiteId, depth: prerequisite.dependencyDepth },
      (id) => this.store.prerequisiteDepths(id)
    )
    if (cycle !== null) {
      throw new DependencyCycle({ message: `adding this dependency would close a cycle: ${cycle.join(" -> ")}`, cycle })
    }
    // Deepen the dependent and everything downstream of it, within the limit.
    const newDepth = prerequisite.dependencyDepth + 1
    if (newDepth > dependent.dependencyDepth) {
      const depths = new Map<string, number>([[dependentId, newDepth]])
      const queue = [dependentId]
      while (queue.length > 0) {
        const id = queue.shift()!
        const d = depths.get(id)!
        this.checkLimit("depth", limits.maxDepth, d, `dependency depth of ${id}`)
        for (const next of this.store.dependentsOf(id)) {
          if (next.depth < d + 1 && (depths.get(next.taskId) ?? -1) < d + 1) {
            depths.set(next.taskId, d + 1)
            queue.push(next.taskId)
          }
        }
      }
      for (const [id, d] of depths) this.store.updateTask(id, { dependencyDepth: d })
    }
    const open = prerequisite.status !== "completed"
    this.insertEdge(dependentId, prerequisiteId, type ?? dependent.dependencyType, now, open ? null : (prerequisite.completedAt ?? formatTimestamp(now)))
    if (open) {
      if (dependent.status === "ready") {
        this.transition(dependent, "blocked", now, {}, actor, `new prerequisite ${prerequisiteId}`)
      }
      this.refresh(prerequisite, now)
    }
    return this.detail(dependentId, now)
  }

  // ---- claims and leases -----------------------------------------------------------------

  /** Puts expired leases back to READY (retry + 1) or FAILED (retries spent). */
  recover(now: number): Array<string> {
    const expired = this.store.expiredLeases(formatTimestamp(now))
    for (const id of expired) {
      const task = this.load(id)
      this.failAttempt(task, `lease expired at ${task.leaseExpiresAt}: the worker stopped reporting`, now, "lease-recovery")
    }
    return expired
  }

  /** Claims the most important READY task, or returns null. */
  claim(options: { worker?: string | undefined; leaseSeconds?: number | undefined; agentType?: string | undefined }, now: number): ClaimedTask | null {
    this.recover(now)
    this.refreshDue(now)
    const id = this.bestReady(options.agentType ?? null, now)
    if (id === null) return null
    const task = this.load(id)
    // Inputs are bounded (7 days), but a row written by an older version may hold any timeout:
    // it is brought within the bound here, so that no row can make every claim fail.
    const timeout = boundedTimeout(task.maxExecutionTimeoutSeconds)
    const leaseSeconds = options.leaseSeconds ?? timeout
    const next = this.transition(
      task,
      "running",
      now,
      {
        startedAt: formatTimestamp(now),
        leaseToken: crypto.randomUUID(),
        leaseExpiresAt: formatTimestamp(now + leaseSeconds * 1000),
        workerId: options.worker ?? null,
        ...(timeout !== task.maxExecutionTimeoutSeconds && { maxExecutionTimeoutSeconds: timeout })
      },
      options.worker ?? null,
      "claimed"
    )
    return this.claimed(next, now)
  }

  /** Extends a RUNNING task's lease. */
  heartbeat(id: string, options: { leaseToken?: string | undefined; leaseSeconds?: number | undefined }, now: number): ClaimedTask {
    const task = this.load(id)
    this.checkLease(task, options.leaseToken, "heartbeat")
    const leaseExpiresAt = formatTimestamp(now + (options.leaseSeconds ?? boundedTimeout(task.maxExecutionTimeoutSeconds)) * 1000)
    const at = formatTimestamp(now)
    this.store.updateTask(id, { leaseExpiresAt, lastUpdatedAt: at })
    return this.claimed({ ...task, leaseExpiresAt, lastUpdatedAt: at }, now)
  }

  /** Completes a RUNNING task and unblocks the dependents whose last open prerequisite it was. */
  complete(id: string, options: { result?: JsonValue | undefined; leaseToken?: string | undefined }, now: number, actor: string | null): { task: Task; unblocked: Array<string> } {
    const task = this.load(id)
    this.checkLease(task, options.leaseToken, "complete")
    const at = formatTimestamp(now)
    const done = this.transition(
      task,
      "completed",
      now,
      { completedAt: at, resultData: options.result ?? null, errorMessage: null, leaseToken: null, leaseExpiresAt: null },
      actor ?? task.workerId,
      "completed"
    )
    // Set-wise: one UPDATE resolves every edge, one query finds the dependents it unblocked
    // with their priority facts, then one UPDATE per dependent and the audit rows in batches.
    if (this.store.resolveDependency(id, at).length === 0) return { task: this.view(done, now), unblocked: [] }
    const unblocked: Array<string> = []
    const entries: Array<AuditEntry> = []
    const reason = `last prerequisite ${id} completed`
    for (const f of this.store.unblockedBy(id, at)) {
      const p = this.scoreAt("ready", this.refreshFacts(f), now, f.id)
      this.store.updateTask(f.id, { status: "ready", lastUpdatedAt: at, ...p })
      entries.push({ taskId: f.id, fromStatus: f.status, toStatus: "ready", at, actor: actor ?? task.workerId, reason })
      unblocked.push(f.id)
    }
    this.auditMany(entries)
    return { task: this.view(done, now), unblocked }
  }

  /** One failed attempt: back to READY while retries remain, else FAILED with its cascade. */
  private failAttempt(task: StoredTask, error: string, now: number, actor: string | null): { task: StoredTask; retried: boolean; cancelled: Array<string> } {
    const cleared = { leaseToken: null, leaseExpiresAt: null, workerId: null, errorMessage: error }
    if (task.retryCount < task.maxRetries) {
      const next = this.transition(task, "ready", now, { ...cleared, retryCount: task.retryCount + 1 }, actor, `attempt failed, retry ${task.retryCount + 1} of ${task.maxRetries}: ${error}`)
      return { ...this.requeued(next, now, actor), retried: true }
    }
    const failed = this.transition(task, "failed", now, cleared, actor, `failed: ${error}`)
    const cancelled = this.cascade([task.id], task.id, `prerequisite ${task.id} failed`, now, actor, false)
    return { task: failed, retried: false, cancelled }
  }

  /** Fails a RUNNING task's attempt. */
  fail(id: string, options: { error: string; leaseToken?: string | undefined }, now: number, actor: string | null): { task: Task; retried: boolean; cancelled: Array<string> } {
    const task = this.load(id)
    this.checkLease(task, options.leaseToken, "fail")
    const r = this.failAttempt(task, options.error, now, actor ?? task.workerId)
    return { task: this.view(r.task, now), retried: r.retried, cancelled: r.cancelled }
  }

  /** Gives a RUNNING task back to the queue without spending a retry (a worker shutting down). */
  release(id: string, options: { leaseToken?: string | undefined; reason?: string | undefined }, now: number, actor: string | null): Task {
    const task = this.load(id)
    this.checkLease(task, options.leaseToken, "release")
    const next = this.transition(
      task,
      "ready",
      now,
      { leaseToken: null, leaseExpiresAt: null, workerId: null },
      actor ?? task.workerId,
      options.reason ?? "released by its worker"
    )
    return this.view(this.requeued(next, now, actor ?? task.workerId).task, now)
  }

  /**
   * A task back from RUNNING waits like any other (invariant 1): BLOCKED while a prerequisite is
   * open, CANCELLED (with its dependents) when one failed or was cancelled. Only a migrated legacy
   * database has RUNNING tasks like that; a task the engine let run had every prerequisite done.
   */
  private requeued(task: StoredTask, now: number, actor: string | null): { task: StoredTask; cancelled: Array<string> } {
    const prereqs = this.store.prerequisitesOf(task.id)
    const doom = prereqs.find((p) => p.status === "failed" || p.status === "cancelled")
    if (doom !== undefined) {
      const reason = `prerequisite ${doom.taskId} is ${doom.status}`
      const done = this.transition(task, "cancelled", now, { cancelledBy: doom.taskId, errorMessage: reason }, actor, reason)
      for (const p of prereqs) if (p.resolvedAt === null) this.refreshById(p.taskId, now)
      return { task: done, cancelled: this.cascade([task.id], doom.taskId, reason, now, actor, false) }
    }
    if (prereqs.some((p) => p.status !== "completed")) {
      return { task: this.transition(task, "blocked", now, {}, actor, "prerequisites not completed"), cancelled: [] }
    }
    return { task, cancelled: [] }
  }

  /**
   * Cancels every open task downstream of `roots` (transitive dependents; with `withSubtasks`,
   * also subtasks below them in the hierarchy and their dependents). Returns the ids cancelled.
   */
  private cascade(roots: ReadonlyArray<string>, cause: string, reason: string, now: number, actor: string | null, withSubtasks: boolean): Array<string> {
    const cancelled: Array<string> = []
    const seen = new Set(roots)
    const queue = [...roots]
    const touchedPrereqs = new Set<string>()
    // Finished subtasks met below the roots: only their own subtasks are followed (a finished
    // subtask stays as it is, but the open subtasks under it are still below the cancelled task).
    const finished = new Set<string>()
    while (queue.length > 0) {
      const id = queue.shift()!
      const next: Array<readonly [string, boolean]> = [
        ...(finished.has(id) ? [] : this.store.dependentsOf(id).map((d) => [d.taskId, false] as const)),
        ...(withSubtasks ? this.store.childIds(id).map((c) => [c, true] as const) : [])
      ]
      for (const [nid, subtask] of next) {
        if (seen.has(nid)) continue
        const t = this.store.getTask(nid)
        if (t === null) continue
        if (isTerminal(t.status)) {
          if (subtask) {
            seen.add(nid)
            finished.add(nid)
            queue.push(nid)
          }
          continue
        }
        seen.add(nid)
        this.transition(t, "cancelled", now, { leaseToken: null, leaseExpiresAt: null, workerId: null, cancelledBy: cause, errorMessage: reason }, actor, reason)
        cancelled.push(nid)
        queue.push(nid)
        for (const p of this.store.prerequisitesOf(nid)) if (p.resolvedAt === null) touchedPrereqs.add(p.taskId)
      }
    }
    // Tasks that lost an open dependent: their dependency factor fell.
    for (const id of touchedPrereqs) if (!seen.has(id)) this.refreshById(id, now)
    return cancelled
  }

  /** Cancels a task and, transitively, its open dependents and subtasks. */
  cancel(id: string, now: number, actor: string | null, reason?: string): { task: Task; cancelled: Array<string> } {
    const task = this.load(id)
    if (isTerminal(task.status)) {
      throw new InvalidTransition({ message: `task ${id} is already ${task.status}`, taskId: id, status: task.status })
    }
    const done = this.transition(
      task,
      "cancelled",
      now,
      { leaseToken: null, leaseExpiresAt: null, workerId: null, errorMessage: reason ?? "cancelled" },
      actor,
      reason ?? "cancelled"
    )
    for (const p of this.store.prerequisitesOf(id)) if (p.resolvedAt === null) this.refreshById(p.taskId, now)
    const cancelled = this.cascade([id], id, `task ${id} was cancelled`, now, actor, true)
    return { task: this.view(done, now), cancelled }
  }

  /** Retries a FAILED task; dependents its failure cancelled come back BLOCKED. */
  retry(id: string, now: number, actor: string | null): { task: Task; revived: Array<string> } {
    const task = this.load(id)
    if (task.status !== "failed") {
      throw new InvalidTransition({ message: `only failed tasks can be retried: task ${id} is ${task.status}`, taskId: id, status: task.status })
    }
    // Only a migrated legacy database has FAILED tasks whose prerequisites are not all COMPLETED.
    const prereqs = this.store.prerequisitesOf(id)
    const doom = prereqs.find((p) => p.status === "failed" || p.status === "cancelled")
    if (doom !== undefined) {
      throw new InvalidTransition({
        message: `task ${id} cannot be retried while its prerequisite ${doom.taskId} is ${doom.status}: retry that one first`,
        taskId: id,
        status: task.status
      })
    }
    const retried = this.transition(task, "ready", now, { errorMessage: null, retryCount: 0, completedAt: null }, actor, "retried")
    // The state machine takes a FAILED task back to READY only; it waits there if a prerequisite is open.
    const next = prereqs.some((p) => p.status !== "completed")
      ? this.transition(retried, "blocked", now, {}, actor, "prerequisites not completed")
      : retried
    // Candidates: cancelled tasks downstream whose cancellation this failure caused.
    const candidates = new Set<string>()
    const queue = [id]
    while (queue.length > 0) {
      const cur = queue.shift()!
      for (const d of this.store.dependentsOf(cur)) {
        if (d.status !== "cancelled" || candidates.has(d.taskId)) continue
        const t = this.store.getTask(d.taskId)
        if (t?.cancelledBy !== id) continue
        candidates.add(d.taskId)
        queue.push(d.taskId)
      }
    }
    // Keep only those that no other failed or cancelled prerequisite still dooms (fixed point).
    let changed = true
    while (changed) {
      changed = false
      for (const c of candidates) {
        const doomed = this.store
          .prerequisitesOf(c)
          .some((p) => p.taskId !== id && (p.status === "failed" || p.status === "cancelled") && !candidates.has(p.taskId))
        if (doomed) {
          candidates.delete(c)
          changed = true
        }
      }
    }
    const revived: Array<string> = []
    for (const c of candidates) {
      const t = this.load(c)
      this.transition(t, "blocked", now, { cancelledBy: null, errorMessage: null }, actor, `prerequisite ${id} was retried`)
      revived.push(c)
    }
    for (const c of [id, ...revived]) {
      for (const p of this.store.prerequisitesOf(c)) if (p.resolvedAt === null) this.refreshById(p.taskId, now)
    }
    return { task: this.view(this.load(next.id), now), revived }
  }

  /** Evaluates PENDING tasks (after a legacy migration): BLOCKED, READY or CANCELLED. */
  evaluatePending(now: number): number {
    const pending = this.store.idsWithStatus("pending")
    if (pending.length === 0) return 0
    const order = topologicalBatches(pending, (id) => this.store.prerequisitesOf(id).map((p) => p.taskId)).flat()
    for (const id of order) {
      const task = this.store.getTask(id)
      if (task === null || task.status !== "pending") continue
      const prereqs = this.store.prerequisitesOf(id)
      const doom = prereqs.find((p) => p.status === "failed" || p.status === "cancelled")
      if (doom !== undefined) {
        const reason = `prerequisite ${doom.taskId} is ${doom.status}`
        this.transition(task, "cancelled", now, { cancelledBy: doom.taskId, errorMessage: reason }, "engine", reason)
        // Its open prerequisites, evaluated before it, counted it as an open dependent.
        for (const p of prereqs) if (p.resolvedAt === null) this.refreshById(p.taskId, now)
        this.cascade([id], doom.taskId, reason, now, "engine", false)
      } else {
        const open = prereqs.some((p) => p.status !== "completed")
        this.transition(task, open ? "blocked" : "ready", now, {}, "engine", "prerequisites evaluated")
      }
    }
    return order.length
  }

  // ---- read side -------------------------------------------------------------------------

  detail(id: string, now: number): TaskDetail {
    const task = this.load(id)
    const link = (n: { taskId: string; dependencyType: DependencyType; resolvedAt: string | null }): DependencyLink => ({
      taskId: n.taskId,
      dependencyType: n.dependencyType,
      resolvedAt: n.resolvedAt
    })
    return {
      ...this.listed(task, now),
      prerequisites: this.store.prerequisitesOf(id).map(link),
      dependents: this.store.dependentsOf(id).map(link),
      children: this.store.childIds(id),
      priorityBreakdown: priorityBreakdown(this.facts(task), now, this.settings.priority)
    }
  }

  /** Tasks by score now (ties: oldest first); waiting tasks' scores are read from their ranks. */
  list(filter: ListFilter, now: number): Array<ListedTask> {
    return this.store
      .listTasks(filter)
      .map((t) => this.listed(t, now))
      .sort((a, b) => b.calculatedPriority - a.calculatedPriority || (a.submittedAt < b.submittedAt ? -1 : a.submittedAt > b.submittedAt ? 1 : 0))
  }

  status(): QueueStatus {
    const c = this.store.statusCounts()
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

  /** Open tasks (or the named ones with their open transitive prerequisites) in parallel batches. */
  executionPlan(ids: ReadonlyArray<string> | undefined): ExecutionPlan {
    let nodes: Array<string>
    if (ids === undefined || ids.length === 0) {
      nodes = this.store.openTaskIds()
    } else {
      const set = new Set<string>()
      const queue: Array<string> = []
      for (const id of ids) {
        const t = this.load(id)
        if (!isTerminal(t.status) && !set.has(id)) {
          set.add(id)
          queue.push(id)
        }
      }
      while (queue.length > 0) {
        const cur = queue.shift()!
        for (const p of this.store.prerequisitesOf(cur)) {
          if (!isTerminal(p.status) && !set.has(p.taskId)) {
            set.add(p.taskId)
            queue.push(p.taskId)
          }
        }
      }
      nodes = [...set]
    }
    const prereqs = new Map<string, Array<string>>()
    for (const e of this.store.edgesAmong(nodes)) {
      let list = prereqs.get(e.dependentTaskId)
      if (list === undefined) prereqs.set(e.dependentTaskId, (list = []))
      list.push(e.prerequisiteTaskId)
    }
    const batches = topologicalBatches(nodes, (id) => prereqs.get(id) ?? [])
    return {
      batches,
      totalBatches: batches.length,
      maxParallelism: batches.reduce((m, b) => Math.max(m, b.length), 0)
    }
  }

  /** The hierarchy below a task, or the forest of every root task. */
  tree(id: string | undefined, now: number): TreeNode | Array<TreeNode> {
    const roots = id === undefined ? this.store.rootIds() : [this.load(id).id]
    // Load level by level, so a large forest costs one query per level, not per task.
    const tasks = new Map<string, StoredTask>()
    const children = new Map<string, Array<string>>()
    let level = roots
    for (const t of this.store.getTasks(roots)) tasks.set(t.id, t)
    while (level.length > 0) {
      const pairs = this.store.childrenOfMany(level)
      const next: Array<string> = []
      for (const { id: child, parentId } of pairs) {
        if (tasks.has(child)) continue
        let list = children.get(parentId)
        if (list === undefined) children.set(parentId, (list = []))
        list.push(child)
        next.push(child)
      }
      for (const t of this.store.getTasks(next)) tasks.set(t.id, t)
      level = next
    }
    const order = (a: string, b: string) => {
      const ta = tasks.get(a)!, tb = tasks.get(b)!
      return ta.submittedAt < tb.submittedAt ? -1 : ta.submittedAt > tb.submittedAt ? 1 : 0
    }
    const build = (tid: string): TreeNode => ({
      task: this.view(tasks.get(tid)!, now),
      children: (children.get(tid) ?? []).sort(order).map(build)
    })
    return id === undefined ? roots.map(build) : build(roots[0]!)
  }

  /** Tasks and edges of the dependency graph: all tasks, or one task's connected part. */
  graph(id: string | undefined, now: number): { tasks: Array<Task>; edges: Array<{ from: string; to: string; resolved: boolean; type: DependencyType }> } {
    let ids: Array<string>
    if (id === undefined) {
      ids = this.store.listTasks({}).map((t) => t.id)
    } else {
      this.load(id)
      const set = new Set([id])
      for (const dir of ["up", "down"] as const) {
        const queue = [id]
        while (queue.length > 0) {
          const cur = queue.shift()!
          const next = dir === "up" ? this.store.prerequisitesOf(cur) : this.store.dependentsOf(cur)
          for (const n of next) {
            if (!set.has(n.taskId)) {
              set.add(n.taskId)
              queue.push(n.taskId)
            }
          }
        }
      }
      ids = [...set]
    }
    const tasks = this.store.getTasks(ids).map((t) => this.view(t, now))
    const edges = this.store.edgesAmong(ids).map((e) => ({
      from: e.prerequisiteTaskId,
      to: e.dependentTaskId,
      resolved: e.resolvedAt !== null,
      type: e.dependencyType
    }))
    return { tasks, edges }
  }

  /** Deletes old terminal tasks that nothing kept still references. */
  prune(options: { olderThanMs: number; statuses: ReadonlyArray<TaskStatus> | undefined; dryRun: boolean }, now: number, onProgress?: (done: number, total: number) => void): { deleted: number; ids: Array<string> } {
    const statuses = options.statuses && options.statuses.length > 0 ? options.statuses : TerminalStatuses
    const candidates = new Set(this.store.pruneCandidates(statuses, formatTimestamp(now - options.olderThanMs)))
    if (candidates.size === 0) return { deleted: 0, ids: [] }
    const ids = [...candidates]
    // Who references whom: children point at parents, dependents at prerequisites.
    const referrers = new Map<string, Array<string>>()
    const addRef = (target: string, from: string) => {
      let list = referrers.get(target)
      if (list === undefined) referrers.set(target, (list = []))
      list.push(from)
    }
    for (const { id: child, parentId } of this.store.childrenOfMany(ids)) addRef(parentId, child)
    for (const e of this.store.dependentsOfMany(ids)) addRef(e.prerequisiteTaskId, e.dependentTaskId)
    for (const id of this.store.referencedElsewhere(ids)) candidates.delete(id)
    // Keep any candidate that a kept row references, until nothing changes.
    let changed = true
    while (changed) {
      changed = false
      for (const id of candidates) {
        if ((referrers.get(id) ?? []).some((r) => !candidates.has(r))) {
          candidates.delete(id)
          changed = true
        }
      }
    }
    const doomed = ids.filter((id) => candidates.has(id))
    if (!options.dryRun) {
      // Children before parents, so parent references never dangle mid-way.
      const depthInTree = (id: string) => {
        let d = 0
        for (let p = this.store.getTask(id)?.parentTaskId; p != null && candidates.has(p); p = this.store.getTask(p)?.parentTaskId) d++
        return d
      }
      const ordered = [...doomed].sort((a, b) => depthInTree(b) - depthInTree(a))
      const step = 1000
      for (let i = 0; i < ordered.length; i += step) {
        this.store.deleteTasks(ordered.slice(i, i + step))
        onProgress?.(Math.min(i + step, ordered.length), ordered.length)
      }
    }
    return { deleted: doomed.length, ids: doomed }
  }

  /** Completions and failures per minute over the last `windowMs`, and the newest failed attempts. */
  activity(windowMs: number, failures: number, now: number): Activity {
    const since = formatTimestamp(now - windowMs)
    return {
      since,
      until: formatTimestamp(now),
      minutes: this.store.activitySince(since),
      recentFailures: this.store.recentFailures(since, failures)
    }
  }

  audit_(id: string): Array<AuditEntry> {
    this.load(id)
    return this.store.auditOf(id)
  }
}
