/**
 * One run of a rule (one operation, in one transaction): the store, the settings and what the
 * run has done so far (the per-transaction state the rule modules share), with the helpers
 * every rule module uses. A runner that retries a transaction starts a new run.
 */
import type { SubtreeState } from "@abathur/domain"
import type { AuditEntry, StoredTask } from "@abathur/storage"
import type { TaskChange } from "./Model.js"
import type { QueueSettings } from "./QueueConfig.js"
import { LimitExceeded, TaskNotFound } from "./QueueError.js"
import type { Step, TaskStore } from "./Store.js"

/** A change of a task's subtree state, to act on (see Cascade's `drain`). */
export interface Flip {
  readonly id: string
  readonly before: SubtreeState
  readonly after: SubtreeState
  /** The task whose change started it (a cascade's `cancelledBy`). */
  readonly cause: string
}

export class Tx {
  /** Changes made by the operation (published after commit). */
  readonly changes: Array<TaskChange> = []
  /** Subtree flips recorded and not yet acted on by `drain`. */
  flips: Array<Flip> = []
  draining = false
  /** Tasks the operation made READY from BLOCKED (for `complete`'s `unblocked`). */
  readonly readied: Array<string> = []
  /** Tasks the operation cancelled by a cascade. */
  readonly cancelledNow: Array<string> = []

  constructor(
    readonly store: TaskStore,
    readonly settings: QueueSettings
  ) {}
}

export function* load(tx: Tx, id: string, what = "task"): Step<StoredTask> {
  const task = yield* tx.store.getTask(id)
  if (task === null) {
    throw new TaskNotFound({ message: `${what} ${id} does not exist`, taskId: id })
  }
  return task
}

export function* audit(tx: Tx, entry: AuditEntry): Step<void> {
  yield* tx.store.insertAudit(entry)
  tx.changes.push({ taskId: entry.taskId, from: entry.fromStatus, to: entry.toStatus, at: entry.at })
}

export function* auditMany(tx: Tx, entries: ReadonlyArray<AuditEntry>): Step<void> {
  yield* tx.store.insertAudits(entries)
  for (const e of entries) tx.changes.push({ taskId: e.taskId, from: e.fromStatus, to: e.toStatus, at: e.at })
}

export const checkLimit = (limit: "dependencies" | "depth" | "subtasks", max: number, actual: number, what: string): void => {
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
 * A breadth-first walk, a level at a time: `expand` reads the level after `level` (one batched
 * read where it can). Returns the ids visited, in order. Each id is visited once, unless
 * `revisit` (a walk that visits a task again when it learns something new about it, such as a
 * greater depth: `expand` decides what to give back).
 */
export function* breadthFirst(
  start: Iterable<string>,
  expand: (level: ReadonlyArray<string>) => Step<Iterable<string>>,
  revisit = false
): Step<Array<string>> {
  const seen = new Set<string>()
  const visited: Array<string> = []
  let level: Array<string> = []
  const add = (id: string) => {
    if (!revisit) {
      if (seen.has(id)) return
      seen.add(id)
    }
    level.push(id)
    visited.push(id)
  }
  for (const id of start) add(id)
  while (level.length > 0) {
    const current = level
    level = []
    for (const id of yield* expand(current)) add(id)
  }
  return visited
}
