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
  type TaskSource,
  emptySubtree,
  TerminalStatuses,
  topologicalBatches,
  type JsonValue,
  type OnFailure,
  type SubtreeProgress,
  subtreeProgress,
  type SubtreeCounts,
  type SubtreeState,
  subtreeState,
  edgeResolved,
  defaultSource,
  canonicalJson,
  retryBackoffMs,
  type DependsOnSpec
} from "@abathur/domain"
import type {
  ActivityMinute,
  AuditEntry,
  DueRefresh,
  GateFacts,
  ListFilter,
  Neighbour,
  RefreshFacts,
  StoredPriority,
  StoredTask,
  TaskPatch,
  TaskStore
} from "@abathur/storage"
import { createHash } from "node:crypto"
import { v7 as uuidv7 } from "uuid"
import type * as z from "zod"
import type { QueueSettings } from "./QueueConfig.js"
import {
  DependencyCycle,
  IdempotencyConflict,
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

/** A change of a task's subtree state, to act on (see `drain`). */
interface Flip {
  readonly id: string
  readonly before: SubtreeState
  readonly after: SubtreeState
  /** The task whose change started it (a cascade's `cancelledBy`). */
  readonly cause: string
}

/** Options of a submission. */
export interface SubmitDefaults {
  /** The source of a task submitted without one and without a parent (MCP: `agent_planner`); default `human`. */
  readonly defaultSource?: TaskSource | undefined
}

/** A task with its neighbourhood, as `show` prints it. */
export interface TaskDetail extends Task {
  readonly worker?: string | null
  readonly leaseExpiresAt?: string | null
  readonly prerequisites: ReadonlyArray<DependencyLink>
  readonly dependents: ReadonlyArray<DependencyLink>
  readonly children: ReadonlyArray<string>
  /** Progress of the task's descendants (its dependents wait for all of them). */
  readonly subtree: SubtreeProgress
  readonly priorityBreakdown: PriorityBreakdown
}

export interface TreeNode {
  readonly task: Task
  /**
   * Progress of the task's descendants: a COMPLETED task with `subtree.open > 0` has done its
   * own part while its subtasks still run (its dependents still wait).
   */
  readonly subtree: SubtreeProgress
  readonly children: ReadonlyArray<TreeNode>
}

/** An edge of `graph`: a dependency (prerequisite -> dependent) or a subtask (parent -> child). */
export interface GraphLink {
  readonly from: string
  readonly to: string
  readonly resolved: boolean
  readonly kind: "dependency" | "subtask"
  /** The dependency's type; null for a subtask link. */
  readonly type: DependencyType | null
  /** The dependency's failure policy; null for a subtask link. */
  readonly onFailure: OnFailure | null
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
    idempotencyFingerprint: _f,
    subtree: _t,
    ancestorGated: _g,
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
  /** Subtree flips recorded by the current operation, acted on by `drain`. */
  private flips: Array<Flip> = []
  private draining = false
  /** Tasks the current operation made READY from BLOCKED (for `complete`'s `unblocked`). */
  private readied: Array<string> = []
  /** Tasks the current operation cancelled by a cascade. */
  private cancelledNow: Array<string> = []

  constructor(
    private readonly store: TaskStore,
    private readonly settings: QueueSettings
  ) {}

  /** Returns and forgets the changes made since the last call. */
  takeChanges(): Array<TaskChange> {
    const c = this.changes
    this.changes = []
    this.flips = []
    this.draining = false
    this.readied = []
    this.cancelledNow = []
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
    return this.scoreAt(task.status, this.facts(task, openDependents), now, task.id, task.notBefore)
  }

  /**
   * The score of a task with these facts at `now`, its claim rank, and when they must next be
   * recomputed. Only READY tasks are refreshed as time passes (claims compare READY tasks
   * only); a BLOCKED task's are recomputed when its facts change and when it becomes READY.
   */
  private scoreAt(status: TaskStatus, facts: PriorityFacts, now: number, id: string, notBefore: string | null): StoredPriority {
    const p = this.settings.priority
    const r = priorityRank(facts, now, p)
    const startAt = notBefore === null ? null : ms(notBefore)
    if (status === "ready" && startAt !== null && startAt > now) {
      // Waiting for its instant: out of the claim index (no rank) until the due refresh at that
      // instant ranks it, so claims never scan for startable tasks.
      return { calculatedPriority: r.calculatedPriority, priorityRank: null, priorityStarved: false, priorityRefreshAt: notBefore }
    }
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
    this.store.setPriority(f.id, this.scoreAt(f.status, facts, now, f.id, f.notBefore))
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

  /**
   * A RUNNING task is its worker's: a token that is not the current one is refused, and so is no
   * token at all when `tokenRequired` (complete and fail, unless an operator forces them).
   */
  private checkLease(task: StoredTask, leaseToken: string | undefined, action: string, tokenRequired = false): void {
    if (task.status !== "running") {
      throw new InvalidTransition({
        message: `cannot ${action} task ${task.id}: it is ${task.status}, not running`,
        taskId: task.id,
        status: task.status
      })
    }
    if (leaseToken === undefined && tokenRequired) {
      const holder = task.workerId === null ? "a worker" : `worker ${JSON.stringify(task.workerId)}`
      throw new LeaseMismatch({
        message:
          `task ${task.id} is running under the lease of ${holder} (claimed at ${task.startedAt ?? "?"}, lease until ` +
          `${task.leaseExpiresAt ?? "?"}), and no lease token was given, so this ${action} was refused and nothing changed: ` +
          `pass the lease token its claim returned (--lease-token, "leaseToken"), or --force (HTTP/MCP "force": true) ` +
          `to ${action} it as an operator overriding that worker`,
        taskId: task.id
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

  // ---- the hierarchy gates the work (CONTRACT, December additions) ------------------------
  //
  // Bookkeeping, all in the operation's transaction, never by scanning a subtree:
  // - each task counts its strict descendants by outcome (`subtree`), adjusted along the
  //   ancestor chain (one statement) whenever a task changes outcome (open, completed, failed,
  //   cancelled). From its status and counters a task's subtree is *closed* (nothing open),
  //   *complete* (everything COMPLETED) or *doomed* (something FAILED or CANCELLED);
  // - when one of these flips, the edges on that task act: `cancel` edges cancel their open
  //   dependents when it becomes doomed; edges resolve when it closes (`ignore`) or completes
  //   (every edge); a closed subtree that opens again (a retry, a new subtask) opens the edges
  //   of dependents that have not started;
  // - a task's gate is closed while it has an unresolved edge or `ancestorGated` (some ancestor
  //   has one). A gate that opens or closes walks down only through children whose own gate
  //   follows (a child with unresolved edges of its own stops the walk).

  /** The outcome class of a status, for the subtree counters. */
  private static outcome(status: TaskStatus): keyof SubtreeCounts {
    return status === "completed" || status === "failed" || status === "cancelled" ? status : "open"
  }

  private flip(id: string, before: SubtreeState, after: SubtreeState, cause: string): void {
    if (before.closed !== after.closed || before.doomed !== after.doomed || before.complete !== after.complete) {
      this.flips.push({ id, before, after, cause })
    }
  }

  /** Adds `delta` to the counters of `fromId` and its ancestors; records the flips of their subtrees. */
  private bump(fromId: string, delta: SubtreeCounts, cause: string): void {
    for (const r of this.store.adjustSubtree(fromId, delta)) {
      const before = {
        open: r.subtree.open - delta.open,
        completed: r.subtree.completed - delta.completed,
        failed: r.subtree.failed - delta.failed,
        cancelled: r.subtree.cancelled - delta.cancelled
      }
      this.flip(r.id, subtreeState(r.status, before), subtreeState(r.status, r.subtree), cause)
    }
  }

  /**
   * Moves a task to another state (`transition`) and keeps the hierarchy's bookkeeping: its own
   * subtree state and its ancestors' counters. The flips are acted on by `drain`.
   */
  private setStatus(
    task: StoredTask,
    to: TaskStatus,
    now: number,
    patch: TaskPatch,
    actor: string | null,
    reason: string | null,
    cause: string = task.id
  ): StoredTask {
    const next = this.transition(task, to, now, patch, actor, reason)
    const from = Engine.outcome(task.status)
    const into = Engine.outcome(to)
    if (from !== into) {
      this.flip(task.id, subtreeState(task.status, task.subtree), subtreeState(to, task.subtree), cause)
      if (task.parentTaskId !== null) {
        const delta = { ...emptySubtree }
        delta[from] -= 1
        delta[into] += 1
        this.bump(task.parentTaskId, delta, cause)
      }
    }
    return next
  }

  /** Acts on every recorded flip (and the flips that acting records), in order. */
  private drain(now: number, actor: string | null): void {
    if (this.draining) return
    this.draining = true
    try {
      for (let i = 0; i < this.flips.length; i++) this.act(this.flips[i]!, now, actor)
      this.flips = []
    } finally {
      this.draining = false
    }
  }

  private act(f: Flip, now: number, actor: string | null): void {
    const { id, before, after, cause } = f
    if (after.doomed && !before.doomed) {
      let reason: string | null = null
      for (const d of this.store.dependentsOf(id)) {
        if (d.onFailure !== "cancel" || d.resolvedAt !== null || isTerminal(d.status)) continue
        if (reason === null) {
          const self = this.store.getTask(id)
          const what =
            self !== null && (self.status === "failed" || self.status === "cancelled")
              ? self.status === "failed" ? `prerequisite ${id} failed` : `prerequisite ${id} was cancelled`
              : `a task under prerequisite ${id} failed or was cancelled`
          reason = cause === id ? what : `${what} (because of task ${cause})`
        }
        // Fresh: an earlier dependent's cascade may have reached this one (a subtask of it).
        const t = this.store.getTask(d.taskId)
        if (t !== null && !isTerminal(t.status)) this.cancelTask(t, now, actor, cause, reason, true)
      }
    }
    if (after.closed && !before.closed) {
      const at = formatTimestamp(now)
      const resolved = this.store.resolveEdges(id, at, !after.complete)
      if (resolved.length > 0) {
        const self = this.store.getTask(id)
        const whole = self !== null && self.subtree.open + self.subtree.completed + self.subtree.failed + self.subtree.cancelled > 0
        const reason = after.complete
          ? whole ? `prerequisite ${id} and all its subtasks completed` : `last prerequisite ${id} completed`
          : `prerequisite ${id} and its subtasks finished (onFailure: ignore)`
        this.edgesResolved(resolved, now, actor, reason)
      }
    } else if (before.closed && !after.closed) {
      const reopened = this.store.unresolveEdges(id)
      // Work waits on it again: a waiting task's dependency factor rose (a retried one).
      if (reopened.length > 0) this.refreshById(id, now)
      // A gate closes where this is now the only open edge and no ancestor gated the task, as
      // things stood before any of them closes (one may be below another: closing the upper one
      // sets the lower one's ancestor flag, yet the lower one must be blocked too).
      const closing: Array<StoredTask> = []
      for (const d of reopened) {
        const t = this.store.getTask(d)
        if (t !== null && !t.ancestorGated && this.store.countUnresolved(d) === 1) closing.push(t)
      }
      for (const t of closing) this.gateClosed(this.load(t.id), now, actor, `prerequisite ${id} has open subtasks again`)
    }
  }

  /** Dependents whose edges were just resolved: those whose gate opens become READY, with their subtasks. */
  private edgesResolved(dependents: ReadonlyArray<string>, now: number, actor: string | null, reason: string): void {
    const entries: Array<AuditEntry> = []
    const below: Array<string> = []
    for (const f of this.store.gateFacts(dependents)) {
      if (f.hasUnresolved || f.ancestorGated) continue
      this.gateOpened(f, now, actor, reason, entries, below)
    }
    this.openBelow(below, now, actor, entries)
    this.auditMany(entries)
  }

  /** A task whose gate opened: READY when it waits, and its children's gates follow. */
  private gateOpened(f: GateFacts, now: number, actor: string | null, reason: string, entries: Array<AuditEntry>, below: Array<string>): void {
    if (f.status === "blocked" || f.status === "pending") {
      const at = formatTimestamp(now)
      const p = this.scoreAt("ready", this.refreshFacts(f), now, f.id, f.notBefore)
      this.store.updateTask(f.id, { status: "ready", lastUpdatedAt: at, ...p })
      entries.push({ taskId: f.id, fromStatus: f.status, toStatus: "ready", at, actor, reason })
      this.readied.push(f.id)
    }
    if (f.hasChildren) below.push(f.id)
  }

  /** Opens the gates below these tasks (their gates opened): down to children with open edges of their own. */
  private openBelow(parents: Array<string>, now: number, actor: string | null, entries: Array<AuditEntry>): void {
    while (parents.length > 0) {
      const pid = parents.pop()!
      for (const c of this.store.gateChildren(pid, false)) {
        if (c.hasUnresolved) continue
        this.gateOpened(c, now, actor, `the prerequisites of its parent ${pid} are resolved`, entries, parents)
      }
    }
  }

  /** A task whose gate closed: BLOCKED when READY, and its children's gates follow. */
  private gateClosed(task: StoredTask, now: number, actor: string | null, reason: string): void {
    if (task.status === "ready") this.transition(task, "blocked", now, {}, actor, reason)
    const parents = [task.id]
    while (parents.length > 0) {
      const pid = parents.pop()!
      for (const c of this.store.gateChildren(pid, true)) {
        if (c.hasUnresolved) continue
        if (c.status === "ready") {
          const t = this.store.getTask(c.id)
          if (t !== null) this.transition(t, "blocked", now, {}, actor, `an ancestor of it waits (${task.id})`)
        }
        if (c.hasChildren) parents.push(c.id)
      }
    }
  }

  /** The task waits on its own or an ancestor's unresolved edge. */
  private gated(task: StoredTask): boolean {
    return task.ancestorGated || this.store.hasUnresolved(task.id)
  }

  /** When an edge on `p` with this policy resolves now, or null while it does not. */
  private resolution(p: StoredTask, onFailure: OnFailure, now: number): string | null {
    const s = subtreeState(p.status, p.subtree)
    if (!edgeResolved(onFailure, s)) return null
    const leaf = p.subtree.open + p.subtree.completed + p.subtree.failed + p.subtree.cancelled === 0
    return leaf && p.completedAt !== null ? p.completedAt : formatTimestamp(now)
  }

  /** The first unresolved `cancel` edge of a task whose prerequisite's subtree is doomed. */
  private doomingPrerequisite(id: string): Neighbour | undefined {
    return this.store
      .prerequisitesOf(id)
      .find((p) => p.resolvedAt === null && p.onFailure === "cancel" && (p.status === "failed" || p.status === "cancelled" || p.subtreeBad > 0))
  }

  /**
   * Cancels an open task because of `cause` (a cascade): with its open subtasks; its dependents
   * follow through the flips of its subtree.
   */
  private cancelTask(task: StoredTask, now: number, actor: string | null, cause: string | null, reason: string, cascaded: boolean): StoredTask {
    const done = this.setStatus(
      task,
      "cancelled",
      now,
      { leaseToken: null, leaseExpiresAt: null, workerId: null, errorMessage: reason, ...(cause !== null && { cancelledBy: cause }) },
      actor,
      reason,
      cause ?? task.id
    )
    if (cascaded) this.cancelledNow.push(task.id)
    // Its prerequisites lost an open dependent: their dependency factor fell.
    for (const p of this.store.prerequisitesOf(task.id)) if (p.resolvedAt === null && isWaiting(p.status)) this.refreshById(p.taskId, now)
    if (task.subtree.open > 0) this.cancelBelow(task.id, now, actor, cause ?? task.id, `its parent ${task.id} was cancelled`)
    return done
  }

  /** Cancels the open tasks below a task in the hierarchy (through finished subtasks too). */
  private cancelBelow(rootId: string, now: number, actor: string | null, cause: string, reason: string): void {
    for (const c of this.store.childStates(rootId)) {
      if (!isTerminal(c.status)) {
        const t = this.store.getTask(c.id)
        if (t !== null) this.cancelTask(t, now, actor, cause, reason, true)
      } else if (c.subtreeOpen > 0) {
        this.cancelBelow(c.id, now, actor, cause, reason)
      }
    }
  }

  /** Sets the resolution of a task's edges to what its prerequisites' subtrees say now (a revived task). */
  private syncEdges(task: StoredTask, now: number, actor: string | null): void {
    const wasGated = this.gated(task)
    for (const p of this.store.prerequisitesOf(task.id)) {
      const s = subtreeState(p.status, { open: p.subtreeOpen, completed: 0, failed: p.subtreeBad, cancelled: 0 })
      const should = edgeResolved(p.onFailure, s)
      if (should !== (p.resolvedAt !== null)) this.store.setEdgeResolved(task.id, p.taskId, should ? formatTimestamp(now) : null)
    }
    const isGated = task.ancestorGated || this.store.hasUnresolved(task.id)
    if (wasGated && !isGated) {
      const entries: Array<AuditEntry> = []
      this.openBelow([task.id], now, actor, entries)
      this.auditMany(entries)
    } else if (!wasGated && isGated) {
      this.gateClosed(task, now, actor, "a prerequisite is open again")
    }
  }

  /** The ids above a task in the hierarchy, nearest first. */
  private ancestorIds(parentId: string | null): Array<string> {
    const out: Array<string> = []
    const seen = new Set<string>()
    for (let p = parentId; p !== null && !seen.has(p); p = this.store.getTask(p)?.parentTaskId ?? null) {
      seen.add(p)
      out.push(p)
    }
    return out
  }

  /**
   * A task cannot depend on its own ancestor (the ancestor's subtree includes it: it would wait
   * for itself) nor on its descendant (the descendant waits for its ancestors' edges).
   */
  private hierarchyLoop(dependentId: string, prerequisiteId: string, what: "ancestor" | "descendant"): never {
    throw new DependencyCycle({
      message:
        what === "ancestor"
          ? `task ${dependentId} is below ${prerequisiteId} in the hierarchy and cannot depend on it: ${prerequisiteId}'s subtree includes it (a subtask already waits for its parent's prerequisites)`
          : `task ${dependentId} is above ${prerequisiteId} in the hierarchy and cannot depend on it: ${prerequisiteId} waits for the prerequisites of its ancestors`,
      cycle: [dependentId, prerequisiteId, dependentId]
    })
  }

  private fingerprint(value: unknown): string {
    return createHash("sha256").update(canonicalJson(value)).digest("hex")
  }

  // ---- submission ------------------------------------------------------------------------

  private newTask(
    input: SubmitTask,
    now: number,
    status: TaskStatus,
    depth: number,
    parentTaskId: string | null,
    openDependents: number,
    extra: { source: TaskSource; ancestorGated: boolean; idempotencyFingerprint: string | null; openBelow?: number }
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
      source: extra.source,
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
      priorityStarved: false,
      notBefore: input.notBefore ?? null,
      idempotencyKey: input.idempotencyKey ?? null,
      idempotencyFingerprint: extra.idempotencyFingerprint,
      stallCount: 0,
      retryBackoffSeconds: input.retryBackoffSeconds ?? null,
      subtree: { ...emptySubtree, open: extra.openBelow ?? 0 },
      ancestorGated: extra.ancestorGated
    }
    return { ...task, ...this.scoreAt(status, this.facts(task, openDependents), now, task.id, task.notBefore) }
  }

  private insertEdge(dependentId: string, prerequisiteId: string, type: DependencyType, onFailure: OnFailure, now: number, resolvedAt: string | null) {
    this.store.insertDependency({
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

  /**
   * A prerequisite that is FAILED or CANCELLED cannot be depended on; nor, through a `cancel`
   * edge, one with a FAILED or CANCELLED task below it (the dependent would be cancelled at once).
   */
  private checkPrerequisite(p: StoredTask, onFailure: OnFailure): void {
    this.checkDependable(p.id, p.status)
    if (onFailure === "cancel" && p.subtree.failed + p.subtree.cancelled > 0) {
      throw new InvalidTransition({
        message: `task ${p.id} has a failed or cancelled task below it: retry that one first, or depend on it with onFailure "ignore"`,
        taskId: p.id,
        status: p.status
      })
    }
  }

  /** The existing task of an idempotency key (same fields), or null; a conflict when the fields differ. */
  private idempotent(key: string | null | undefined, fingerprint: string | null): StoredTask | null {
    if (key == null || fingerprint === null) return null
    const existing = this.store.taskByIdempotencyKey(key)
    if (existing === null) return null
    if (existing.idempotencyFingerprint === fingerprint) return existing
    throw new IdempotencyConflict({
      message: `idempotencyKey ${JSON.stringify(key)} was used for task ${existing.id} with other fields: use a new key for new work`,
      taskId: existing.id
    })
  }

  /**
   * Submits one task. Its status is READY or BLOCKED at once. With an idempotency key that names
   * a task submitted with the same fields, returns that task (`created: false`).
   */
  submit(raw: unknown, now: number, actor: string | null, options: SubmitDefaults = {}): { task: Task; created: boolean } {
    const input = validate(SubmitTaskInput, raw)
    const limits = this.settings.limits
    const parentTaskId = input.parentTaskId ?? null
    const source = input.source ?? defaultSource(parentTaskId !== null, options.defaultSource)
    const fp = input.idempotencyKey == null ? null : this.fingerprint({ ...input, source })
    const existing = this.idempotent(input.idempotencyKey, fp)
    if (existing !== null) return { task: this.view(existing, now), created: false }
    let parent: StoredTask | null = null
    if (parentTaskId !== null) {
      parent = this.load(parentTaskId, "parent task")
      this.checkLimit("subtasks", limits.maxSubtasks, this.store.countChildren(parentTaskId) + 1, `subtasks of ${parentTaskId}`)
    }
    const specs = new Map<string, DependsOnSpec>()
    for (const d of input.dependsOn) if (!specs.has(d.id)) specs.set(d.id, d)
    this.checkLimit("dependencies", limits.maxDependencies, specs.size, "prerequisites of the new task")
    const prereqs = new Map(this.store.getTasks([...specs.keys()]).map((t) => [t.id, t]))
    const edges: Array<{ p: StoredTask; spec: DependsOnSpec; resolvedAt: string | null }> = []
    for (const [pid, spec] of specs) {
      const p = prereqs.get(pid)
      if (p === undefined) throw new TaskNotFound({ message: `prerequisite ${pid} does not exist: check the id with \`abathur list\``, taskId: pid })
      this.checkPrerequisite(p, spec.onFailure)
      edges.push({ p, spec, resolvedAt: this.resolution(p, spec.onFailure, now) })
    }
    if (parentTaskId !== null && edges.length > 0) {
      const above = new Set(this.ancestorIds(parentTaskId))
      for (const e of edges) if (above.has(e.p.id)) this.hierarchyLoop("the new task", e.p.id, "ancestor")
    }
    const depth = depthFrom(edges.map((e) => e.p.dependencyDepth))
    this.checkLimit("depth", limits.maxDepth, depth, "dependency depth of the new task")
    const ancestorGated = parent !== null && this.gated(parent)
    const waits = ancestorGated || edges.some((e) => e.resolvedAt === null)
    const task = this.newTask(input, now, waits ? "blocked" : "ready", depth, parentTaskId, 0, { source, ancestorGated, idempotencyFingerprint: fp })
    this.store.insertTask(task)
    for (const e of edges) this.insertEdge(task.id, e.p.id, e.spec.dependencyType ?? input.dependencyType, e.spec.onFailure, now, e.resolvedAt)
    this.audit({ taskId: task.id, fromStatus: null, toStatus: task.status, at: task.submittedAt, actor: actor ?? task.createdBy, reason: "submitted" })
    // A new open task below the parent: a finished subtree opens again (its dependents that have
    // not started wait for the new subtask too).
    if (parentTaskId !== null) this.bump(parentTaskId, { ...emptySubtree, open: 1 }, task.id)
    this.drain(now, actor)
    // Work now waits on these: their dependency factor rose.
    for (const e of edges) if (e.resolvedAt === null && isWaiting(e.p.status)) this.refreshById(e.p.id, now)
    return { task: this.view(task, now), created: true }
  }

  /**
   * Submits a plan (a tree of tasks with dependencies by key), all or nothing. With the plan's
   * idempotency key, a plan posted again with the same content returns the same tasks.
   */
  submitPlan(
    raw: unknown,
    now: number,
    actor: string | null,
    onProgress?: (done: number, total: number) => void,
    options: SubmitDefaults = {}
  ): { tasks: Record<string, Task>; created: boolean } {
    const plan = validate(PlanInput, raw)
    const planFp = plan.idempotencyKey === undefined ? null : this.fingerprint({ tasks: plan.tasks, defaultSource: options.defaultSource ?? "human" })
    if (plan.idempotencyKey !== undefined && planFp !== null) {
      const prior = this.store.getPlanSubmission(plan.idempotencyKey)
      if (prior !== null) {
        const first = Object.values(prior.taskKeys)[0] ?? ""
        if (prior.fingerprint !== planFp) {
          throw new IdempotencyConflict({
            message: `the plan's idempotencyKey ${JSON.stringify(plan.idempotencyKey)} was used for another plan: use a new key for new work`,
            taskId: first
          })
        }
        const stored = new Map(this.store.getTasks(Object.values(prior.taskKeys)).map((t) => [t.id, t]))
        const tasks: Record<string, Task> = {}
        for (const [key, tid] of Object.entries(prior.taskKeys)) {
          const t = stored.get(tid)
          if (t !== undefined) tasks[key] = this.view(t, now)
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
    const limits = this.settings.limits
    const byKey = new Map(flat.nodes.map((n) => [n.key, n]))
    const nodeKeys = flat.nodes.flatMap((n) => (n.node.idempotencyKey != null ? [n.node.idempotencyKey] : []))
    if (nodeKeys.length > 0) {
      for (const [k, tid] of this.store.idempotencyKeysTaken(nodeKeys)) {
        throw new IdempotencyConflict({
          message: `idempotencyKey ${JSON.stringify(k)} of a plan node already names task ${tid}: repeat a whole plan with the plan's own idempotencyKey`,
          taskId: tid
        })
      }
    }
    // No node depends on a node (or an existing task) above or below it in the hierarchy.
    const keysAbove = (key: string): Array<string> => {
      const out: Array<string> = []
      for (let k = byKey.get(key)!.parentKey; k !== null; k = byKey.get(k)!.parentKey) out.push(k)
      return out
    }
    const externalAbove = new Map<string, Set<string>>()
    for (const n of flat.nodes) {
      const chain = keysAbove(n.key)
      const top = byKey.get(chain[chain.length - 1] ?? n.key)!
      for (const e of n.edges) {
        if (e.local && chain.includes(e.ref)) this.hierarchyLoop(n.key, e.ref, "ancestor")
        if (e.local && keysAbove(e.ref).includes(n.key)) this.hierarchyLoop(n.key, e.ref, "descendant")
        if (!e.local && top.node.parentTaskId != null) {
          let ids = externalAbove.get(top.key)
          if (ids === undefined) externalAbove.set(top.key, (ids = new Set(this.ancestorIds(top.node.parentTaskId))))
          if (ids.has(e.ref)) this.hierarchyLoop(n.key, e.ref, "ancestor")
        }
      }
    }
    // Existing tasks the plan names: prerequisites and parents.
    const external = [...new Set(flat.nodes.flatMap((n) => n.externalDependsOn))]
    const states = new Map(this.store.getTasks(external).map((t) => [t.id, t]))
    for (const n of flat.nodes) {
      for (const e of n.edges) {
        if (e.local) continue
        const s = states.get(e.ref)
        if (s === undefined) throw new TaskNotFound({ message: `prerequisite ${e.ref} does not exist: check the id with \`abathur list\``, taskId: e.ref })
        this.checkPrerequisite(s, e.onFailure)
      }
    }
    const childCount = new Map<string, number>()
    for (const n of flat.nodes) {
      const parent = n.parentKey ?? n.node.parentTaskId ?? null
      if (parent !== null) childCount.set(parent, (childCount.get(parent) ?? 0) + 1)
    }
    const externalParents = new Map<string, StoredTask>()
    for (const [parent, count] of childCount) {
      if (byKey.has(parent)) {
        this.checkLimit("subtasks", limits.maxSubtasks, count, `subtasks of plan node ${JSON.stringify(parent)}`)
      } else {
        externalParents.set(parent, this.load(parent, "parent task"))
        this.checkLimit("subtasks", limits.maxSubtasks, this.store.countChildren(parent) + count, `subtasks of ${parent}`)
      }
    }
    // Depths in dependency order; dependents counted for the priority.
    const depth = new Map<string, number>()
    const localDependents = new Map<string, number>()
    for (const key of flat.order) {
      const n = byKey.get(key)!
      const count = n.localDependsOn.length + n.externalDependsOn.length
      this.checkLimit("dependencies", limits.maxDependencies, count, `prerequisites of plan node ${JSON.stringify(key)}`)
      const d = depthFrom([
        ...n.localDependsOn.map((k) => depth.get(k)!),
        ...n.externalDependsOn.map((id) => states.get(id)!.dependencyDepth)
      ])
      this.checkLimit("depth", limits.maxDepth, d, `dependency depth of plan node ${JSON.stringify(key)}`)
      depth.set(key, d)
      for (const k of n.localDependsOn) localDependents.set(k, (localDependents.get(k) ?? 0) + 1)
    }
    // Edges' resolution (a plan's own tasks are open), gates (parents come before children) and
    // the open tasks below each node.
    const resolvedAt = new Map<string, Array<string | null>>()
    const ownWait = new Map<string, boolean>()
    const gatedAbove = new Map<string, boolean>()
    for (const n of flat.nodes) {
      const r = n.edges.map((e) => (e.local ? null : this.resolution(states.get(e.ref)!, e.onFailure, now)))
      resolvedAt.set(n.key, r)
      ownWait.set(n.key, r.some((x) => x === null))
      const ext = n.parentKey === null && n.node.parentTaskId != null ? externalParents.get(n.node.parentTaskId) : undefined
      gatedAbove.set(
        n.key,
        n.parentKey !== null ? ownWait.get(n.parentKey)! || gatedAbove.get(n.parentKey)! : ext !== undefined && this.gated(ext)
      )
    }
    const openBelow = new Map<string, number>()
    for (let i = flat.nodes.length - 1; i >= 0; i--) {
      const n = flat.nodes[i]!
      if (n.parentKey !== null) openBelow.set(n.parentKey, (openBelow.get(n.parentKey) ?? 0) + 1 + (openBelow.get(n.key) ?? 0))
    }
    // Insert parents before children, then the edges.
    const created = new Map<string, StoredTask>()
    const total = flat.nodes.length
    // Set-based: parents before children, many rows per statement.
    const step = 500
    for (let from = 0; from < total; from += step) {
      const rows: Array<StoredTask> = []
      const entries: Array<AuditEntry> = []
      for (const n of flat.nodes.slice(from, from + step)) {
        const parentId = n.parentKey !== null ? created.get(n.parentKey)!.id : (n.node.parentTaskId ?? null)
        const input: SubmitTask = { ...n.node, dependsOn: [] }
        const source = n.node.source ?? defaultSource(parentId !== null, options.defaultSource)
        const fp = n.node.idempotencyKey == null ? null : this.fingerprint({ ...n.node, children: undefined, source })
        const gated = gatedAbove.get(n.key)!
        const status = gated || ownWait.get(n.key)! ? "blocked" : "ready"
        const task = this.newTask(input, now, status, depth.get(n.key)!, parentId, localDependents.get(n.key) ?? 0, {
          source,
          ancestorGated: gated,
          idempotencyFingerprint: fp,
          openBelow: openBelow.get(n.key) ?? 0
        })
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
    const edge = (dependentTaskId: string, prerequisiteTaskId: string, dependencyType: DependencyType, onFailure: OnFailure, resolvedAt: string | null) =>
      edges.push({ id: uuidv7(), dependentTaskId, prerequisiteTaskId, dependencyType, onFailure, createdAt: at, resolvedAt })
    for (const n of flat.nodes) {
      const task = created.get(n.key)!
      const r = resolvedAt.get(n.key)!
      n.edges.forEach((e, i) => {
        const pid = e.local ? created.get(e.ref)!.id : e.ref
        edge(task.id, pid, e.dependencyType ?? n.node.dependencyType, e.onFailure, r[i] ?? null)
      })
    }
    this.store.insertDependencies(edges)
    // New open tasks below existing parents: their subtrees may open again.
    for (const n of flat.nodes) {
      if (n.parentKey === null && n.node.parentTaskId != null) {
        this.bump(n.node.parentTaskId, { ...emptySubtree, open: 1 + (openBelow.get(n.key) ?? 0) }, created.get(n.key)!.id)
      }
    }
    this.drain(now, actor)
    for (const id of external) {
      const s = states.get(id)!
      if (isWaiting(s.status)) this.refreshById(id, now)
    }
    const result: Record<string, Task> = {}
    for (const [key, task] of created) result[key] = this.view(task, now)
    if (plan.idempotencyKey !== undefined && planFp !== null) {
      const taskKeys: Record<string, string> = {}
      for (const [key, task] of created) taskKeys[key] = task.id
      this.store.insertPlanSubmission(plan.idempotencyKey, { fingerprint: planFp, taskKeys }, formatTimestamp(now))
    }
    return { tasks: result, created: true }
  }

  private checkWaiting(task: StoredTask, what: string): void {
    if (!(["pending", "blocked", "ready"] as ReadonlyArray<TaskStatus>).includes(task.status)) {
      throw new InvalidTransition({
        message: `task ${task.id} is ${task.status}: only pending, blocked or ready tasks can ${what}`,
        taskId: task.id,
        status: task.status
      })
    }
  }

  /** Adds `dependent -> prerequisite` between existing tasks. */
  addDependency(
    dependentId: string,
    prerequisiteId: string,
    type: DependencyType | undefined,
    now: number,
    actor: string | null,
    onFailure: OnFailure = "cancel"
  ): TaskDetail {
    const dependent = this.load(dependentId)
    const prerequisite = this.load(prerequisiteId, "prerequisite")
    this.checkWaiting(dependent, "get a new prerequisite")
    if (dependentId === prerequisiteId) {
      throw new DependencyCycle({ message: `task ${dependentId} cannot depend on itself`, cycle: [dependentId, dependentId] })
    }
    this.checkPrerequisite(prerequisite, onFailure)
    if (this.store.hasDependency(dependentId, prerequisiteId)) return this.detail(dependentId, now)
    if (this.ancestorIds(dependent.parentTaskId).includes(prerequisiteId)) this.hierarchyLoop(dependentId, prerequisiteId, "ancestor")
    if (this.ancestorIds(prerequisite.parentTaskId).includes(dependentId)) this.hierarchyLoop(dependentId, prerequisiteId, "descendant")
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
    const resolvedAt = this.resolution(prerequisite, onFailure, now)
    const wasGated = this.gated(dependent)
    this.insertEdge(dependentId, prerequisiteId, type ?? dependent.dependencyType, onFailure, now, resolvedAt)
    if (resolvedAt === null) {
      if (!wasGated) this.gateClosed(dependent, now, actor, `new prerequisite ${prerequisiteId}`)
      // Fresh: the prerequisite may be below the dependent, just blocked with it.
      this.refreshById(prerequisiteId, now)
    }
    return this.detail(dependentId, now)
  }

  /**
   * Removes `dependent -> prerequisite`. The dependent becomes READY when that was its last open
   * edge and no ancestor waits; its depth (and its dependents') follows its remaining prerequisites.
   */
  removeDependency(dependentId: string, prerequisiteId: string, now: number, actor: string | null): TaskDetail {
    const dependent = this.load(dependentId)
    this.checkWaiting(dependent, "lose a prerequisite")
    const removed = this.store.deleteDependency(dependentId, prerequisiteId)
    if (removed === null) {
      throw new TaskNotFound({
        message: `task ${dependentId} does not depend on ${prerequisiteId}: see its prerequisites with \`abathur show ${dependentId}\``,
        taskId: prerequisiteId
      })
    }
    const at = formatTimestamp(now)
    const reason = `dependency on ${prerequisiteId} removed`
    // Depths: the dependent and what is downstream of it may get shallower.
    // (Depths only fall, and the graph is acyclic: a task is visited again only when a
    // prerequisite of it got shallower.)
    const queue = [dependentId]
    while (queue.length > 0) {
      const id = queue.shift()!
      const t = this.store.getTask(id)
      if (t === null) continue
      const d = depthFrom(this.store.prerequisiteDepths(id).map((p) => p.depth))
      if (d !== t.dependencyDepth) {
        this.store.updateTask(id, { dependencyDepth: d })
        for (const next of this.store.dependentsOf(id)) queue.push(next.taskId)
      }
    }
    if (removed.resolvedAt === null) {
      const prerequisite = this.store.getTask(prerequisiteId)
      if (prerequisite !== null) this.refresh(prerequisite, now)
      if (!dependent.ancestorGated && !this.store.hasUnresolved(dependentId)) {
        this.edgesResolved([dependentId], now, actor, reason)
      }
    }
    if (!this.readied.includes(dependentId)) {
      this.store.insertAudit({ taskId: dependentId, fromStatus: dependent.status, toStatus: dependent.status, at, actor, reason })
    }
    return this.detail(dependentId, now)
  }

  // ---- claims and leases -----------------------------------------------------------------

  /**
   * Puts expired leases back to READY without spending a retry (stallCount + 1), or, past the
   * stall bound, FAILED with its dependents cancelled.
   */
  recover(now: number): Array<string> {
    const expired = this.store.expiredLeases(formatTimestamp(now))
    const max = this.settings.scheduling.maxStalls
    for (const id of expired) {
      const task = this.load(id)
      const stalls = task.stallCount + 1
      const cleared = { leaseToken: null, leaseExpiresAt: null, workerId: null, stallCount: stalls }
      if (stalls > max) {
        const error =
          `its workers kept stopping: the lease expired ${stalls} times without a report (lease expired at ${task.leaseExpiresAt}; ` +
          `ABATHUR_MAX_STALLS=${max})`
        this.setStatus(task, "failed", now, { ...cleared, errorMessage: error }, "lease-recovery", `failed: ${error}`)
      } else {
        const error = `lease expired at ${task.leaseExpiresAt}: the worker stopped reporting (stall ${stalls} of ${max})`
        const next = this.transition(task, "ready", now, { ...cleared, errorMessage: error }, "lease-recovery", error)
        this.requeued(next, now, "lease-recovery")
      }
    }
    this.drain(now, "lease-recovery")
    return expired
  }

  /** Claims the most important READY task whose `notBefore` has passed, or returns null. */
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

  /**
   * Completes a RUNNING task. Edges on it (and on each ancestor whose subtree it completes)
   * resolve; `unblocked` lists every task that became READY (dependents and their subtasks).
   */
  complete(
    id: string,
    options: { result?: JsonValue | undefined; leaseToken?: string | undefined; force?: boolean | undefined },
    now: number,
    actor: string | null
  ): { task: Task; unblocked: Array<string> } {
    const task = this.load(id)
    this.checkLease(task, options.leaseToken, "complete", options.force !== true)
    const at = formatTimestamp(now)
    const who = actor ?? task.workerId
    const done = this.setStatus(
      task,
      "completed",
      now,
      { completedAt: at, resultData: options.result ?? null, errorMessage: null, leaseToken: null, leaseExpiresAt: null },
      who,
      "completed"
    )
    this.drain(now, who)
    return { task: this.view(done, now), unblocked: [...this.readied] }
  }

  /** One failed attempt: back to READY (after the backoff) while retries remain, else FAILED with its cascade. */
  private failAttempt(task: StoredTask, error: string, now: number, actor: string | null): { task: StoredTask; retried: boolean; cancelled: Array<string> } {
    const cleared = { leaseToken: null, leaseExpiresAt: null, workerId: null, errorMessage: error }
    if (task.retryCount < task.maxRetries) {
      const retryCount = task.retryCount + 1
      const s = this.settings.scheduling
      const wait = retryBackoffMs(task.retryBackoffSeconds ?? s.retryBackoffSeconds, s.retryBackoffMaxSeconds, retryCount, (s.random ?? Math.random)())
      const notBefore = wait > 0 ? formatTimestamp(now + wait) : null
      const next = this.transition(
        task,
        "ready",
        now,
        { ...cleared, retryCount, notBefore },
        actor,
        `attempt failed, retry ${retryCount} of ${task.maxRetries}${notBefore === null ? "" : ` not before ${notBefore}`}: ${error}`
      )
      const r = this.requeued(next, now, actor)
      this.drain(now, actor)
      return { task: r.task, retried: true, cancelled: [...this.cancelledNow] }
    }
    const failed = this.setStatus(task, "failed", now, cleared, actor, `failed: ${error}`)
    this.drain(now, actor)
    return { task: failed, retried: false, cancelled: [...this.cancelledNow] }
  }

  /** Fails a RUNNING task's attempt. */
  fail(
    id: string,
    options: { error: string; leaseToken?: string | undefined; force?: boolean | undefined },
    now: number,
    actor: string | null
  ): { task: Task; retried: boolean; cancelled: Array<string> } {
    const task = this.load(id)
    this.checkLease(task, options.leaseToken, "fail", options.force !== true)
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
    const r = this.requeued(next, now, actor ?? task.workerId)
    this.drain(now, actor ?? task.workerId)
    return this.view(this.load(r.task.id), now)
  }

  /**
   * A task back from RUNNING waits like any other (invariant 1): BLOCKED while an edge of it or
   * of an ancestor is open, CANCELLED (with its dependents) when a `cancel` edge is doomed. Only
   * a migrated legacy database, or an edge added under a running subtask's ancestor, leaves a
   * RUNNING task like that.
   */
  private requeued(task: StoredTask, now: number, actor: string | null): { task: StoredTask } {
    // Waiting again: its edges follow the rule for waiting dependents (a prerequisite's subtree
    // may have opened again while it ran; a legacy task may have run too early).
    this.syncEdges(task, now, actor)
    const fresh = this.load(task.id)
    const doom = this.doomingPrerequisite(task.id)
    if (doom !== undefined) return { task: this.cancelTask(fresh, now, actor, doom.taskId, this.doomReason(doom), true) }
    if (fresh.status === "ready" && this.gated(fresh)) return { task: this.transition(fresh, "blocked", now, {}, actor, "prerequisites not completed") }
    return { task: fresh }
  }

  private doomReason(doom: Neighbour): string {
    return doom.status === "failed" || doom.status === "cancelled"
      ? `prerequisite ${doom.taskId} is ${doom.status}`
      : `prerequisite ${doom.taskId} has a failed or cancelled task below it`
  }

  /** Cancels a task and, transitively, its open dependents (through `cancel` edges) and subtasks. */
  cancel(id: string, now: number, actor: string | null, reason?: string): { task: Task; cancelled: Array<string> } {
    const task = this.load(id)
    if (isTerminal(task.status)) {
      throw new InvalidTransition({ message: `task ${id} is already ${task.status}`, taskId: id, status: task.status })
    }
    const done = this.cancelTask(task, now, actor, null, reason ?? "cancelled", false)
    this.drain(now, actor)
    return { task: this.view(done, now), cancelled: [...this.cancelledNow] }
  }

  /**
   * Retries a FAILED task: back to READY (or BLOCKED) with its retries and stalls reset. Its
   * subtree opens again, so dependents that had gone ahead under `ignore` but not started wait
   * again; the tasks its failure cancelled come back unless something else still dooms them.
   */
  retry(id: string, now: number, actor: string | null): { task: Task; revived: Array<string> } {
    const task = this.load(id)
    if (task.status !== "failed") {
      throw new InvalidTransition({ message: `only failed tasks can be retried: task ${id} is ${task.status}`, taskId: id, status: task.status })
    }
    // Only a migrated legacy database (or a subtask added under a prerequisite after it ran)
    // has FAILED tasks whose edges are not resolved: they follow the rule again first.
    this.syncEdges(task, now, actor)
    const doom = this.doomingPrerequisite(id)
    if (doom !== undefined) {
      const what = doom.status === "failed" || doom.status === "cancelled" ? `is ${doom.status}` : "has a failed or cancelled task below it"
      throw new InvalidTransition({
        message: `task ${id} cannot be retried while its prerequisite ${doom.taskId} ${what}: retry that one first`,
        taskId: id,
        status: task.status
      })
    }
    const retried = this.setStatus(this.load(id), "ready", now, { errorMessage: null, retryCount: 0, stallCount: 0, notBefore: null, completedAt: null }, actor, "retried")
    // The state machine takes a FAILED task back to READY only; it waits there if an edge is open.
    const next = this.gated(retried) ? this.transition(retried, "blocked", now, {}, actor, "prerequisites not completed") : retried
    this.drain(now, actor)
    // The tasks this failure cancelled, each once nothing dooms it any more (parents first).
    const candidates = new Set(this.store.cancelledBy(id))
    const revived: Array<string> = []
    let progress = true
    while (progress && candidates.size > 0) {
      progress = false
      for (const c of [...candidates]) {
        const t = this.store.getTask(c)
        if (t === null || t.status !== "cancelled") {
          candidates.delete(c)
          continue
        }
        if (t.parentTaskId !== null && this.store.getTask(t.parentTaskId)?.status === "cancelled") continue
        this.syncEdges(t, now, actor)
        if (this.doomingPrerequisite(c) !== undefined) continue
        const fresh = this.load(c)
        this.setStatus(fresh, this.gated(fresh) ? "blocked" : "ready", now, { cancelledBy: null, errorMessage: null }, actor, `prerequisite ${id} was retried`)
        this.drain(now, actor)
        revived.push(c)
        candidates.delete(c)
        progress = true
      }
    }
    for (const c of [id, ...revived]) {
      for (const p of this.store.prerequisitesOf(c)) if (p.resolvedAt === null && isWaiting(p.status)) this.refreshById(p.taskId, now)
    }
    return { task: this.view(this.load(next.id), now), revived }
  }

  /** Evaluates PENDING tasks (after a migration): BLOCKED, READY or CANCELLED. */
  evaluatePending(now: number): number {
    const pending = this.store.idsWithStatus("pending")
    if (pending.length === 0) return 0
    const order = topologicalBatches(pending, (id) => this.store.prerequisitesOf(id).map((p) => p.taskId)).flat()
    for (const id of order) {
      const task = this.store.getTask(id)
      if (task === null || task.status !== "pending") continue
      const doom = this.doomingPrerequisite(id)
      if (doom !== undefined) {
        this.cancelTask(task, now, "engine", doom.taskId, this.doomReason(doom), true)
        this.drain(now, "engine")
      } else {
        this.transition(task, this.gated(task) ? "blocked" : "ready", now, {}, "engine", "prerequisites evaluated")
      }
    }
    return order.length
  }

  // ---- read side -------------------------------------------------------------------------

  detail(id: string, now: number): TaskDetail {
    const task = this.load(id)
    const link = (n: Neighbour): DependencyLink => ({
      taskId: n.taskId,
      dependencyType: n.dependencyType,
      onFailure: n.onFailure,
      resolvedAt: n.resolvedAt
    })
    return {
      ...this.listed(task, now),
      prerequisites: this.store.prerequisitesOf(id).map(link),
      dependents: this.store.dependentsOf(id).map(link),
      children: this.store.childIds(id),
      subtree: subtreeProgress(task.subtree),
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
  graph(id: string | undefined, now: number): { tasks: Array<Task>; edges: Array<GraphLink> } {
    let ids: Array<string>
    if (id === undefined) {
      ids = this.store.listTasks({}).map((t) => t.id)
    } else {
      this.load(id)
      const set = new Set([id])
      const queue = [id]
      while (queue.length > 0) {
        const cur = queue.shift()!
        const t = this.store.getTask(cur)
        const next = [
          ...this.store.prerequisitesOf(cur).map((n) => n.taskId),
          ...this.store.dependentsOf(cur).map((n) => n.taskId),
          ...this.store.childIds(cur),
          ...(t?.parentTaskId != null ? [t.parentTaskId] : [])
        ]
        for (const n of next) {
          if (!set.has(n)) {
            set.add(n)
            queue.push(n)
          }
        }
      }
      ids = [...set]
    }
    const stored = this.store.getTasks(ids)
    const tasks = stored.map((t) => this.view(t, now))
    const edges: Array<GraphLink> = this.store.edgesAmong(ids).map((e) => ({
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
      // Ancestors that stay lose the pruned subtrees from their counters.
      const gone = new Set(doomed)
      for (const t of this.store.getTasks(doomed)) {
        if (t.parentTaskId === null || gone.has(t.parentTaskId)) continue
        const delta = { open: -t.subtree.open, completed: -t.subtree.completed, failed: -t.subtree.failed, cancelled: -t.subtree.cancelled }
        delta[Engine.outcome(t.status)] -= 1
        this.store.adjustSubtree(t.parentTaskId, delta)
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
