/** The task repository: the claim order, leases and priority refreshes. */
import { describe, expect, it } from "vitest"
import { at, makeDependency, makeTask, MISSING, openRepo, withTasks } from "../helpers.js"

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

  it("claimOutlook reads the expired leases, the due refreshes and the heads of the claim order at once", () => {
    const expired = makeTask({ status: "running", leaseExpiresAt: at(10) })
    const running = makeTask({ status: "running", leaseExpiresAt: at(40) })
    const due = makeTask({ status: "ready", priorityRank: 2, priorityRefreshAt: at(15) })
    const best = makeTask({ status: "ready", agentType: "coder", priorityRank: 9, priorityRefreshAt: at(50) })
    const { repo } = withTasks(expired, running, due, best)
    expect(repo.claimOutlook(at(20), null)).toEqual({
      expired: [expired.id],
      due: repo.dueForRefresh(at(20)),
      heads: repo.readyHeads(null)
    })
    expect(repo.claimOutlook(at(20), null).due.map((d) => d.id)).toEqual([due.id])
    expect(repo.claimOutlook(at(5), "coder")).toEqual({ expired: [], due: [], heads: [expect.objectContaining({ id: best.id })] })
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
    expect(repo.dueForRefresh(at(60), 1).map((f) => f.id)).toEqual([sooner.id])
    expect(repo.dueForRefresh(at(60), 2).map((f) => f.id)).toEqual([sooner.id, later.id])
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

  it("openGraph gives the open tasks in openTaskIds' order and the edges whose both ends are open, as positions", () => {
    const tasks = [
      makeTask({ status: "ready", submittedAt: at(3) }),
      makeTask({ status: "pending", submittedAt: at(1) }),
      makeTask({ status: "blocked", submittedAt: at(2) }),
      makeTask({ status: "completed", submittedAt: at(0) }),
      makeTask({ status: "running", submittedAt: at(4) }),
      makeTask({ status: "blocked", submittedAt: at(5) }),
      makeTask({ status: "failed", submittedAt: at(6) })
    ]
    const { repo } = withTasks(...tasks)
    const id = (i: number) => tasks[i]!.id
    const edge = (d: number, p: number, resolvedAt: string | null = null) => repo.insertDependency(makeDependency(id(d), id(p), { resolvedAt }))
    edge(2, 0)
    edge(5, 2)
    edge(5, 4, at(9)) // resolved, between open tasks: still an edge among them
    edge(5, 3, at(1)) // on a COMPLETED prerequisite: left out
    edge(6, 2) // from a FAILED dependent: left out
    edge(2, 1)
    const graph = repo.openGraph()
    expect(graph.ids).toEqual(repo.openTaskIds())
    expect(graph.ids).toEqual([id(1), id(2), id(0), id(4), id(5)])
    const named = graph.dependents.map((d, k) => `${graph.ids[d]} -> ${graph.ids[graph.prerequisites[k]!]}`).sort()
    expect(named).toEqual([`${id(2)} -> ${id(0)}`, `${id(5)} -> ${id(2)}`, `${id(5)} -> ${id(4)}`, `${id(2)} -> ${id(1)}`].sort())
  })

  it("openGraph of a queue with no open task is empty", () => {
    const { repo } = withTasks(makeTask({ status: "completed" }))
    expect(repo.openGraph()).toEqual({ ids: [], dependents: [], prerequisites: [] })
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
