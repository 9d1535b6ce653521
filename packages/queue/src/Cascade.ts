/**
 * Cascades: what the flips of subtree states (Status.ts) set off, and the operations built on
 * them (cancel, retry and the tasks it revives, the evaluation of PENDING tasks, a task back
 * from RUNNING).
 *
 * When a subtree flips, the edges on that task act: `cancel` edges cancel their open dependents
 * when it becomes doomed; edges resolve when it closes (`ignore`) or completes (every edge); a
 * closed subtree that opens again (a retry, a new subtask) opens the edges of dependents that
 * have not started. A task's gate is closed while it has an unresolved edge or `ancestorGated`
 * (some ancestor has one). A gate that opens or closes walks down only through children whose
 * own gate follows (a child with unresolved edges of its own stops the walk).
 */
import { edgeResolved, formatTimestamp, isTerminal, isWaiting, subtreeState, type Task, type TaskStatus, topologicalBatches } from "@abathur/domain"
import type { AuditEntry, GateFacts, StoredTask } from "@abathur/storage"
import { InvalidTransition } from "./QueueError.js"
import { refreshById, refreshFacts, scoreAt, view } from "./Ranking.js"
import { setStatus, transition } from "./Status.js"
import type { Step } from "./Store.js"
import { auditMany, type Flip, load, type Tx } from "./Tx.js"

// ---- the doom rule -----------------------------------------------------------------------

const failedOrCancelled = (status: TaskStatus): boolean => status === "failed" || status === "cancelled"

/** A prerequisite that dooms its dependents through `cancel` edges, and why. */
export interface Doom {
  readonly taskId: string
  /** FAILED or CANCELLED itself (rather than a task below it). */
  readonly own: boolean
  /** "is failed", "is cancelled" or "has a failed or cancelled task below it". */
  readonly why: string
}

/**
 * The rule: a prerequisite dooms its dependents (through `cancel` edges) when it is FAILED or
 * CANCELLED, or when a task below it is (`bad`: its FAILED and CANCELLED descendants). Null when
 * it does not.
 */
export const doomOf = (taskId: string, status: TaskStatus, bad: number): Doom | null =>
  failedOrCancelled(status)
    ? { taskId, own: true, why: `is ${status}` }
    : bad > 0
      ? { taskId, own: false, why: "has a failed or cancelled task below it" }
      : null

/** The first unresolved `cancel` edge of a task whose prerequisite dooms it. */
export function* doomingPrerequisite(tx: Tx, id: string): Step<Doom | null> {
  for (const p of yield* tx.store.prerequisitesOf(id)) {
    if (p.resolvedAt !== null || p.onFailure !== "cancel") continue
    const doom = doomOf(p.taskId, p.status, p.subtreeBad)
    if (doom !== null) return doom
  }
  return null
}

const doomReason = (doom: Doom): string => `prerequisite ${doom.taskId} ${doom.why}`

// ---- flips -------------------------------------------------------------------------------

/** Acts on every recorded flip (and the flips that acting records), in order. */
export function* drain(tx: Tx, now: number, actor: string | null): Step<void> {
  if (tx.draining) return
  tx.draining = true
  try {
    for (let i = 0; i < tx.flips.length; i++) yield* act(tx, tx.flips[i]!, now, actor)
    tx.flips = []
  } finally {
    tx.draining = false
  }
}

function* act(tx: Tx, f: Flip, now: number, actor: string | null): Step<void> {
  const { id, before, after, cause } = f
  if (after.doomed && !before.doomed) {
    let reason: string | null = null
    for (const d of yield* tx.store.dependentsOf(id)) {
      if (d.onFailure !== "cancel" || d.resolvedAt !== null || isTerminal(d.status)) continue
      if (reason === null) {
        const self = yield* tx.store.getTask(id)
        const what =
          self !== null && failedOrCancelled(self.status)
            ? self.status === "failed"
              ? `prerequisite ${id} failed`
              : `prerequisite ${id} was cancelled`
            : `a task under prerequisite ${id} failed or was cancelled`
        reason = cause === id ? what : `${what} (because of task ${cause})`
      }
      // Fresh: an earlier dependent's cascade may have reached this one (a subtask of it).
      const t = yield* tx.store.getTask(d.taskId)
      if (t !== null && !isTerminal(t.status)) yield* cancelTask(tx, t, now, actor, cause, reason, true)
    }
  }
  if (after.closed && !before.closed) {
    const at = formatTimestamp(now)
    const resolved = yield* tx.store.resolveEdges(id, at, !after.complete)
    if (resolved.length > 0) {
      const self = yield* tx.store.getTask(id)
      const whole = self !== null && self.subtree.open + self.subtree.completed + self.subtree.failed + self.subtree.cancelled > 0
      const reason = after.complete
        ? whole
          ? `prerequisite ${id} and all its subtasks completed`
          : `last prerequisite ${id} completed`
        : `prerequisite ${id} and its subtasks finished (onFailure: ignore)`
      yield* edgesResolved(tx, resolved, now, actor, reason)
    }
  } else if (before.closed && !after.closed) {
    const reopened = yield* tx.store.unresolveEdges(id)
    // Work waits on it again: a waiting task's dependency factor rose (a retried one).
    if (reopened.length > 0) yield* refreshById(tx, id, now)
    // A gate closes where this is now the only open edge and no ancestor gated the task, as
    // things stood before any of them closes (one may be below another: closing the upper one
    // sets the lower one's ancestor flag, yet the lower one must be blocked too).
    const closing: Array<StoredTask> = []
    for (const d of reopened) {
      const t = yield* tx.store.getTask(d)
      if (t !== null && !t.ancestorGated && (yield* tx.store.countUnresolved(d)) === 1) closing.push(t)
    }
    for (const t of closing) yield* gateClosed(tx, yield* load(tx, t.id), now, actor, `prerequisite ${id} has open subtasks again`)
  }
}

// ---- gates -------------------------------------------------------------------------------

/** Dependents whose edges were just resolved: those whose gate opens become READY, with their subtasks. */
export function* edgesResolved(tx: Tx, dependents: ReadonlyArray<string>, now: number, actor: string | null, reason: string): Step<void> {
  const entries: Array<AuditEntry> = []
  const below: Array<string> = []
  for (const f of yield* tx.store.gateFacts(dependents)) {
    if (f.hasUnresolved || f.ancestorGated) continue
    yield* gateOpened(tx, f, now, actor, reason, entries, below)
  }
  yield* openBelow(tx, below, now, actor, entries)
  yield* auditMany(tx, entries)
}

/** A task whose gate opened: READY when it waits, and its children's gates follow. */
function* gateOpened(
  tx: Tx,
  f: GateFacts,
  now: number,
  actor: string | null,
  reason: string,
  entries: Array<AuditEntry>,
  below: Array<string>
): Step<void> {
  if (f.status === "blocked" || f.status === "pending") {
    const at = formatTimestamp(now)
    const p = scoreAt(tx, "ready", refreshFacts(f), now, f.id, f.notBefore)
    yield* tx.store.updateTask(f.id, { status: "ready", lastUpdatedAt: at, ...p })
    entries.push({ taskId: f.id, fromStatus: f.status, toStatus: "ready", at, actor, reason })
    tx.readied.push(f.id)
  }
  if (f.hasChildren) below.push(f.id)
}

/** Opens the gates below these tasks (their gates opened): down to children with open edges of their own. */
function* openBelow(tx: Tx, parents: Array<string>, now: number, actor: string | null, entries: Array<AuditEntry>): Step<void> {
  while (parents.length > 0) {
    const pid = parents.pop()!
    for (const c of yield* tx.store.gateChildren(pid, false)) {
      if (c.hasUnresolved) continue
      yield* gateOpened(tx, c, now, actor, `the prerequisites of its parent ${pid} are resolved`, entries, parents)
    }
  }
}

/** A task whose gate closed: BLOCKED when READY, and its children's gates follow. */
export function* gateClosed(tx: Tx, task: StoredTask, now: number, actor: string | null, reason: string): Step<void> {
  if (task.status === "ready") yield* transition(tx, task, "blocked", now, {}, actor, reason)
  const parents = [task.id]
  while (parents.length > 0) {
    const pid = parents.pop()!
    for (const c of yield* tx.store.gateChildren(pid, true)) {
      if (c.hasUnresolved) continue
      if (c.status === "ready") {
        const t = yield* tx.store.getTask(c.id)
        if (t !== null) yield* transition(tx, t, "blocked", now, {}, actor, `an ancestor of it waits (${task.id})`)
      }
      if (c.hasChildren) parents.push(c.id)
    }
  }
}

/** The task waits on its own or an ancestor's unresolved edge. */
export function* gated(tx: Tx, task: StoredTask): Step<boolean> {
  return task.ancestorGated || (yield* tx.store.hasUnresolved(task.id))
}

/** Sets the resolution of a task's edges to what its prerequisites' subtrees say now (a revived task). */
function* syncEdges(tx: Tx, task: StoredTask, now: number, actor: string | null): Step<void> {
  const wasGated = yield* gated(tx, task)
  for (const p of yield* tx.store.prerequisitesOf(task.id)) {
    const s = subtreeState(p.status, { open: p.subtreeOpen, completed: 0, failed: p.subtreeBad, cancelled: 0 })
    const should = edgeResolved(p.onFailure, s)
    if (should !== (p.resolvedAt !== null)) {
      yield* tx.store.setEdgeResolved(task.id, p.taskId, should ? formatTimestamp(now) : null)
      // An open edge counts toward its prerequisite's dependency factor: a waiting one is re-ranked.
      if (isWaiting(p.status)) yield* refreshById(tx, p.taskId, now)
    }
  }
  const isGated = task.ancestorGated || (yield* tx.store.hasUnresolved(task.id))
  if (wasGated && !isGated) {
    const entries: Array<AuditEntry> = []
    yield* openBelow(tx, [task.id], now, actor, entries)
    yield* auditMany(tx, entries)
  } else if (!wasGated && isGated) {
    yield* gateClosed(tx, task, now, actor, "a prerequisite is open again")
  }
}

// ---- cancellation ------------------------------------------------------------------------

/**
 * Cancels an open task because of `cause` (a cascade): with its open subtasks; its dependents
 * follow through the flips of its subtree.
 */
function* cancelTask(
  tx: Tx,
  task: StoredTask,
  now: number,
  actor: string | null,
  cause: string | null,
  reason: string,
  cascaded: boolean
): Step<StoredTask> {
  const done = yield* setStatus(
    tx,
    task,
    "cancelled",
    now,
    { leaseToken: null, leaseExpiresAt: null, workerId: null, errorMessage: reason, ...(cause !== null && { cancelledBy: cause }) },
    actor,
    reason,
    cause ?? task.id
  )
  if (cascaded) tx.cancelledNow.push(task.id)
  // Its prerequisites lost an open dependent: their dependency factor fell.
  yield* refreshOpenPrerequisites(tx, task.id, now)
  if (task.subtree.open > 0) yield* cancelBelow(tx, task.id, now, actor, cause ?? task.id, `its parent ${task.id} was cancelled`)
  return done
}

/** Refreshes the waiting prerequisites a task waits on (its own open edges): their dependency factor changed. */
function* refreshOpenPrerequisites(tx: Tx, id: string, now: number): Step<void> {
  for (const p of yield* tx.store.prerequisitesOf(id)) if (p.resolvedAt === null && isWaiting(p.status)) yield* refreshById(tx, p.taskId, now)
}

/** Cancels the open tasks below a task in the hierarchy (through finished subtasks too). */
function* cancelBelow(tx: Tx, rootId: string, now: number, actor: string | null, cause: string, reason: string): Step<void> {
  for (const c of yield* tx.store.childStates(rootId)) {
    if (!isTerminal(c.status)) {
      const t = yield* tx.store.getTask(c.id)
      if (t !== null) yield* cancelTask(tx, t, now, actor, cause, reason, true)
    } else if (c.subtreeOpen > 0) {
      yield* cancelBelow(tx, c.id, now, actor, cause, reason)
    }
  }
}

/** Cancels a task and, transitively, its open dependents (through `cancel` edges) and subtasks. */
export function* cancel(tx: Tx, id: string, now: number, actor: string | null, reason?: string): Step<{ task: Task; cancelled: Array<string> }> {
  const task = yield* load(tx, id)
  if (isTerminal(task.status)) {
    throw new InvalidTransition({ message: `task ${id} is already ${task.status}`, taskId: id, status: task.status })
  }
  const done = yield* cancelTask(tx, task, now, actor, null, reason ?? "cancelled", false)
  yield* drain(tx, now, actor)
  return { task: view(tx, done, now), cancelled: [...tx.cancelledNow] }
}

// ---- back to waiting ---------------------------------------------------------------------

/**
 * A task back from RUNNING waits like any other (invariant 1): BLOCKED while an edge of it or
 * of an ancestor is open, CANCELLED (with its dependents) when a `cancel` edge is doomed. Only
 * a migrated legacy database, or an edge added under a running subtask's ancestor, leaves a
 * RUNNING task like that.
 */
export function* requeued(tx: Tx, task: StoredTask, now: number, actor: string | null): Step<{ task: StoredTask }> {
  // Waiting again: its edges follow the rule for waiting dependents (a prerequisite's subtree
  // may have opened again while it ran; a legacy task may have run too early).
  yield* syncEdges(tx, task, now, actor)
  const fresh = yield* load(tx, task.id)
  const doom = yield* doomingPrerequisite(tx, task.id)
  if (doom !== null) return { task: yield* cancelTask(tx, fresh, now, actor, doom.taskId, doomReason(doom), true) }
  if (fresh.status === "ready" && (yield* gated(tx, fresh))) {
    return { task: yield* transition(tx, fresh, "blocked", now, {}, actor, "prerequisites not completed") }
  }
  return { task: fresh }
}

/**
 * Retries a FAILED task: back to READY (or BLOCKED) with its retries and stalls reset. Its
 * subtree opens again, so dependents that had gone ahead under `ignore` but not started wait
 * again; the tasks its failure cancelled come back unless something else still dooms them.
 */
export function* retry(tx: Tx, id: string, now: number, actor: string | null): Step<{ task: Task; revived: Array<string> }> {
  const task = yield* load(tx, id)
  if (task.status !== "failed") {
    throw new InvalidTransition({ message: `only failed tasks can be retried: task ${id} is ${task.status}`, taskId: id, status: task.status })
  }
  // Only a migrated legacy database (or a subtask added under a prerequisite after it ran)
  // has FAILED tasks whose edges are not resolved: they follow the rule again first.
  yield* syncEdges(tx, task, now, actor)
  const doom = yield* doomingPrerequisite(tx, id)
  if (doom !== null) {
    throw new InvalidTransition({
      message: `task ${id} cannot be retried while its prerequisite ${doom.taskId} ${doom.why}: retry that one first`,
      taskId: id,
      status: task.status
    })
  }
  const retried = yield* setStatus(
    tx,
    yield* load(tx, id),
    "ready",
    now,
    { errorMessage: null, retryCount: 0, stallCount: 0, notBefore: null, completedAt: null },
    actor,
    "retried"
  )
  // The state machine takes a FAILED task back to READY only; it waits there if an edge is open.
  const next = (yield* gated(tx, retried)) ? yield* transition(tx, retried, "blocked", now, {}, actor, "prerequisites not completed") : retried
  yield* drain(tx, now, actor)
  const revived = yield* revive(tx, id, now, actor)
  for (const c of [id, ...revived]) yield* refreshOpenPrerequisites(tx, c, now)
  return { task: view(tx, yield* load(tx, next.id), now), revived }
}

/** The tasks the failure of `id` cancelled, each back once nothing dooms it any more (parents first). */
function* revive(tx: Tx, id: string, now: number, actor: string | null): Step<Array<string>> {
  const candidates = new Set(yield* tx.store.cancelledBy(id))
  const revived: Array<string> = []
  let progress = true
  while (progress && candidates.size > 0) {
    progress = false
    for (const c of [...candidates]) {
      const t = yield* tx.store.getTask(c)
      if (t === null || t.status !== "cancelled") {
        candidates.delete(c)
        continue
      }
      if (t.parentTaskId !== null && (yield* tx.store.getTask(t.parentTaskId))?.status === "cancelled") continue
      yield* syncEdges(tx, t, now, actor)
      if ((yield* doomingPrerequisite(tx, c)) !== null) continue
      const fresh = yield* load(tx, c)
      const to = (yield* gated(tx, fresh)) ? "blocked" : "ready"
      yield* setStatus(tx, fresh, to, now, { cancelledBy: null, errorMessage: null }, actor, `prerequisite ${id} was retried`)
      yield* drain(tx, now, actor)
      revived.push(c)
      candidates.delete(c)
      progress = true
    }
  }
  return revived
}

/** Evaluates PENDING tasks (after a migration): BLOCKED, READY or CANCELLED. */
export function* evaluatePending(tx: Tx, now: number): Step<number> {
  const pending = yield* tx.store.idsWithStatus("pending")
  if (pending.length === 0) return 0
  const prerequisites = new Map<string, Array<string>>()
  for (const id of pending)
    prerequisites.set(
      id,
      (yield* tx.store.prerequisitesOf(id)).map((p) => p.taskId)
    )
  const order = topologicalBatches(pending, (id) => prerequisites.get(id) ?? []).flat()
  for (const id of order) {
    const task = yield* tx.store.getTask(id)
    if (task === null || task.status !== "pending") continue
    const doom = yield* doomingPrerequisite(tx, id)
    if (doom !== null) {
      yield* cancelTask(tx, task, now, "engine", doom.taskId, doomReason(doom), true)
      yield* drain(tx, now, "engine")
    } else {
      yield* transition(tx, task, (yield* gated(tx, task)) ? "blocked" : "ready", now, {}, "engine", "prerequisites evaluated")
    }
  }
  return order.length
}
