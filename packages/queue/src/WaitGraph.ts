/**
 * Reads the part of the waits-for graph (domain `Waits.ts`) that a check or a plan needs, in
 * rounds of batched queries: each round reads the facts of the nodes found in the previous one,
 * then their open-work children or their unresolved edges. Complete subtrees and finished tasks
 * end the walk, so a check reads what can still wait, not the whole history.
 */
import { type WaitFact, type WaitGraph, type WaitNode, needs, waitsFor } from "@abathur/domain"
import type { TaskStore, WaitFactRow } from "@abathur/storage"

const toFact = (r: WaitFactRow): WaitFact => ({ parentId: r.parentId, open: r.open === 1, subtreeOpen: r.subtreeOpen })
const key = (n: WaitNode): string => (n.kind === "gate" ? "g" : "d") + n.id

/** The graph reachable from `starts`, and the nodes reached (`starts` included). */
export const readWaitGraph = (store: TaskStore, starts: ReadonlyArray<WaitNode>): { graph: WaitGraph; reached: Array<WaitNode> } => {
  const facts = new Map<string, WaitFact>()
  const children = new Map<string, Array<string>>()
  const waitsOn = new Map<string, Array<string>>()
  const graph: WaitGraph = { facts, children, waitsOn }
  const seen = new Set<string>()
  const reached: Array<WaitNode> = []
  let frontier: Array<WaitNode> = []
  const visit = (n: WaitNode): void => {
    const k = key(n)
    if (seen.has(k)) return
    seen.add(k)
    reached.push(n)
    frontier.push(n)
  }
  for (const n of starts) visit(n)
  while (frontier.length > 0) {
    const round = frontier
    frontier = []
    const unknown = [...new Set(round.filter((n) => !facts.has(n.id)).map((n) => n.id))]
    if (unknown.length > 0) for (const r of store.waitFacts(unknown)) facts.set(r.id, toFact(r))
    const wantChildren: Array<string> = []
    const wantEdges: Array<string> = []
    for (const n of round) {
      const f = facts.get(n.id)
      if (f === undefined) continue
      const need = needs(n, f)
      if (need === "children" && !children.has(n.id)) {
        children.set(n.id, [])
        wantChildren.push(n.id)
      } else if (need === "edges" && !waitsOn.has(n.id)) {
        waitsOn.set(n.id, [])
        wantEdges.push(n.id)
      }
    }
    if (wantChildren.length > 0) {
      for (const r of store.openChildren(wantChildren)) {
        if (!facts.has(r.id)) facts.set(r.id, toFact(r))
        children.get(r.parentId!)?.push(r.id)
      }
    }
    if (wantEdges.length > 0) for (const e of store.unresolvedEdgesOf(wantEdges)) waitsOn.get(e.dependentId)?.push(e.prerequisiteId)
    for (const n of round) for (const m of waitsFor(graph, n)) visit(m)
  }
  return { graph, reached }
}
