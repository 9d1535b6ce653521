/**
 * Status changes: a task's move through the state machine (with its score in the same UPDATE),
 * and the hierarchy's bookkeeping that follows it (CONTRACT, December additions).
 *
 * Bookkeeping, all in the operation's transaction, never by scanning a subtree: each task counts
 * its strict descendants by outcome (`subtree`), adjusted along the ancestor chain (one
 * statement) whenever a task changes outcome (open, completed, failed, cancelled). From its
 * status and counters a task's subtree is *closed* (nothing open), *complete* (everything
 * COMPLETED) or *doomed* (something FAILED or CANCELLED). When one of these flips, the flip is
 * recorded here and acted on by Cascade's `drain`.
 */
import {
  canTransition,
  emptySubtree,
  formatTimestamp,
  isWaiting,
  type SubtreeCounts,
  type SubtreeState,
  subtreeState,
  type TaskStatus
} from "@abathur/domain"
import { type StoredTask, TaskColumns, type TaskPatch } from "@abathur/storage"
import { InvalidTransition } from "./QueueError.js"
import { priorityOf, scoreNow } from "./Ranking.js"
import type { Step } from "./Store.js"
import { audit, type Tx } from "./Tx.js"

/**
 * Moves a task to another state (checked against the state machine) and records it. `task` is
 * the task as stored (read in this transaction, or returned by the change that last wrote it):
 * the UPDATE sets only the columns whose value changes, since SQLite maintains every index and
 * fires every trigger whose columns its SET list names.
 */
export function* transition(
  tx: Tx,
  task: StoredTask,
  to: TaskStatus,
  now: number,
  patch: TaskPatch,
  actor: string | null,
  reason: string | null
): Step<StoredTask> {
  if (!canTransition(task.status, to)) {
    throw new InvalidTransition({
      message: `task ${task.id} is ${task.status} and cannot become ${to}`,
      taskId: task.id,
      status: task.status
    })
  }
  const at = formatTimestamp(now)
  let next: StoredTask
  if (isWaiting(to)) {
    // The refreshed priority goes into the same UPDATE as the state change (one statement, not two).
    const moved: StoredTask = { ...task, ...patch, status: to, lastUpdatedAt: at }
    next = { ...moved, ...(yield* priorityOf(tx, moved, now)) }
  } else {
    // Out of the claim order: the score stays what it was when the task stopped waiting.
    const calculatedPriority = scoreNow(tx, task, now)
    next = { ...task, ...patch, status: to, lastUpdatedAt: at, calculatedPriority, priorityRefreshAt: null, priorityRank: null }
  }
  yield* tx.store.updateTask(task.id, changes(task, next))
  yield* audit(tx, { taskId: task.id, fromStatus: task.status, toStatus: to, at, actor, reason })
  return next
}

/** The fields a change may set (storage's TaskPatch). */
const patchFields = Object.keys(TaskColumns) as Array<keyof TaskPatch>

/** The fields whose value differs between the stored task and its next state. */
const changes = (task: StoredTask, next: StoredTask): TaskPatch => {
  const out: Record<string, unknown> = {}
  for (const k of patchFields) if (next[k] !== task[k]) out[k] = next[k]
  return out as TaskPatch
}

/** The outcome class of a status, for the subtree counters. */
export const outcome = (status: TaskStatus): keyof SubtreeCounts =>
  status === "completed" || status === "failed" || status === "cancelled" ? status : "open"

const flip = (tx: Tx, id: string, before: SubtreeState, after: SubtreeState, cause: string): void => {
  if (before.closed !== after.closed || before.doomed !== after.doomed || before.complete !== after.complete) {
    tx.flips.push({ id, before, after, cause })
  }
}

/** Adds `delta` to the counters of `fromId` and its ancestors; records the flips of their subtrees. */
export function* bump(tx: Tx, fromId: string, delta: SubtreeCounts, cause: string): Step<void> {
  for (const r of yield* tx.store.adjustSubtree(fromId, delta)) {
    const before = {
      open: r.subtree.open - delta.open,
      completed: r.subtree.completed - delta.completed,
      failed: r.subtree.failed - delta.failed,
      cancelled: r.subtree.cancelled - delta.cancelled
    }
    flip(tx, r.id, subtreeState(r.status, before), subtreeState(r.status, r.subtree), cause)
  }
}

/**
 * Moves a task to another state (`transition`) and keeps the hierarchy's bookkeeping: its own
 * subtree state and its ancestors' counters. The flips are acted on by Cascade's `drain`.
 * (Its parameters are `transition`'s, and `cause`: alike in shape by design.)
 */
export function* setStatus(
  tx: Tx,
  task: StoredTask,
  to: TaskStatus,
  now: number,
  patch: TaskPatch,
  actor: string | null,
  reason: string | null,
  cause: string = task.id
): Step<StoredTask> {
  const next = yield* transition(tx, task, to, now, patch, actor, reason)
  const from = outcome(task.status)
  const into = outcome(to)
  if (from !== into) {
    flip(tx, task.id, subtreeState(task.status, task.subtree), subtreeState(to, task.subtree), cause)
    if (task.parentTaskId !== null) {
      const delta = { ...emptySubtree }
      delta[from] -= 1
      delta[into] += 1
      yield* bump(tx, task.parentTaskId, delta, cause)
    }
  }
  return next
}
