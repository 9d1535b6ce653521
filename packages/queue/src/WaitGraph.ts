/**
 * Reads the part of the waits-for graph (domain `Waits.ts`) that a check or a plan needs: the
 * tasks reached from some gates (one recursive query), then the unresolved edges of the open ones.
 * Complete subtrees and finished tasks end the walk, so a check reads what can still wait, not
 * the whole history.
 */
import type { WaitFact, WaitGraph } from "@abathur/domain"
import type { Step, TaskStore } from "./Store.js"

/**
 * The graph reachable from the gates of `ids`, and the open tasks in it whose subtree is waited
 * for. `declared`: the graph of what may wait again (storage `waitRegion`), for the deadlock check;
 * otherwise the graph of what waits now, for the execution plan.
 */
export function* readWaitGraph(store: TaskStore, ids: ReadonlyArray<string>, declared: boolean): Step<{ graph: WaitGraph; waited: Array<string> }> {
  const facts = new Map<string, WaitFact>()
  const children = new Map<string, Array<string>>()
  const waitsOn = new Map<string, Array<string>>()
  const open: Array<string> = []
  const waited: Array<string> = []
  const rows = yield* store.waitRegion(ids, declared)
  for (const r of rows) {
    facts.set(r.id, { parentId: r.parentId, open: r.open === 1, subtreeOpen: r.subtreeOpen })
    if (r.open === 1) open.push(r.id)
    if (r.open === 1 && r.waited === 1) waited.push(r.id)
  }
  // A child is listed under its parent when it has open work; a subtree whose `done` was reached
  // has all of those children in the region.
  for (const r of rows) {
    if (r.parentId === null || (r.open !== 1 && r.subtreeOpen === 0)) continue
    const list = children.get(r.parentId)
    if (list === undefined) children.set(r.parentId, [r.id])
    else list.push(r.id)
  }
  if (open.length > 0) {
    for (const e of yield* store.waitEdgesOf(open, declared)) {
      const list = waitsOn.get(e.dependentId)
      if (list === undefined) waitsOn.set(e.dependentId, [e.prerequisiteId])
      else list.push(e.prerequisiteId)
    }
  }
  return { graph: { facts, children, waitsOn }, waited }
}
