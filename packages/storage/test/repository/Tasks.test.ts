/** The task repository: task rows: read, update, delete, list and count. */
import { describe, expect, it } from "vitest"
import type { StoredTask, TaskPatch } from "../../src/TaskRows.js"
import { at, makeDependency, makeTask, MISSING, openRepo, thrown, withTasks } from "../helpers.js"

describe("reading tasks", () => {
  it("getTask returns the task, or null for an unknown id", () => {
    const task = makeTask()
    const { repo } = withTasks(task)
    expect(repo.getTask(task.id)).toEqual(task)
    expect(repo.getTask(MISSING)).toBeNull()
  })

  it("getTasks returns the tasks that exist, across more ids than one query binds", () => {
    const tasks = Array.from({ length: 1100 }, (_, i) => makeTask({ prompt: `t${i}`, submittedAt: at(i) }))
    const { repo } = withTasks(...tasks)
    expect(repo.getTasks([])).toEqual([])
    const ids = [...tasks.map((t) => t.id), MISSING]
    const got = repo.getTasks(ids)
    expect(got).toHaveLength(1100)
    expect(new Set(got.map((t) => t.id))).toEqual(new Set(tasks.map((t) => t.id)))
    expect(got.find((t) => t.id === tasks[777]!.id)).toEqual(tasks[777])
    expect(repo.getTasks([tasks[3]!.id, MISSING])).toEqual([tasks[3]])
  })

  it("idsWithPrefix finds the tasks whose id starts with a prefix, through the primary key", () => {
    const a = makeTask({ id: "abcd0000-0000-4000-8000-000000000001", summary: "first" })
    const b = makeTask({ id: "abcd0000-0000-4000-8000-000000000002", summary: "second" })
    const c = makeTask({ id: "abce0000-0000-4000-8000-000000000003", summary: "third" })
    const f = makeTask({ id: "abcf0000-0000-4000-8000-000000000004", summary: "fourth" })
    const { repo, db } = withTasks(a, b, c, f)
    expect(repo.idsWithPrefix("abcd", 5)).toEqual([
      { id: a.id, summary: "first" },
      { id: b.id, summary: "second" }
    ])
    expect(repo.idsWithPrefix("abcd", 1)).toEqual([{ id: a.id, summary: "first" }])
    expect(repo.idsWithPrefix("abce", 5)).toEqual([{ id: c.id, summary: "third" }])
    expect(repo.idsWithPrefix("abcd0000-0000-4000-8000-000000000002", 5)).toEqual([{ id: b.id, summary: "second" }])
    expect(repo.idsWithPrefix("abc0", 5)).toEqual([])
    const plan = (
      db.prepare("EXPLAIN QUERY PLAN SELECT id, summary FROM tasks WHERE id >= ? AND id < ? ORDER BY id LIMIT ?").all("abcd", "abce", 5) as Array<{
        detail: string
      }>
    )
      .map((r) => r.detail)
      .join("\n")
    expect(plan).toMatch(/SEARCH tasks USING INDEX sqlite_autoindex_tasks_1 \(id>\? AND id<\?\)/)
  })

  it("getStates gives status, depth and completion time of the ids that exist", () => {
    const done = makeTask({ status: "completed", dependencyDepth: 2, completedAt: at(5) })
    const waiting = makeTask({ status: "blocked", dependencyDepth: 1 })
    const { repo } = withTasks(done, waiting)
    const states = repo.getStates([done.id, waiting.id, MISSING])
    expect(states.size).toBe(2)
    expect(states.get(done.id)).toEqual({ status: "completed", depth: 2, completedAt: at(5) })
    expect(states.get(waiting.id)).toEqual({ status: "blocked", depth: 1, completedAt: null })
    expect(states.has(MISSING)).toBe(false)
    expect(repo.getStates([]).size).toBe(0)
  })
})

describe("updateTask", () => {
  it("sets several fields at once, including JSON result data", () => {
    const task = makeTask({ status: "ready" })
    const untouched = makeTask()
    const { repo } = withTasks(task, untouched)
    const patch: TaskPatch = {
      status: "running",
      summary: "new summary",
      startedAt: at(1),
      lastUpdatedAt: at(1),
      leaseToken: "tok",
      leaseExpiresAt: at(6),
      workerId: "w1",
      retryCount: 1,
      calculatedPriority: 8.5,
      dependencyDepth: 4,
      priorityRefreshAt: at(9),
      priorityRank: -42.5,
      priorityStarved: true,
      cancelledBy: untouched.id,
      errorMessage: "warning",
      completedAt: at(2),
      resultData: { files: ["a", "b"], ok: true }
    }
    repo.updateTask(task.id, patch)
    expect(repo.getTask(task.id)).toEqual({ ...task, ...patch })
    expect(repo.getTask(untouched.id)).toEqual(untouched)
  })

  it("stores priorityStarved as 0 or 1 and clears the rank with null", () => {
    const task = makeTask({ status: "ready", priorityRank: 3, priorityStarved: true })
    const { db, repo } = withTasks(task)
    const stored = () => db.prepare("SELECT priority_rank, priority_starved FROM tasks WHERE id = ?").get(task.id)
    expect(stored()).toEqual({ priority_rank: 3, priority_starved: 1 })
    repo.updateTask(task.id, { priorityStarved: false, priorityRank: null })
    expect(stored()).toEqual({ priority_rank: null, priority_starved: 0 })
    expect(repo.getTask(task.id)).toEqual({ ...task, priorityRank: null, priorityStarved: false })
    repo.updateTask(task.id, { priorityStarved: true })
    expect(stored()).toEqual({ priority_rank: null, priority_starved: 1 })
  })

  it("clears fields set to null, stores scalar results, and ignores an empty patch", () => {
    const task = makeTask({ resultData: { x: 1 }, leaseToken: "tok", workerId: "w" })
    const { repo } = withTasks(task)
    repo.updateTask(task.id, { resultData: null, leaseToken: null, workerId: null })
    expect(repo.getTask(task.id)).toEqual({ ...task, resultData: null, leaseToken: null, workerId: null })
    repo.updateTask(task.id, { resultData: "a sentence" })
    expect(repo.getTask(task.id)?.resultData).toBe("a sentence")
    repo.updateTask(task.id, { resultData: 0 })
    expect(repo.getTask(task.id)?.resultData).toBe(0)
    repo.updateTask(task.id, {})
    expect(repo.getTask(task.id)?.resultData).toBe(0)
    // An unknown id changes nothing.
    repo.updateTask(MISSING, { status: "ready" })
    expect(repo.getTask(MISSING)).toBeNull()
  })
})

describe("deleteTasks", () => {
  it("deletes the tasks with their edges and audit rows, and counts them", () => {
    const [a, b, c] = [makeTask(), makeTask(), makeTask()]
    const { db, repo } = withTasks(a!, b!, c!)
    repo.insertDependency(makeDependency(b!.id, a!.id))
    repo.insertDependency(makeDependency(c!.id, b!.id))
    repo.insertDependency(makeDependency(c!.id, a!.id))
    for (const t of [a!, b!, c!]) {
      repo.insertAudit({ taskId: t.id, fromStatus: null, toStatus: "pending", at: at(0), actor: "test", reason: "submitted" })
    }
    expect(repo.deleteTasks([b!.id, MISSING])).toBe(1)
    expect(repo.getTask(b!.id)).toBeNull()
    expect(repo.auditOf(b!.id)).toEqual([])
    expect(repo.getTaskDependencies(c!.id).map((d) => d.prerequisiteTaskId)).toEqual([a!.id])
    expect(repo.dependentsOf(a!.id).map((n) => n.taskId)).toEqual([c!.id])
    expect(db.prepare("SELECT count(*) FROM task_dependencies").pluck().get()).toBe(1)
    expect(repo.auditOf(a!.id)).toHaveLength(1)
    expect(repo.deleteTasks([])).toBe(0)
    expect(repo.validateForeignKeys()).toEqual([])
  })

  it("deletes more ids than one query binds", () => {
    const tasks = Array.from({ length: 700 }, () => makeTask())
    const { repo } = withTasks(...tasks)
    expect(repo.deleteTasks(tasks.slice(0, 650).map((t) => t.id))).toBe(650)
    expect(repo.statusCounts().byStatus.pending).toBe(50)
  })

  it("deletes parents with their children, children listed first, across chunks", () => {
    const parents = Array.from({ length: 300 }, (_, i) => makeTask({ submittedAt: at(i) }))
    const children = parents.map((p, i) => makeTask({ parentTaskId: p.id, submittedAt: at(1000 + i) }))
    const { repo } = withTasks(...parents, ...children)
    expect(repo.deleteTasks([...children, ...parents].map((t) => t.id))).toBe(600)
    expect(repo.rootIds()).toEqual([])
    expect(repo.validateForeignKeys()).toEqual([])
  })

  it("refuses to delete a parent whose child stays", () => {
    const parent = makeTask()
    const child = makeTask({ parentTaskId: parent.id })
    const { repo } = withTasks(parent, child)
    expect(() => repo.deleteTasks([parent.id])).toThrow(/FOREIGN KEY/)
    expect(repo.getTask(parent.id)).toEqual(parent)
    expect(repo.deleteTasks([parent.id, child.id])).toBe(2)
  })
})

describe("listTasks", () => {
  const setup = () => {
    const parent = makeTask({ status: "running", calculatedPriority: 1, submittedAt: at(0), source: "human" })
    const tasks = {
      parent,
      a: makeTask({ status: "ready", calculatedPriority: 9, submittedAt: at(2), source: "agent_planner", parentTaskId: parent.id }),
      b: makeTask({ status: "ready", calculatedPriority: 9, submittedAt: at(1), source: "human", parentTaskId: parent.id }),
      c: makeTask({ status: "completed", calculatedPriority: 7, submittedAt: at(3), source: "agent_planner" }),
      d: makeTask({ status: "blocked", calculatedPriority: 4, submittedAt: at(4), source: "agent_planner", parentTaskId: parent.id }),
      e: makeTask({ status: "failed", calculatedPriority: 2, submittedAt: at(5), source: "agent_requirements" })
    }
    return { ...withTasks(...Object.values(tasks)), ...tasks }
  }
  const ids = (tasks: ReadonlyArray<StoredTask>) => tasks.map((t) => t.id)

  it("without a filter lists every task by priority, then oldest first", () => {
    const { repo, parent, a, b, c, d, e } = setup()
    const all = repo.listTasks({})
    expect(ids(all)).toEqual(ids([b, a, c, d, e, parent]))
    expect(all[0]).toEqual(b)
  })

  it("filters by statuses, excluded statuses, source and parent, and limits", () => {
    const { repo, parent, a, b, c, d, e } = setup()
    expect(ids(repo.listTasks({ statuses: ["ready", "blocked"] }))).toEqual(ids([b, a, d]))
    expect(ids(repo.listTasks({ statuses: [] }))).toHaveLength(6)
    expect(ids(repo.listTasks({ excludeStatuses: ["completed", "failed", "cancelled"] }))).toEqual(ids([b, a, d, parent]))
    expect(ids(repo.listTasks({ excludeStatuses: [] }))).toHaveLength(6)
    expect(ids(repo.listTasks({ source: "agent_planner" }))).toEqual(ids([a, c, d]))
    expect(ids(repo.listTasks({ source: "agent_implementation" }))).toEqual([])
    expect(ids(repo.listTasks({ parentTaskId: parent.id }))).toEqual(ids([b, a, d]))
    expect(ids(repo.listTasks({ limit: 2 }))).toEqual(ids([b, a]))
    expect(ids(repo.listTasks({ limit: 0 }))).toEqual([])
    const combined = repo.listTasks({
      statuses: ["ready", "blocked", "completed"],
      excludeStatuses: ["blocked"],
      source: "agent_planner",
      parentTaskId: parent.id,
      limit: 5
    })
    expect(ids(combined)).toEqual(ids([a]))
    expect(ids(repo.listTasks({ excludeStatuses: ["ready"], source: "agent_requirements", limit: 1 }))).toEqual(ids([e]))
  })
})

describe("statusCounts", () => {
  const zero = { pending: 0, blocked: 0, ready: 0, running: 0, completed: 0, failed: 0, cancelled: 0 }

  it("is all zero and null on an empty database", () => {
    expect(openRepo().repo.statusCounts()).toEqual({ byStatus: zero, prioritySum: zero, maxOpenDepth: null, oldestWaitingAt: null })
  })

  it("keeps counts and priority sums through inserts, status and priority changes and deletes", () => {
    const a = makeTask({ status: "ready", calculatedPriority: 2.5 })
    const b = makeTask({ status: "ready", calculatedPriority: 4 })
    const c = makeTask({ status: "pending", calculatedPriority: 1 })
    const { repo } = withTasks(a, b, c)
    let counts = repo.statusCounts()
    expect(counts.byStatus).toEqual({ ...zero, ready: 2, pending: 1 })
    expect(counts.prioritySum).toEqual({ ...zero, ready: 6.5, pending: 1 })

    repo.updateTask(a.id, { status: "running" })
    counts = repo.statusCounts()
    expect(counts.byStatus).toEqual({ ...zero, ready: 1, running: 1, pending: 1 })
    expect(counts.prioritySum).toEqual({ ...zero, ready: 4, running: 2.5, pending: 1 })

    repo.updateTask(b.id, { calculatedPriority: 10 })
    expect(repo.statusCounts().prioritySum).toEqual({ ...zero, ready: 10, running: 2.5, pending: 1 })

    repo.updateTask(c.id, { status: "blocked", calculatedPriority: 3 })
    expect(repo.statusCounts().prioritySum).toEqual({ ...zero, ready: 10, running: 2.5, blocked: 3 })

    // Writing the same values changes nothing.
    repo.updateTask(c.id, { status: "blocked", calculatedPriority: 3 })
    repo.updateTask(c.id, { summary: "renamed" })
    expect(repo.statusCounts().byStatus).toEqual({ ...zero, ready: 1, running: 1, blocked: 1 })

    repo.deleteTasks([b.id])
    counts = repo.statusCounts()
    expect(counts.byStatus).toEqual({ ...zero, running: 1, blocked: 1 })
    expect(counts.prioritySum).toEqual({ ...zero, running: 2.5, blocked: 3 })

    repo.updateTask(a.id, { status: "completed" })
    repo.updateTask(c.id, { status: "cancelled" })
    expect(repo.statusCounts().byStatus).toEqual({ ...zero, completed: 1, cancelled: 1 })
  })

  it("a rolled-back change leaves the counts as they were", () => {
    const a = makeTask({ status: "ready", calculatedPriority: 2 })
    const { repo } = withTasks(a)
    const before = repo.statusCounts()
    thrown(() =>
      repo.transaction(() => {
        repo.updateTask(a.id, { status: "running", calculatedPriority: 7 })
        repo.insertTask(makeTask())
        throw new Error("abort")
      })
    )
    expect(repo.statusCounts()).toEqual(before)
  })

  it("maxOpenDepth is the deepest open task; terminal tasks do not count", () => {
    const { repo } = withTasks(
      makeTask({ status: "pending", dependencyDepth: 1 }),
      makeTask({ status: "running", dependencyDepth: 3 }),
      makeTask({ status: "completed", dependencyDepth: 8 }),
      makeTask({ status: "failed", dependencyDepth: 9 })
    )
    expect(repo.statusCounts().maxOpenDepth).toBe(3)
    const onlyDone = withTasks(makeTask({ status: "completed", dependencyDepth: 2 }))
    expect(onlyDone.repo.statusCounts().maxOpenDepth).toBeNull()
    const zeroDepth = withTasks(makeTask({ status: "ready" }))
    expect(zeroDepth.repo.statusCounts().maxOpenDepth).toBe(0)
  })

  it("oldestWaitingAt is the oldest submission among READY and BLOCKED tasks", () => {
    const readyOld = makeTask({ status: "ready", submittedAt: at(5) })
    const blockedOlder = makeTask({ status: "blocked", submittedAt: at(3) })
    const { repo } = withTasks(
      makeTask({ status: "pending", submittedAt: at(0) }),
      makeTask({ status: "running", submittedAt: at(1) }),
      makeTask({ status: "completed", submittedAt: at(2) }),
      readyOld,
      blockedOlder,
      makeTask({ status: "ready", submittedAt: at(9) })
    )
    expect(repo.statusCounts().oldestWaitingAt).toBe(at(3))
    repo.updateTask(blockedOlder.id, { status: "ready" })
    expect(repo.statusCounts().oldestWaitingAt).toBe(at(3))
    repo.updateTask(blockedOlder.id, { status: "running" })
    expect(repo.statusCounts().oldestWaitingAt).toBe(at(5))
    repo.updateTask(readyOld.id, { status: "blocked" })
    expect(repo.statusCounts().oldestWaitingAt).toBe(at(5))
    const onlyBlocked = withTasks(makeTask({ status: "blocked", submittedAt: at(7) }))
    expect(onlyBlocked.repo.statusCounts().oldestWaitingAt).toBe(at(7))
    const noneWaiting = withTasks(makeTask({ status: "pending", submittedAt: at(7) }))
    expect(noneWaiting.repo.statusCounts().oldestWaitingAt).toBeNull()
  })
})
