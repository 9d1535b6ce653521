import { describe, expect, it } from "vitest"
import type { StoredTask } from "../src/TaskRows.js"
import { at, makeDependency, makeTask, openRepo, rawConnection, thrown } from "./helpers.js"

const MISSING = "00000000-0000-4000-8000-0000000000ee"

/** A fresh repository with these tasks inserted (in order). */
const withTasks = (...tasks: ReadonlyArray<StoredTask>) => {
  const opened = openRepo()
  opened.repo.transaction(() => {
    for (const t of tasks) opened.repo.insertTask(t)
  })
  return opened
}

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
    repo.updateTask(task.id, {
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
    })
    expect(repo.getTask(task.id)).toEqual({
      ...task,
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
    })
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

describe("the ready queue", () => {
  it("readyHeads is empty when no task is READY", () => {
    expect(openRepo().repo.readyHeads(null)).toEqual([])
    const { repo } = withTasks(
      makeTask({ status: "pending", priorityRank: 9 }),
      makeTask({ status: "blocked", priorityRank: 9, priorityStarved: true }),
      makeTask({ status: "running", priorityRank: 9 }),
      makeTask({ status: "completed", priorityRank: 9, priorityStarved: true })
    )
    expect(repo.readyHeads(null)).toEqual([])
    expect(repo.readyHeads("general")).toEqual([])
  })

  it("readyHeads gives the head of the one class present", () => {
    const low = makeTask({ status: "ready", priorityRank: -500, submittedAt: at(0) })
    const high = makeTask({ status: "ready", priorityRank: -100, submittedAt: at(5) })
    const waiting = withTasks(low, high)
    expect(waiting.repo.readyHeads(null)).toEqual([{ id: high.id, rank: -100, starved: false, submittedAt: at(5) }])

    const starvedLow = makeTask({ status: "ready", priorityRank: 12, priorityStarved: true, submittedAt: at(1) })
    const starvedHigh = makeTask({ status: "ready", priorityRank: 30.5, priorityStarved: true, submittedAt: at(2) })
    const starved = withTasks(starvedLow, starvedHigh)
    expect(starved.repo.readyHeads(null)).toEqual([{ id: starvedHigh.id, rank: 30.5, starved: true, submittedAt: at(2) }])
  })

  it("readyHeads gives the head of each class, not starved first; ranks of different classes are not compared", () => {
    // Ranks of the two classes are on different scales: the caller compares the heads at an instant.
    const waitingHead = makeTask({ status: "ready", priorityRank: -1_000, submittedAt: at(4) })
    const waitingNext = makeTask({ status: "ready", priorityRank: -2_000, submittedAt: at(0) })
    const starvedHead = makeTask({ status: "ready", priorityRank: 40, priorityStarved: true, submittedAt: at(3) })
    const starvedNext = makeTask({ status: "ready", priorityRank: 35, priorityStarved: true, submittedAt: at(1) })
    const notReady = makeTask({ status: "blocked", priorityRank: 99, priorityStarved: true, submittedAt: at(0) })
    const { repo } = withTasks(starvedNext, waitingNext, notReady, starvedHead, waitingHead)
    expect(repo.readyHeads(null)).toEqual([
      { id: waitingHead.id, rank: -1_000, starved: false, submittedAt: at(4) },
      { id: starvedHead.id, rank: 40, starved: true, submittedAt: at(3) }
    ])
    // A claimed head gives way to the next of its class; the other class is unchanged.
    repo.updateTask(starvedHead.id, { status: "running" })
    expect(repo.readyHeads(null).map((h) => h.id)).toEqual([waitingHead.id, starvedNext.id])
    // A task crossing the horizon moves to the starved class.
    repo.setPriority(waitingNext.id, { calculatedPriority: 50, priorityRank: 50, priorityStarved: true, priorityRefreshAt: null })
    expect(repo.readyHeads(null).map((h) => h.id)).toEqual([waitingHead.id, waitingNext.id])
    repo.updateTask(waitingHead.id, { status: "running" })
    expect(repo.readyHeads(null).map((h) => h.id)).toEqual([waitingNext.id])
  })

  it("readyHeads(agentType) only considers that agent type", () => {
    const general = makeTask({ status: "ready", priorityRank: 10, submittedAt: at(0) })
    const generalStarved = makeTask({ status: "ready", priorityRank: 90, priorityStarved: true, submittedAt: at(0) })
    const coderLow = makeTask({ status: "ready", agentType: "coder", priorityRank: 2, submittedAt: at(0) })
    const coderHigh = makeTask({ status: "ready", agentType: "coder", priorityRank: 6, submittedAt: at(3) })
    const coderHighOlder = makeTask({ status: "ready", agentType: "coder", priorityRank: 6, submittedAt: at(1) })
    const coderPending = makeTask({ status: "pending", agentType: "coder", priorityRank: 99, priorityStarved: true })
    const { repo } = withTasks(general, generalStarved, coderLow, coderHigh, coderHighOlder, coderPending)
    expect(repo.readyHeads("coder")).toEqual([{ id: coderHighOlder.id, rank: 6, starved: false, submittedAt: at(1) }])
    expect(repo.readyHeads("general")).toEqual([
      { id: general.id, rank: 10, starved: false, submittedAt: at(0) },
      { id: generalStarved.id, rank: 90, starved: true, submittedAt: at(0) }
    ])
    expect(repo.readyHeads("reviewer")).toEqual([])
    expect(repo.readyHeads(null).map((h) => h.id)).toEqual([general.id, generalStarved.id])
  })

  it("readyHeads breaks ties in rank by submission time, oldest first, whatever the insertion order", () => {
    const newer = makeTask({ status: "ready", priorityRank: 7, submittedAt: at(9) })
    const oldest = makeTask({ status: "ready", priorityRank: 7, submittedAt: at(1) })
    const older = makeTask({ status: "ready", priorityRank: 7, submittedAt: at(4) })
    const starvedNewer = makeTask({ status: "ready", priorityRank: 7, priorityStarved: true, submittedAt: at(8) })
    const starvedOlder = makeTask({ status: "ready", priorityRank: 7, priorityStarved: true, submittedAt: at(2) })
    const { repo } = withTasks(newer, starvedNewer, older, oldest, starvedOlder)
    expect(repo.readyHeads(null).map((h) => h.id)).toEqual([oldest.id, starvedOlder.id])
    repo.updateTask(oldest.id, { status: "running" })
    repo.updateTask(starvedOlder.id, { status: "running" })
    expect(repo.readyHeads(null).map((h) => h.id)).toEqual([older.id, starvedNewer.id])
  })

  it("readyHeads leaves out a READY task without a rank (it waits for its notBefore, or for its first ranking)", () => {
    // The index seeks past the NULL ranks: a READY task without one is never claimed.
    const unranked = makeTask({ status: "ready", priorityRank: null, submittedAt: at(0), notBefore: at(60), priorityRefreshAt: at(60) })
    const ranked = makeTask({ status: "ready", priorityRank: -1e12, submittedAt: at(5) })
    const { repo } = withTasks(unranked, ranked)
    expect(repo.readyHeads(null)).toEqual([{ id: ranked.id, rank: -1e12, starved: false, submittedAt: at(5) }])
    expect(repo.nextNotBefore()).toBe(at(60))
    repo.updateTask(ranked.id, { status: "running" })
    expect(repo.readyHeads(null)).toEqual([])
    expect(repo.readyHeads("general")).toEqual([])
    repo.setPriority(unranked.id, { calculatedPriority: 5, priorityRank: 3, priorityStarved: false, priorityRefreshAt: null })
    expect(repo.readyHeads(null).map((h) => h.id)).toEqual([unranked.id])
    expect(repo.nextNotBefore()).toBeNull()
  })

  it("setPriority stores the score, the rank, the class and the refresh time, and nothing else", () => {
    const task = makeTask({ status: "ready", calculatedPriority: 5, submittedAt: at(0), lastUpdatedAt: at(0) })
    const other = makeTask({ status: "ready", calculatedPriority: 5 })
    const { db, repo } = withTasks(task, other)
    const columns = () =>
      db.prepare("SELECT calculated_priority, priority_rank, priority_starved, priority_refresh_at FROM tasks WHERE id = ?").get(task.id)
    repo.setPriority(task.id, { calculatedPriority: 61.5, priorityRank: -987_654.321, priorityStarved: false, priorityRefreshAt: at(30) })
    expect(columns()).toEqual({ calculated_priority: 61.5, priority_rank: -987_654.321, priority_starved: 0, priority_refresh_at: at(30) })
    expect(repo.getTask(task.id)).toEqual({
      ...task,
      calculatedPriority: 61.5,
      priorityRank: -987_654.321,
      priorityStarved: false,
      priorityRefreshAt: at(30)
    })
    repo.setPriority(task.id, { calculatedPriority: 70, priorityRank: 70, priorityStarved: true, priorityRefreshAt: null })
    expect(columns()).toEqual({ calculated_priority: 70, priority_rank: 70, priority_starved: 1, priority_refresh_at: null })
    repo.setPriority(task.id, { calculatedPriority: 0, priorityRank: null, priorityStarved: false, priorityRefreshAt: null })
    expect(columns()).toEqual({ calculated_priority: 0, priority_rank: null, priority_starved: 0, priority_refresh_at: null })
    expect(repo.getTask(other.id)).toEqual(other)
    // task_stats follows the score.
    expect(repo.statusCounts().prioritySum.ready).toBe(5)
    // An unknown id changes nothing.
    repo.setPriority(MISSING, { calculatedPriority: 1, priorityRank: 1, priorityStarved: true, priorityRefreshAt: at(1) })
    expect(repo.getTask(MISSING)).toBeNull()
  })

  it("setPriority's refresh time is what dueForRefresh reads", () => {
    const task = makeTask({ status: "ready" })
    const { repo } = withTasks(task)
    expect(repo.dueForRefresh(at(100))).toEqual([])
    repo.setPriority(task.id, { calculatedPriority: 10, priorityRank: -3, priorityStarved: false, priorityRefreshAt: at(20) })
    expect(repo.dueForRefresh(at(19))).toEqual([])
    expect(repo.dueForRefresh(at(20)).map((f) => f.id)).toEqual([task.id])
  })

  it("expiredLeases and nextLeaseExpiry look at RUNNING tasks only", () => {
    const expiresLate = makeTask({ status: "running", leaseExpiresAt: at(30) })
    const expiresSoon = makeTask({ status: "running", leaseExpiresAt: at(10) })
    const expiresNow = makeTask({ status: "running", leaseExpiresAt: at(20) })
    const finished = makeTask({ status: "completed", leaseExpiresAt: at(1) })
    const { repo } = withTasks(expiresLate, expiresSoon, expiresNow, finished)
    expect(repo.nextLeaseExpiry()).toBe(at(10))
    expect(repo.expiredLeases(at(5))).toEqual([])
    expect(repo.expiredLeases(at(20))).toEqual([expiresSoon.id, expiresNow.id])
    expect(repo.expiredLeases(at(99))).toEqual([expiresSoon.id, expiresNow.id, expiresLate.id])
    for (const t of [expiresLate, expiresSoon, expiresNow]) repo.updateTask(t.id, { status: "completed" })
    expect(repo.nextLeaseExpiry()).toBeNull()
    expect(repo.expiredLeases(at(99))).toEqual([])
  })

  it("nextLeaseExpiry is null on an empty database", () => {
    expect(openRepo().repo.nextLeaseExpiry()).toBeNull()
  })

  it("dueForRefresh lists tasks whose refresh time has come, earliest first", () => {
    const later = makeTask({ status: "ready", priorityRefreshAt: at(50) })
    const sooner = makeTask({ status: "blocked", priorityRefreshAt: at(10) })
    const never = makeTask({ status: "ready" })
    const { repo } = withTasks(later, sooner, never)
    expect(repo.dueForRefresh(at(9)).map((f) => f.id)).toEqual([])
    expect(repo.dueForRefresh(at(10)).map((f) => f.id)).toEqual([sooner.id])
    expect(repo.dueForRefresh(at(60)).map((f) => f.id)).toEqual([sooner.id, later.id])
  })

  it("idsWithStatus and openTaskIds list in submission order", () => {
    const tasks = [
      makeTask({ status: "ready", submittedAt: at(3) }),
      makeTask({ status: "pending", submittedAt: at(1) }),
      makeTask({ status: "ready", submittedAt: at(2) }),
      makeTask({ status: "completed", submittedAt: at(0) }),
      makeTask({ status: "running", submittedAt: at(4) }),
      makeTask({ status: "blocked", submittedAt: at(5) }),
      makeTask({ status: "failed", submittedAt: at(6) }),
      makeTask({ status: "cancelled", submittedAt: at(7) })
    ]
    const { repo } = withTasks(...tasks)
    const id = (i: number) => tasks[i]!.id
    expect(repo.idsWithStatus("ready")).toEqual([id(2), id(0)])
    expect(repo.idsWithStatus("completed")).toEqual([id(3)])
    expect(repo.idsWithStatus("failed")).toEqual([id(6)])
    expect(repo.openTaskIds()).toEqual([id(1), id(2), id(0), id(4), id(5)])
  })

  it("ties in submission time keep insertion order", () => {
    const first = makeTask({ submittedAt: at(1) })
    const second = makeTask({ submittedAt: at(1) })
    const third = makeTask({ submittedAt: at(1) })
    const { repo } = withTasks(first, second, third)
    expect(repo.idsWithStatus("pending")).toEqual([first.id, second.id, third.id])
    expect(repo.openTaskIds()).toEqual([first.id, second.id, third.id])
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

describe("audit", () => {
  it("insertAudit and auditOf keep a task's history in order", () => {
    const task = makeTask()
    const other = makeTask()
    const { repo } = withTasks(task, other)
    const entries = [
      { taskId: task.id, fromStatus: null, toStatus: "pending" as const, at: at(0), actor: "alice", reason: "submitted" },
      { taskId: task.id, fromStatus: "pending" as const, toStatus: "ready" as const, at: at(1), actor: null, reason: null },
      { taskId: task.id, fromStatus: "ready" as const, toStatus: "running" as const, at: at(2), actor: "worker-1", reason: "claimed" }
    ]
    for (const e of entries) repo.insertAudit(e)
    repo.insertAudit({ taskId: other.id, fromStatus: null, toStatus: "pending", at: at(0), actor: null, reason: null })
    expect(repo.auditOf(task.id)).toEqual(entries)
    expect(repo.auditOf(other.id)).toHaveLength(1)
    expect(repo.auditOf(MISSING)).toEqual([])
  })

  it("an audit row for a missing task is refused", () => {
    const { repo } = openRepo()
    expect(() => repo.insertAudit({ taskId: MISSING, fromStatus: null, toStatus: "pending", at: at(0), actor: null, reason: null })).toThrow(
      /FOREIGN KEY/
    )
  })
})

describe("pruning", () => {
  it("pruneCandidates lists terminal tasks of these statuses last changed at or before the cutoff", () => {
    const oldDone = makeTask({ status: "completed", submittedAt: at(0), completedAt: at(10), lastUpdatedAt: at(99) })
    const newDone = makeTask({ status: "completed", submittedAt: at(1), completedAt: at(30), lastUpdatedAt: at(30) })
    const oldFailed = makeTask({ status: "failed", submittedAt: at(2), completedAt: null, lastUpdatedAt: at(5) })
    const oldCancelled = makeTask({ status: "cancelled", submittedAt: at(3), completedAt: at(20), lastUpdatedAt: at(20) })
    const oldPending = makeTask({ status: "pending", submittedAt: at(4), lastUpdatedAt: at(0) })
    const { repo } = withTasks(oldDone, newDone, oldFailed, oldCancelled, oldPending)
    expect(repo.pruneCandidates(["completed", "failed", "cancelled"], at(20))).toEqual([oldDone.id, oldFailed.id, oldCancelled.id])
    expect(repo.pruneCandidates(["completed"], at(20))).toEqual([oldDone.id])
    expect(repo.pruneCandidates(["completed"], at(9))).toEqual([])
    expect(repo.pruneCandidates(["failed"], at(5))).toEqual([oldFailed.id])
    expect(repo.pruneCandidates([], at(99))).toEqual([])
  })

  it("referencedElsewhere finds tasks that another table points at", () => {
    const [kept, free, other] = [makeTask(), makeTask(), makeTask()]
    const { db, repo } = withTasks(kept!, free!, other!)
    // The queue's own references do not count.
    repo.insertDependency(makeDependency(free!.id, other!.id))
    repo.insertAudit({ taskId: free!.id, fromStatus: null, toStatus: "pending", at: at(0), actor: null, reason: null })
    expect(repo.referencedElsewhere([kept!.id, free!.id, other!.id])).toEqual(new Set())
    db.exec("CREATE TABLE agents (id TEXT PRIMARY KEY, task_id TEXT REFERENCES tasks(id))")
    db.prepare("INSERT INTO agents VALUES (?, ?)").run("agent-1", kept!.id)
    db.prepare("INSERT INTO agents VALUES (?, ?)").run("agent-2", kept!.id)
    db.prepare("INSERT INTO agents VALUES (?, ?)").run("agent-3", null)
    expect(repo.referencedElsewhere([kept!.id, free!.id, other!.id])).toEqual(new Set([kept!.id]))
    expect(repo.referencedElsewhere([free!.id])).toEqual(new Set())
    expect(repo.referencedElsewhere([])).toEqual(new Set())
    // Deleting a referenced task is refused by the foreign key.
    expect(() => repo.deleteTasks([kept!.id])).toThrow(/FOREIGN KEY/)
  })

  it("referencedElsewhere quotes odd table and column names", () => {
    const task = makeTask()
    const { db, repo } = withTasks(task)
    db.exec(`CREATE TABLE "my ""notes""" ("the task" TEXT REFERENCES tasks(id), body TEXT)`)
    db.prepare(`INSERT INTO "my ""notes""" VALUES (?, ?)`).run(task.id, "remember")
    expect(repo.referencedElsewhere([task.id, MISSING])).toEqual(new Set([task.id]))
  })
})

describe("checks", () => {
  it("integrityCheck is ok on a fresh and on a used database", () => {
    const a = makeTask()
    const { repo } = withTasks(a, makeTask({ parentTaskId: a.id }))
    expect(repo.integrityCheck()).toBe("ok")
  })

  it("dataVersion changes after another connection commits, not after this one's", () => {
    const { repo, filename } = openRepo()
    const v0 = repo.dataVersion()
    repo.insertTask(makeTask())
    expect(repo.dataVersion()).toBe(v0)
    const other = rawConnection(filename)
    other.prepare("UPDATE tasks SET summary = 'changed elsewhere'").run()
    const v1 = repo.dataVersion()
    expect(v1).not.toBe(v0)
    expect(repo.dataVersion()).toBe(v1)
  })
})

describe("transactions", () => {
  it("transaction commits and returns the function's value", () => {
    const task = makeTask()
    const { repo, db } = openRepo()
    const result = repo.transaction(() => {
      expect(db.inTransaction).toBe(true)
      repo.insertTask(task)
      return 42
    })
    expect(result).toBe(42)
    expect(db.inTransaction).toBe(false)
    expect(repo.getTask(task.id)).toEqual(task)
  })

  it("transaction rolls back everything on throw", () => {
    const a = makeTask()
    const b = makeTask()
    const { repo, db } = withTasks(a)
    const error = thrown(() =>
      repo.transaction(() => {
        repo.insertTask(b)
        repo.updateTask(a.id, { status: "ready", calculatedPriority: 9 })
        repo.insertDependency(makeDependency(b.id, a.id))
        repo.insertAudit({ taskId: a.id, fromStatus: "pending", toStatus: "ready", at: at(1), actor: null, reason: null })
        throw new Error("changed my mind")
      })
    )
    expect((error as Error).message).toBe("changed my mind")
    expect(db.inTransaction).toBe(false)
    expect(repo.getTask(b.id)).toBeNull()
    expect(repo.getTask(a.id)).toEqual(a)
    expect(repo.dependentsOf(a.id)).toEqual([])
    expect(repo.auditOf(a.id)).toEqual([])
  })

  it("a nested transaction works, and its rollback keeps the outer work", () => {
    const [a, b, c] = [makeTask(), makeTask(), makeTask()]
    const { repo } = openRepo()
    const value = repo.transaction(() => {
      repo.insertTask(a!)
      const inner = repo.transaction(() => {
        repo.insertTask(b!)
        return "inner"
      })
      const failed = thrown(() =>
        repo.transaction(() => {
          repo.insertTask(c!)
          throw new Error("inner failure")
        })
      )
      expect((failed as Error).message).toBe("inner failure")
      expect(repo.getTask(c!.id)).toBeNull()
      return inner
    })
    expect(value).toBe("inner")
    expect(repo.getTask(a!.id)).not.toBeNull()
    expect(repo.getTask(b!.id)).not.toBeNull()
    expect(repo.getTask(c!.id)).toBeNull()
  })

  it("an outer rollback also undoes a committed nested transaction", () => {
    const [a, b] = [makeTask(), makeTask()]
    const { repo } = openRepo()
    thrown(() =>
      repo.transaction(() => {
        repo.insertTask(a!)
        repo.transaction(() => repo.insertTask(b!))
        throw new Error("outer failure")
      })
    )
    expect(repo.getTasks([a!.id, b!.id])).toEqual([])
  })

  it("transaction takes the write lock at once (BEGIN IMMEDIATE)", () => {
    const { repo, filename } = openRepo({ busyTimeoutMs: 0 })
    const other = rawConnection(filename)
    other.pragma("busy_timeout = 0")
    repo.transaction(() => {
      expect(() => other.exec("BEGIN IMMEDIATE")).toThrow(/locked|busy/i)
    })
    other.exec("BEGIN IMMEDIATE")
    expect(() => repo.transaction(() => 1)).toThrow(/locked|busy/i)
    other.exec("ROLLBACK")
  })

  it("read returns the function's value from one snapshot, inside or outside a transaction", () => {
    const task = makeTask()
    const { repo, db, filename } = withTasks(task)
    const other = rawConnection(filename)
    const seen = repo.read(() => {
      expect(db.inTransaction).toBe(true)
      const first = repo.getTask(task.id)?.summary
      other.prepare("UPDATE tasks SET summary = 'changed meanwhile'").run()
      const second = repo.getTask(task.id)?.summary
      return [first, second]
    })
    expect(seen).toEqual([task.summary, task.summary])
    expect(repo.getTask(task.id)?.summary).toBe("changed meanwhile")
    const nested = repo.transaction(() => repo.read(() => repo.getTask(task.id)?.summary))
    expect(nested).toBe("changed meanwhile")
    expect(db.inTransaction).toBe(false)
  })
})
