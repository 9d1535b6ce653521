/** The repository's hierarchy bookkeeping: counters along ancestors, gates, edges by policy, idempotency. */
import { describe, expect, it } from "vitest"
import { at, makeDependency, makeTask, MISSING, openRepo, withTasks } from "../helpers.js"

const setup = () => {
  const { db, repo } = openRepo()
  const root = makeTask({ status: "completed", completedAt: at(1) })
  const mid = makeTask({ status: "running", parentTaskId: root.id, leaseToken: "t", leaseExpiresAt: at(9) })
  const leaf = makeTask({ status: "ready", parentTaskId: mid.id })
  const dependent = makeTask({ status: "blocked" })
  const lenient = makeTask({ status: "ready", idempotencyKey: "k-1", idempotencyFingerprint: "fp" })
  for (const t of [root, mid, leaf, dependent, lenient]) repo.insertTask(t)
  repo.insertDependency(makeDependency(dependent.id, root.id))
  repo.insertDependency(makeDependency(lenient.id, root.id, { onFailure: "ignore", resolvedAt: at(2) }))
  return { db, repo, root, mid, leaf, dependent, lenient }
}

describe("hierarchy bookkeeping in the repository", () => {
  it("adjustSubtree adds to a task and each ancestor and returns their new counts", () => {
    const { repo, root, mid } = setup()
    const rows = repo.adjustSubtree(mid.id, { open: 2, completed: 1, failed: 0, cancelled: 1 })
    expect(rows.map((r) => r.id).sort()).toEqual([root.id, mid.id].sort())
    expect(repo.getTask(root.id)!.subtree).toEqual({ open: 2, completed: 1, failed: 0, cancelled: 1 })
    expect(rows.find((r) => r.id === mid.id)).toMatchObject({ status: "running", subtree: { open: 2, completed: 1, failed: 0, cancelled: 1 } })
  })

  it("a parent link cycle (legacy data) is walked once", () => {
    const { db, repo, root, mid } = setup()
    db.pragma("foreign_keys = OFF")
    db.prepare("UPDATE tasks SET parent_task_id = ? WHERE id = ?").run(mid.id, root.id)
    expect(repo.adjustSubtree(mid.id, { open: 1, completed: 0, failed: 0, cancelled: 0 })).toHaveLength(2)
  })

  it("gates: children follow their parent's gate; facts tell what each child's own gate needs", () => {
    const { repo, root, mid, leaf } = setup()
    const kids = repo.gateChildren(root.id, true)
    expect(kids).toMatchObject([{ id: mid.id, ancestorGated: true, hasUnresolved: false, hasChildren: true, openDependents: 0 }])
    expect(repo.getTask(mid.id)!.ancestorGated).toBe(true)
    expect(repo.gateFacts([leaf.id])).toMatchObject([{ id: leaf.id, status: "ready", hasChildren: false, notBefore: null }])
    expect(repo.childStates(root.id)).toEqual([{ id: mid.id, status: "running", subtreeOpen: 0 }])
  })

  it("edges resolve by policy, open again for waiting dependents, and can be deleted", () => {
    const { repo, root, dependent, lenient } = setup()
    expect(repo.hasUnresolved(dependent.id)).toBe(true)
    expect(repo.countUnresolved(dependent.id)).toBe(1)
    expect(repo.resolveEdges(root.id, at(3), true)).toEqual([])
    expect(repo.resolveEdges(root.id, at(3), false)).toEqual([dependent.id])
    expect(repo.hasUnresolved(dependent.id)).toBe(false)
    expect(repo.unresolveEdges(root.id).sort()).toEqual([dependent.id, lenient.id].sort())
    repo.setEdgeResolved(lenient.id, root.id, at(4))
    expect(repo.prerequisitesOf(lenient.id)).toMatchObject([
      { taskId: root.id, onFailure: "ignore", resolvedAt: at(4), subtreeOpen: 0, subtreeBad: 0 }
    ])
    expect(repo.deleteDependency(lenient.id, root.id)).toEqual({ resolvedAt: at(4) })
    expect(repo.deleteDependency(lenient.id, root.id)).toBeNull()
  })

  it("finds tasks by idempotency key, cascades by cause, and keeps plan submissions", () => {
    const { repo, lenient, dependent, root } = setup()
    expect(repo.taskByIdempotencyKey("k-1")).toMatchObject({ id: lenient.id, idempotencyFingerprint: "fp" })
    expect(repo.taskByIdempotencyKey("k-2")).toBeNull()
    expect(repo.idempotencyKeysTaken(["k-1", "k-2"])).toEqual(new Map([["k-1", lenient.id]]))
    repo.updateTask(dependent.id, { status: "cancelled", cancelledBy: root.id })
    expect(repo.cancelledBy(root.id)).toEqual([dependent.id])
    expect(repo.getPlanSubmission("p")).toBeNull()
    repo.insertPlanSubmission("p", { fingerprint: "f", taskKeys: { a: root.id } }, at(5))
    expect(repo.getPlanSubmission("p")).toEqual({ fingerprint: "f", taskKeys: { a: root.id } })
  })
})

describe("hierarchy", () => {
  it("childIds, countChildren, rootIds and childrenOfMany follow parent links", () => {
    const root1 = makeTask({ submittedAt: at(0) })
    const root2 = makeTask({ submittedAt: at(1) })
    const child2 = makeTask({ parentTaskId: root1.id, submittedAt: at(3) })
    const child1 = makeTask({ parentTaskId: root1.id, submittedAt: at(2) })
    const grandchild = makeTask({ parentTaskId: child1.id, submittedAt: at(4) })
    const { repo } = withTasks(root1, root2, child2, child1, grandchild)
    expect(repo.childIds(root1.id)).toEqual([child1.id, child2.id])
    expect(repo.childIds(root2.id)).toEqual([])
    expect(repo.countChildren(root1.id)).toBe(2)
    expect(repo.countChildren(child1.id)).toBe(1)
    expect(repo.countChildren(MISSING)).toBe(0)
    expect(repo.rootIds()).toEqual([root1.id, root2.id])
    const pairs = repo.childrenOfMany([root1.id, child1.id, root2.id])
    expect(pairs.sort((x, y) => x.id.localeCompare(y.id))).toEqual(
      [
        { id: child1.id, parentId: root1.id },
        { id: child2.id, parentId: root1.id },
        { id: grandchild.id, parentId: child1.id }
      ].sort((x, y) => x.id.localeCompare(y.id))
    )
    expect(repo.childrenOfMany([])).toEqual([])
  })
})
