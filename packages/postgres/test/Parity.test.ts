/**
 * Every store method against the SQLite repository: the same calls on the same rows give the
 * same models on both stores (insert, select, update, edges, hierarchy, audit, stats, prune).
 */
import { defaultPrioritySettings, formatTimestamp, priorityRank, starvationRate, TaskDependency } from "@abathur/domain"
import { makeTaskRepository, type OpenGraph, openDatabase, type StoredTask, type TaskStore } from "@abathur/storage"
import type pg from "pg"
import { beforeAll, describe, expect, it } from "vitest"
import { migrate, PgTaskRepository, runTransaction, type StoreMethods, StoreMethodNames } from "../src/index.js"
import { at, makeTask as storedTask } from "../../storage/test/helpers.js"
import { freshDatabase } from "./helpers.js"

/** A stored task (storage's test builder) submitted at minute 0 unless told. */
const makeTask = (fields: Partial<StoredTask> = {}, bookkeeping: Partial<StoredTask> = {}): StoredTask =>
  storedTask({ submittedAt: at(0), lastUpdatedAt: at(0), ...fields, ...bookkeeping })

const edge = (dependent: StoredTask, prerequisite: StoredTask, fields: Record<string, unknown> = {}) =>
  TaskDependency.parse({ dependentTaskId: dependent.id, prerequisiteTaskId: prerequisite.id, createdAt: at(1), ...fields })

type Call = (...args: Array<unknown>) => unknown
const canonical = (v: unknown): unknown => (v instanceof Map ? [...v.entries()].sort() : v instanceof Set ? [...v].sort() : v)

let sqlite: TaskStore
let pool: pg.Pool

/** Calls a method on both stores (PostgreSQL in its own transaction) and expects the same result. */
const same = async (method: StoreMethods, ...args: Array<unknown>): Promise<unknown> => {
  const expected = canonical((sqlite[method] as Call)(...args))
  const actual = canonical(await runTransaction(pool, (store) => (store[method] as Call)(...args) as Generator<PromiseLike<unknown>, unknown>))
  expect(actual, method).toEqual(expected)
  return actual
}

/** As `same`, for results whose order neither store defines. */
const sameSet = async (method: StoreMethods, ...args: Array<unknown>): Promise<void> => {
  const key = (x: unknown) => JSON.stringify(x)
  const expected = ((sqlite[method] as Call)(...args) as Array<unknown>).map(key).sort()
  const actual = (
    (await runTransaction(pool, (store) => (store[method] as Call)(...args) as Generator<PromiseLike<unknown>, unknown>)) as Array<unknown>
  )
    .map(key)
    .sort()
  expect(actual, method).toEqual(expected)
}

/** openGraph on both stores: the same open tasks in the same order, the same edges among them (in no defined order). */
const sameOpenGraph = async (): Promise<{ ids: Array<string>; edges: Array<string> }> => {
  const named = (g: OpenGraph) => ({ ids: g.ids, edges: g.dependents.map((d, k) => `${g.ids[d]} -> ${g.ids[g.prerequisites[k]!]}`).sort() })
  const expected = named(sqlite.openGraph())
  expect(named(await runTransaction(pool, (store) => store.openGraph())), "openGraph").toEqual(expected)
  expect(expected.ids).toEqual(sqlite.openTaskIds())
  return expected
}

/** Both stores refuse the call with the same ConstraintViolation kind. */
const sameRefusal = async (method: StoreMethods, kind: string, ...args: Array<unknown>): Promise<void> => {
  expect(() => (sqlite[method] as Call)(...args)).toThrow(expect.objectContaining({ _tag: "ConstraintViolation", kind }))
  await expect(runTransaction(pool, (store) => (store[method] as Call)(...args) as Generator<PromiseLike<unknown>, unknown>)).rejects.toMatchObject({
    _tag: "ConstraintViolation",
    kind
  })
}

// A small forest: root R with children C1 (with grandchild G) and C2; A and B outside it.
const R = makeTask(
  { prompt: "Root of the plan", summary: "root", submittedAt: at(0), lastUpdatedAt: at(0), idempotencyKey: "key-root" },
  { idempotencyFingerprint: "fp" }
)
const C1 = makeTask({ prompt: "First child", parentTaskId: R.id, source: "agent_planner", submittedAt: at(1), lastUpdatedAt: at(1) })
const C2 = makeTask({ prompt: "Second child", parentTaskId: R.id, source: "agent_planner", submittedAt: at(1), lastUpdatedAt: at(1), priority: 8 })
const G = makeTask({
  prompt: "Grandchild 100%_done",
  parentTaskId: C1.id,
  submittedAt: at(2),
  lastUpdatedAt: at(2),
  inputData: { nested: { a: [1, 2.5, "x"], b: null } }
})
const A = makeTask({ prompt: "Alpha", agentType: "coder", submittedAt: at(3), lastUpdatedAt: at(3), deadline: at(600), estimatedDurationSeconds: 90 })
const B = makeTask({ prompt: "Beta", submittedAt: at(4), lastUpdatedAt: at(4), notBefore: at(30), retryBackoffSeconds: 7, status: "blocked" })

describe("the PostgreSQL store and the SQLite repository", () => {
  beforeAll(async () => {
    sqlite = makeTaskRepository(openDatabase({ filename: ":memory:" }).db)
    ;({ pool } = await freshDatabase())
    await migrate(pool)
  })

  it("offer every method the engine calls", () => {
    for (const m of StoreMethodNames) {
      expect(typeof (sqlite[m] as unknown), m).toBe("function")
      expect(Object.getPrototypeOf(PgTaskRepository.prototype[m]).constructor.name, m).toBe("GeneratorFunction")
    }
  })

  it("insert and read tasks the same way", async () => {
    await same("insertTask", R)
    await same("insertTasks", [C1, C2, G, A, B])
    for (const t of [R, C1, C2, G, A, B]) expect(await same("getTask", t.id)).toEqual(t)
    await same("getTask", "no-such-task")
    await sameSet("getTasks", [A.id, B.id, G.id, "nope"])
    await same("getTasks", [])
    await same("idsWithPrefix", A.id.slice(0, 4), 10)
    await same("taskByIdempotencyKey", "key-root")
    await same("taskByIdempotencyKey", "other")
    await same("idempotencyKeysTaken", ["key-root", "other"])
    await sameRefusal("insertTask", "duplicate-task", A)
    await sameRefusal("insertTask", "missing-task", makeTask({ parentTaskId: "00000000-0000-4000-8000-000000000000" }))
  })

  it("update fields, priorities and claims the same way", async () => {
    await same("updateTask", A.id, {
      status: "running",
      leaseToken: "lease-1",
      leaseExpiresAt: at(10),
      workerId: "w1",
      startedAt: at(5),
      resultData: { out: [1, { deep: true }] },
      priorityStarved: true,
      ancestorGated: true,
      stallCount: 2
    })
    await same("getTask", A.id)
    await same("updateTask", A.id, { resultData: null, ancestorGated: false })
    await same("updateTask", A.id, {})
    await same("expiredLeases", at(10))
    await same("expiredLeases", at(9))
    await same("nextLeaseExpiry")
    await same("setPriority", C2.id, { calculatedPriority: 8.5, priorityRank: 12.25, priorityStarved: false, priorityRefreshAt: at(20) })
    await same("setPriority", G.id, { calculatedPriority: 4, priorityRank: 3.5, priorityStarved: true, priorityRefreshAt: at(15) })
    await same("updateTask", C2.id, { status: "ready" })
    await same("updateTask", G.id, { status: "ready" })
    await same("updateTask", B.id, { status: "ready" }) // ready without a rank: waits for notBefore
    await same("readyHeads", null)
    // Equal rank and age: the one inserted first (SQLite's rowid, PostgreSQL's seq).
    const twins = [3, 1, 2].map((n) =>
      makeTask({ prompt: `twin ${n}`, status: "ready", submittedAt: at(0), lastUpdatedAt: at(0) }, { priorityRank: 50 })
    )
    await same("insertTasks", twins)
    expect(((await same("readyHeads", null)) as Array<{ id: string }>)[0]!.id).toBe(twins[0]!.id)
    await same("deleteTasks", [twins[0]!.id])
    expect(((await same("readyHeads", null)) as Array<{ id: string }>)[0]!.id).toBe(twins[1]!.id)
    await same(
      "deleteTasks",
      twins.map((t) => t.id)
    )
    await same("readyHeads", "general")
    await same("readyHeads", "coder")
    await same("nextNotBefore")
    await same("dueForRefresh", at(30))
    await same("dueForRefresh", at(30), 1)
    await same("dueForRefresh", at(0))
    await same("claimOutlook", at(30), null)
    await same("claimOutlook", at(30), "coder")
    await same("claimOutlook", at(0), null)
    await same("idsWithStatus", "ready")
    await same("openTaskIds")
    for (const filter of [
      {},
      { statuses: ["ready", "running"] },
      { excludeStatuses: ["ready"] },
      { source: "agent_planner" },
      { parentTaskId: R.id },
      { text: "100%_" },
      { text: "ALPHA" },
      { text: A.id.slice(0, 6).toUpperCase() },
      { limit: 2 },
      { limit: 2, offset: 2 },
      { offset: 3 }
    ]) {
      await same("listTasks", filter)
    }
  })

  it("keep edges the same way", async () => {
    const bOnA = edge(B, A)
    const c2OnA = edge(C2, A, { onFailure: "ignore", dependencyType: "parallel" })
    const gOnB = edge(G, B, { createdAt: at(2) })
    await same("insertDependency", bOnA)
    await same("insertDependencies", [c2OnA, gOnB])
    await sameRefusal("insertDependency", "duplicate-dependency", { ...bOnA, id: "other-edge" })
    await sameRefusal("insertDependency", "self-dependency", { ...bOnA, id: "e-self", prerequisiteTaskId: B.id })
    await sameRefusal("insertDependency", "missing-task", { ...bOnA, id: "e3", prerequisiteTaskId: "missing" })
    await same("hasDependency", B.id, A.id)
    await same("hasDependency", A.id, B.id)
    await same("prerequisitesOf", B.id)
    await same("dependentsOf", A.id)
    await sameSet("prerequisiteDepths", G.id)
    await same("countPrerequisites", G.id)
    await same("countOpenDependents", A.id)
    await same("hasUnresolved", B.id)
    await same("countUnresolved", B.id)
    await sameSet("edgesAmong", [A.id, B.id, C2.id, G.id])
    expect((await sameOpenGraph()).edges.length).toBeGreaterThan(0)
    await sameSet("dependentsOfMany", [A.id, B.id])
    await sameSet("gateFacts", [A.id, B.id, C2.id, G.id, R.id])
    await same("resolveEdges", A.id, at(6), true)
    await same("prerequisitesOf", C2.id)
    await sameSet("resolveEdges", A.id, at(7), false)
    await same("unresolveEdges", A.id)
    await same("setEdgeResolved", G.id, B.id, at(8))
    await same("prerequisitesOf", G.id)
    await same("deleteDependency", G.id, B.id)
    await same("deleteDependency", G.id, B.id)
    await same("dependentsOf", B.id)
  })

  it("walk the hierarchy the same way", async () => {
    await same("childIds", R.id)
    await same("countChildren", R.id)
    await same("rootIds")
    await sameSet("childrenOfMany", [R.id, C1.id])
    await same("childStates", R.id)
    await sameSet("adjustSubtree", G.id, { open: 1, completed: 0, failed: 0, cancelled: 0 })
    await sameSet("adjustSubtree", C1.id, { open: -1, completed: 2, failed: 1, cancelled: 3 })
    await same("getTask", R.id)
    await same("gateChildren", R.id, true)
    await same("gateChildren", C1.id, false)
    await same("updateTask", G.id, { status: "cancelled", cancelledBy: A.id, lastUpdatedAt: at(9) })
    await same("updateTask", C2.id, { status: "cancelled", cancelledBy: A.id, lastUpdatedAt: at(8) })
    await same("cancelledBy", A.id)
    await same("getPlanSubmission", "plan-1")
    await same("insertPlanSubmission", "plan-1", { fingerprint: "f1", taskKeys: { a: A.id, b: B.id } }, at(3))
    await same("getPlanSubmission", "plan-1")
  })

  it("keep the audit trail, activity and counts the same way", async () => {
    const audit = (taskId: string, from: string | null, to: string, minute: number, reason: string | null = null) => ({
      taskId,
      fromStatus: from,
      toStatus: to,
      at: at(minute),
      actor: "w1",
      reason
    })
    await same("insertAudit", audit(A.id, null, "ready", 0))
    await same("insertAudits", [
      audit(A.id, "ready", "running", 1),
      audit(A.id, "running", "ready", 1, "attempt failed: boom"),
      audit(A.id, "ready", "running", 2),
      audit(A.id, "running", "completed", 2),
      audit(B.id, "running", "failed", 3, "gave up"),
      audit(B.id, "running", "ready", 3, "lease expired")
    ])
    await same("insertAudits", [])
    await same("auditOf", A.id)
    await same("activitySince", at(0))
    await same("activitySince", at(2))
    await same("activitySince", at(0), 2)
    await same("recentFailures", at(0), 10)
    await same("recentFailures", at(0), 1)
    await same("statusCounts")
  })

  it("prune the same way", async () => {
    await same("updateTask", A.id, { status: "completed", completedAt: at(11), lastUpdatedAt: at(11) })
    await same("pruneCandidates", ["completed", "cancelled"], at(10))
    await same("pruneCandidates", ["completed", "cancelled"], at(60))
    await same("pruneCandidates", [], at(60))
    await same("referencedElsewhere", [A.id, G.id])
    // A table outside the queue's own that points at a task keeps it from being pruned.
    await pool.query("CREATE TABLE notes (task_ref TEXT REFERENCES tasks(id))")
    await pool.query("INSERT INTO notes VALUES ($1)", [G.id])
    expect(await runTransaction(pool, (s) => s.referencedElsewhere([A.id, G.id]))).toEqual(new Set([G.id]))
    await pool.query("DROP TABLE notes")
    await same("deleteTasks", [G.id, C2.id])
    await same("deleteTasks", [])
    await same("statusCounts")
    await same("auditOf", G.id)
    await same("openTaskIds")
    await sameOpenGraph()
  })

  it("cross the starvation horizon set-wise to the same ranks, bit for bit", async () => {
    const p = defaultPrioritySettings
    const rate = starvationRate(p)
    const horizonMs = p.starvationHorizonSeconds * 1000
    const leadMs = p.refreshStep / rate
    const now = Date.UTC(2026, 11, 4, 0, 0, 0, 123)
    let seed = 20261204
    const rand = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648
      return seed / 2147483648
    }
    const int = (k: number) => Math.floor(rand() * k)
    const tasks = Array.from({ length: 300 }, (_, i) => {
      const submitted = now - int(2 * horizonMs + 1)
      const facts = {
        priority: int(11),
        source: "human" as const,
        deadline: null,
        estimatedDurationSeconds: null,
        openDependents: int(30),
        waitingSince: submitted
      }
      const r = priorityRank(facts, submitted + int(horizonMs / 2), p)
      return makeTask(
        {
          prompt: `crossing ${i}`,
          priority: facts.priority,
          submittedAt: formatTimestamp(submitted),
          lastUpdatedAt: formatTimestamp(submitted),
          status: "ready"
        },
        {
          calculatedPriority: r.calculatedPriority,
          priorityRank: r.rank,
          priorityStarved: false,
          priorityRefreshAt: formatTimestamp(i % 10 === 0 ? now + 1 : now - int(horizonMs)),
          ...(i % 10 === 1 && { deadline: formatTimestamp(now + 3_600_000) })
        }
      )
    })
    await same("insertTasks", tasks)
    const crossing = { at: formatTimestamp(now), atMs: now, rate, horizonMs, leadMs }
    expect(await same("crossHorizons", crossing)).toBeGreaterThan(100)
    await same("crossHorizons", crossing)
    // Every field, ranks to the last bit (their JSON is the shortest text that reads back as the same number).
    await sameSet(
      "getTasks",
      tasks.map((t) => t.id)
    )
    await same("readyHeads", null)
  })
})
