/** The task repository: dependency edges and the neighbours of a task. */
import { describe, expect, it } from "vitest"
import { at, makeDependency, makeTask, MISSING, withTasks } from "../helpers.js"

describe("dependencies", () => {
  /** a <- b <- c, a <- c, and d (done) depends on a. */
  const graph = () => {
    const a = makeTask({ status: "running", dependencyDepth: 0 })
    const b = makeTask({ status: "blocked", dependencyDepth: 1 })
    const c = makeTask({ status: "blocked", dependencyDepth: 2 })
    const d = makeTask({ status: "cancelled", dependencyDepth: 1 })
    const opened = withTasks(a, b, c, d)
    const ab = makeDependency(b.id, a.id, { createdAt: at(1) })
    const bc = makeDependency(c.id, b.id, { createdAt: at(2), dependencyType: "parallel" })
    const ac = makeDependency(c.id, a.id, { createdAt: at(3) })
    const ad = makeDependency(d.id, a.id, { createdAt: at(4) })
    for (const e of [ab, bc, ac, ad]) opened.repo.insertDependency(e)
    return { ...opened, a, b, c, d }
  }

  it("hasDependency knows the direction of an edge", () => {
    const { repo, a, b, c } = graph()
    expect(repo.hasDependency(b.id, a.id)).toBe(true)
    expect(repo.hasDependency(a.id, b.id)).toBe(false)
    expect(repo.hasDependency(c.id, a.id)).toBe(true)
    expect(repo.hasDependency(MISSING, a.id)).toBe(false)
  })

  it("prerequisitesOf and dependentsOf give the other end's status and depth, oldest edge first", () => {
    const { repo, a, b, c, d } = graph()
    expect(repo.prerequisitesOf(c.id)).toEqual([
      { taskId: b.id, dependencyType: "parallel", onFailure: "cancel", resolvedAt: null, status: "blocked", depth: 1, subtreeOpen: 0, subtreeBad: 0 },
      {
        taskId: a.id,
        dependencyType: "sequential",
        onFailure: "cancel",
        resolvedAt: null,
        status: "running",
        depth: 0,
        subtreeOpen: 0,
        subtreeBad: 0
      }
    ])
    expect(repo.dependentsOf(a.id)).toEqual([
      {
        taskId: b.id,
        dependencyType: "sequential",
        onFailure: "cancel",
        resolvedAt: null,
        status: "blocked",
        depth: 1,
        subtreeOpen: 0,
        subtreeBad: 0
      },
      {
        taskId: c.id,
        dependencyType: "sequential",
        onFailure: "cancel",
        resolvedAt: null,
        status: "blocked",
        depth: 2,
        subtreeOpen: 0,
        subtreeBad: 0
      },
      {
        taskId: d.id,
        dependencyType: "sequential",
        onFailure: "cancel",
        resolvedAt: null,
        status: "cancelled",
        depth: 1,
        subtreeOpen: 0,
        subtreeBad: 0
      }
    ])
    expect(repo.prerequisitesOf(a.id)).toEqual([])
    expect(repo.dependentsOf(c.id)).toEqual([])
    repo.resolveDependency(a.id, at(9))
    expect(repo.prerequisitesOf(b.id)[0]?.resolvedAt).toBe(at(9))
  })

  it("prerequisiteDepths lists each prerequisite's depth", () => {
    const { repo, a, b, c } = graph()
    expect(repo.prerequisiteDepths(c.id).sort((x, y) => x.depth - y.depth)).toEqual([
      { id: a.id, depth: 0 },
      { id: b.id, depth: 1 }
    ])
    expect(repo.prerequisiteDepths(a.id)).toEqual([])
  })

  it("resolveDependency resolves a prerequisite's open edges once, and unblockedBy names the dependents it freed", () => {
    const { repo, a, b, c, d } = graph()
    expect(repo.countPrerequisites(c.id)).toBe(2)
    // a -> b, c, d: b waits on a only, c on a and b, d is cancelled.
    repo.updateTask(b.id, { status: "blocked" })
    repo.updateTask(c.id, { status: "blocked" })
    expect(repo.resolveDependency(a.id, at(10)).sort()).toEqual([b.id, c.id, d.id].sort())
    expect(repo.resolveDependency(a.id, at(11))).toEqual([])
    // b has nothing left; c still waits on b; d is not waiting.
    const freed = repo.unblockedBy(a.id, at(10))
    expect(freed.map((f) => f.id)).toEqual([b.id])
    expect(freed[0]).toMatchObject({ status: "blocked", priority: b.priority, source: b.source, submittedAt: b.submittedAt, openDependents: 1 })
    expect(repo.unblockedBy(a.id, at(11))).toEqual([])
    expect(repo.resolveDependency(b.id, at(12))).toEqual([c.id])
    expect(repo.unblockedBy(b.id, at(12)).map((f) => f.id)).toEqual([c.id])
    expect(repo.countPrerequisites(c.id)).toBe(2)
    expect(repo.countPrerequisites(a.id)).toBe(0)
  })

  it("insertAudits records many entries in order, across statements of 100 rows", () => {
    const { repo, a } = graph()
    const before = repo.auditOf(a.id).length
    const entries = Array.from({ length: 250 }, (_, i) => ({
      taskId: a.id,
      fromStatus: "blocked" as const,
      toStatus: "ready" as const,
      at: at(100 + i),
      actor: `w${i}`,
      reason: i % 2 === 0 ? null : `r${i}`
    }))
    repo.insertAudits(entries)
    repo.insertAudits([])
    const trail = repo.auditOf(a.id).slice(before)
    expect(trail.length).toBe(250)
    expect(trail.map((e) => e.actor)).toEqual(entries.map((e) => e.actor))
    expect(trail[1]).toMatchObject({ fromStatus: "blocked", toStatus: "ready", reason: "r1" })
  })

  it("countOpenDependents counts open dependents on unresolved edges only", () => {
    const { repo, a, b, c } = graph()
    // b and c are open; d is cancelled and does not count.
    expect(repo.countOpenDependents(a.id)).toBe(2)
    repo.updateTask(c.id, { status: "completed" })
    expect(repo.countOpenDependents(a.id)).toBe(1)
    repo.updateTask(c.id, { status: "failed" })
    expect(repo.countOpenDependents(a.id)).toBe(1)
    repo.updateTask(c.id, { status: "ready" })
    expect(repo.countOpenDependents(a.id)).toBe(2)
    repo.resolveDependency(a.id, at(5))
    expect(repo.countOpenDependents(a.id)).toBe(0)
    expect(repo.countOpenDependents(b.id)).toBe(1)
    expect(repo.countOpenDependents(c.id)).toBe(0)
  })

  it("edgesAmong keeps only edges with both ends among the ids", () => {
    const { repo, a, b, c, d } = graph()
    const key = (e: { dependentTaskId: string; prerequisiteTaskId: string }) => `${e.dependentTaskId}>${e.prerequisiteTaskId}`
    expect(repo.edgesAmong([b.id, c.id])).toEqual([
      { dependentTaskId: c.id, prerequisiteTaskId: b.id, dependencyType: "parallel", onFailure: "cancel", resolvedAt: null }
    ])
    expect(repo.edgesAmong([a.id, b.id, c.id, d.id]).map(key).sort()).toEqual(
      [`${b.id}>${a.id}`, `${c.id}>${b.id}`, `${c.id}>${a.id}`, `${d.id}>${a.id}`].sort()
    )
    expect(repo.edgesAmong([a.id])).toEqual([])
    expect(repo.edgesAmong([])).toEqual([])
  })

  it("dependentsOfMany gives every edge out of these prerequisites, resolved or not", () => {
    const { repo, a, b, c, d } = graph()
    repo.resolveDependency(b.id, at(7))
    const edges = repo.dependentsOfMany([a.id, b.id])
    expect(edges).toHaveLength(4)
    expect(edges.find((e) => e.prerequisiteTaskId === b.id)).toEqual({
      dependentTaskId: c.id,
      prerequisiteTaskId: b.id,
      dependencyType: "parallel",
      onFailure: "cancel",
      resolvedAt: at(7)
    })
    expect(
      edges
        .filter((e) => e.prerequisiteTaskId === a.id)
        .map((e) => e.dependentTaskId)
        .sort()
    ).toEqual([b.id, c.id, d.id].sort())
    expect(repo.dependentsOfMany([c.id])).toEqual([])
    expect(repo.dependentsOfMany([])).toEqual([])
  })

  it("edgesAmong and dependentsOfMany handle more ids than one query binds", () => {
    const hub = makeTask()
    const spokes = Array.from({ length: 600 }, () => makeTask())
    const { repo } = withTasks(hub, ...spokes)
    repo.transaction(() => {
      for (const s of spokes) repo.insertDependency(makeDependency(s.id, hub.id))
    })
    expect(repo.edgesAmong([...spokes.map((s) => s.id), hub.id])).toHaveLength(600)
    expect(repo.dependentsOfMany([...spokes.map((s) => s.id), hub.id])).toHaveLength(600)
    expect(repo.getStates(spokes.map((s) => s.id)).size).toBe(600)
  })
})
