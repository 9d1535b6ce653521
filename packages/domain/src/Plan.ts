import { findCycleIn } from "./Graph.js"
import { TaskId } from "./Primitives.js"
import type { DependencyType } from "./DependencyType.js"
import type { OnFailure, Plan, PlanNode } from "./Task.js"

/** One prerequisite edge of a plan node, resolved to a key of the plan or an existing task id. */
export interface FlatPlanEdge {
  readonly ref: string
  readonly local: boolean
  readonly onFailure: OnFailure
  readonly dependencyType: DependencyType | undefined
}

/** A plan node placed in the flat list the engine inserts. */
export interface FlatPlanNode {
  readonly key: string
  readonly node: PlanNode
  /** The key of the node it is nested in, or null for a top-level node. */
  readonly parentKey: string | null
  /** Prerequisites inside the plan, by key. */
  readonly localDependsOn: ReadonlyArray<string>
  /** Prerequisites that are existing tasks, by id. */
  readonly externalDependsOn: ReadonlyArray<string>
  /** Every prerequisite edge with its options (first mention of a prerequisite wins). */
  readonly edges: ReadonlyArray<FlatPlanEdge>
}

export type PlanProblem =
  | { readonly _tag: "DuplicateKey"; readonly key: string }
  | { readonly _tag: "UnknownReference"; readonly key: string; readonly reference: string }
  | { readonly _tag: "NestedParent"; readonly key: string }
  | { readonly _tag: "Cycle"; readonly cycle: ReadonlyArray<string> }
  | { readonly _tag: "DuplicateIdempotencyKey"; readonly key: string; readonly idempotencyKey: string }

export type FlatPlan =
  | { readonly _tag: "Ok"; readonly nodes: ReadonlyArray<FlatPlanNode>; readonly order: ReadonlyArray<string> }
  | { readonly _tag: "Problem"; readonly problem: PlanProblem }

/** Human-readable text for a plan problem. */
export const describePlanProblem = (p: PlanProblem): string => {
  switch (p._tag) {
    case "DuplicateKey":
      return `plan key ${JSON.stringify(p.key)} is used twice: every key must be unique in the plan`
    case "UnknownReference":
      return `plan node ${JSON.stringify(p.key)} depends on ${JSON.stringify(p.reference)}, which is neither a key of the plan nor a task id`
    case "NestedParent":
      return `plan node ${JSON.stringify(p.key)} is nested and sets parentTaskId: only top-level nodes may name an existing parent`
    case "Cycle":
      return `the plan's dependencies form a cycle: ${p.cycle.join(" -> ")}`
    case "DuplicateIdempotencyKey":
      return `plan node ${JSON.stringify(p.key)} reuses idempotencyKey ${JSON.stringify(p.idempotencyKey)}: each task needs its own key`
  }
}

/**
 * Flattens a plan tree (parents before their children), resolves each `dependsOn` entry
 * to a key of the plan or an existing task id (a key wins), and checks the plan's own
 * dependencies for cycles. `order` lists the keys so that prerequisites come first.
 */
export const flattenPlan = (plan: Plan): FlatPlan => {
  const nodes: Array<FlatPlanNode> = []
  /** Each key's place in the flat list. */
  const keys = new Map<string, number>()
  const idempotencyKeys = new Set<string>()
  const pending: Array<{ node: PlanNode; parentKey: string | null }> = plan.tasks
    .map((node) => ({ node, parentKey: null as string | null }))
    .reverse()
  const flat: Array<{ node: PlanNode; parentKey: string | null }> = []
  while (pending.length > 0) {
    const item = pending.pop()!
    if (keys.has(item.node.key)) return { _tag: "Problem", problem: { _tag: "DuplicateKey", key: item.node.key } }
    if (item.parentKey !== null && item.node.parentTaskId != null) {
      return { _tag: "Problem", problem: { _tag: "NestedParent", key: item.node.key } }
    }
    keys.set(item.node.key, flat.length)
    const ik = item.node.idempotencyKey
    if (ik != null) {
      if (idempotencyKeys.has(ik)) {
        return { _tag: "Problem", problem: { _tag: "DuplicateIdempotencyKey", key: item.node.key, idempotencyKey: ik } }
      }
      idempotencyKeys.add(ik)
    }
    flat.push(item)
    for (let i = item.node.children.length - 1; i >= 0; i--) {
      pending.push({ node: item.node.children[i]!, parentKey: item.node.key })
    }
  }
  let selfLoop = false
  for (const { node, parentKey } of flat) {
    const local: Array<string> = []
    const external: Array<string> = []
    const edges: Array<FlatPlanEdge> = []
    const seen = node.dependsOn.length > 1 ? new Set<string>() : null
    for (const dep of node.dependsOn) {
      let ref: string
      let isLocal: boolean
      if (dep.kind !== "id" && keys.has(dep.ref)) {
        ref = dep.ref
        isLocal = true
      } else {
        const id = dep.kind === "key" ? null : TaskId.safeParse(dep.ref)
        if (id === null || !id.success) return { _tag: "Problem", problem: { _tag: "UnknownReference", key: node.key, reference: dep.ref } }
        ref = id.data
        isLocal = false
      }
      if (seen !== null) {
        const mark = `${isLocal ? "k" : "i"}:${ref}`
        if (seen.has(mark)) continue
        seen.add(mark)
      }
      ;(isLocal ? local : external).push(ref)
      if (isLocal && ref === node.key) selfLoop = true
      edges.push({ ref, local: isLocal, onFailure: dep.onFailure, dependencyType: dep.dependencyType })
    }
    nodes.push({
      key: node.key,
      node,
      parentKey,
      localDependsOn: local,
      externalDependsOn: external,
      edges
    })
  }
  // Layers by place: prerequisites first, plan order within a layer (topologicalBatches' order,
  // without its maps). A node left over, or one naming itself, means a cycle: only then is the
  // cycle looked for, to name it.
  const total = nodes.length
  const remaining = new Int32Array(total)
  const dependents: Array<Array<number> | undefined> = new Array(total)
  for (let i = 0; i < total; i++) {
    for (const k of nodes[i]!.localDependsOn) {
      const j = keys.get(k)!
      if (j === i) continue
      remaining[i]!++
      ;(dependents[j] ??= []).push(i)
    }
  }
  const order: Array<string> = []
  let current: Array<number> = []
  for (let i = 0; i < total; i++) if (remaining[i] === 0) current.push(i)
  while (current.length > 0) {
    const next: Array<number> = []
    for (const i of current) {
      order.push(nodes[i]!.key)
      for (const d of dependents[i] ?? []) if (--remaining[d]! === 0) next.push(d)
    }
    next.sort((a, b) => a - b)
    current = next
  }
  if (selfLoop || order.length !== total) {
    const depsOf = (key: string) => nodes[keys.get(key)!]!.localDependsOn
    return {
      _tag: "Problem",
      problem: {
        _tag: "Cycle",
        cycle:
          findCycleIn(
            nodes.map((n) => n.key),
            depsOf
          ) ?? []
      }
    }
  }
  return { _tag: "Ok", nodes, order }
}

/**
 * Adoption under a parent: a plan whose top level names `parentTaskId` (an existing task) becomes
 * that task's subtree: every top-level node that names no parent gets it (a node that names one,
 * even null, keeps its own). Works on the plan as submitted (before validation), so that the nodes
 * are checked, stored and fingerprinted (idempotency) as if each had named the parent itself.
 */
export const adoptPlan = (plan: unknown): unknown => {
  if (typeof plan !== "object" || plan === null || Array.isArray(plan) || !("parentTaskId" in plan)) return plan
  const { parentTaskId, ...rest } = plan as { parentTaskId: unknown; tasks?: unknown }
  if (parentTaskId === undefined) return rest
  // A bad parent or plan is left for the plan's schema to report.
  if (!TaskId.safeParse(parentTaskId).success || !Array.isArray(rest.tasks)) return plan
  return {
    ...rest,
    tasks: rest.tasks.map((node: unknown) =>
      typeof node === "object" && node !== null && !Array.isArray(node) && !("parentTaskId" in node) ? { ...node, parentTaskId } : node
    )
  }
}
