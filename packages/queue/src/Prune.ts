/** Pruning: deletes old terminal tasks that nothing kept still references. */
import { formatTimestamp, TerminalStatuses, type TaskStatus } from "@abathur/domain"
import { outcome } from "./Status.js"
import type { Step } from "./Store.js"
import type { Tx } from "./Tx.js"

export interface PruneOptions {
  readonly olderThanMs: number
  readonly statuses: ReadonlyArray<TaskStatus> | undefined
  readonly dryRun: boolean
}

/** Deletes old terminal tasks that nothing kept still references. */
export function* prune(
  tx: Tx,
  options: PruneOptions,
  now: number,
  onProgress?: (done: number, total: number) => void
): Step<{ deleted: number; ids: Array<string> }> {
  const statuses = options.statuses && options.statuses.length > 0 ? options.statuses : TerminalStatuses
  const candidates = new Set(yield* tx.store.pruneCandidates(statuses, formatTimestamp(now - options.olderThanMs)))
  if (candidates.size === 0) return { deleted: 0, ids: [] }
  const ids = [...candidates]
  // Who references whom: children point at parents, dependents at prerequisites.
  const referrers = new Map<string, Array<string>>()
  const addRef = (target: string, from: string) => {
    let list = referrers.get(target)
    if (list === undefined) referrers.set(target, (list = []))
    list.push(from)
  }
  for (const { id: child, parentId } of yield* tx.store.childrenOfMany(ids)) addRef(parentId, child)
  for (const e of yield* tx.store.dependentsOfMany(ids)) addRef(e.prerequisiteTaskId, e.dependentTaskId)
  for (const id of yield* tx.store.referencedElsewhere(ids)) candidates.delete(id)
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
    const depth = new Map<string, number>()
    for (const id of doomed) {
      let d = 0
      for (let p = (yield* tx.store.getTask(id))?.parentTaskId; p != null && candidates.has(p); p = (yield* tx.store.getTask(p))?.parentTaskId) d++
      depth.set(id, d)
    }
    // Ancestors that stay lose the pruned subtrees from their counters.
    const gone = new Set(doomed)
    for (const t of yield* tx.store.getTasks(doomed)) {
      if (t.parentTaskId === null || gone.has(t.parentTaskId)) continue
      const delta = { open: -t.subtree.open, completed: -t.subtree.completed, failed: -t.subtree.failed, cancelled: -t.subtree.cancelled }
      delta[outcome(t.status)] -= 1
      yield* tx.store.adjustSubtree(t.parentTaskId, delta)
    }
    const ordered = [...doomed].sort((a, b) => depth.get(b)! - depth.get(a)!)
    const step = 1000
    for (let i = 0; i < ordered.length; i += step) {
      yield* tx.store.deleteTasks(ordered.slice(i, i + step))
      onProgress?.(Math.min(i + step, ordered.length), ordered.length)
    }
  }
  return { deleted: doomed.length, ids: doomed }
}
