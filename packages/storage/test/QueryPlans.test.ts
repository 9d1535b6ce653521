/**
 * The index diet (schema v5): every index on the queue's tables is there for a query of this
 * repository whose plan is pinned here (EXPLAIN QUERY PLAN of the very SQL the method prepares),
 * for a constraint, or because the seed named it. An index nobody justifies fails the first test;
 * a query that stops using its index fails its own.
 */
import type BetterSqlite3 from "better-sqlite3"
import { describe, expect, it, vi } from "vitest"
import { makeTaskRepository, type TaskStore } from "../src/TaskRepository.js"
import { at, makeDependency, makeTask, openRepo, SEED_INDEXES } from "./helpers.js"

/** The seed's six (phase 1): they stay whatever the queries do. */
const SEED: ReadonlySet<string> = new Set(SEED_INDEXES)

const ID = "00000000-0000-4000-8000-000000000001"

/**
 * Each index the queue reads, with the repository calls whose statements walk it. A foreign key
 * or uniqueness it also serves is said in `serves`.
 */
const JUSTIFIED: ReadonlyArray<{ index: string; serves?: string; calls: ReadonlyArray<(repo: TaskStore) => unknown> }> = [
  { index: "idx_tasks_ready_rank", calls: [(r) => r.readyHeads(null)] },
  { index: "idx_tasks_ready_agent_rank", calls: [(r) => r.readyHeads("coder")] },
  { index: "idx_tasks_lease_expiry", calls: [(r) => r.expiredLeases(at(1)), (r) => r.nextLeaseExpiry(), (r) => r.idsWithStatus("running")] },
  {
    index: "idx_tasks_priority_refresh",
    calls: [
      (r) => r.dueForRefresh(at(1)),
      (r) => r.claimOutlook(at(1), null),
      (r) => r.crossHorizons({ at: at(1), atMs: 1000, rate: 1e-6, horizonMs: 3_600_000, leadMs: 216_000 })
    ]
  },
  { index: "idx_tasks_open_depth", calls: [(r) => r.statusCounts()] },
  { index: "idx_tasks_ready_submitted", calls: [(r) => r.statusCounts(), (r) => r.idsWithStatus("ready")] },
  { index: "idx_tasks_not_before", calls: [(r) => r.nextNotBefore()] },
  { index: "idx_tasks_cancelled_by", calls: [(r) => r.cancelledBy(ID)] },
  { index: "idx_tasks_idempotency_key", serves: "UNIQUE idempotency keys", calls: [(r) => r.taskByIdempotencyKey("k")] },
  { index: "idx_tasks_parent", serves: "the foreign key parent_task_id", calls: [(r) => r.childIds(ID), (r) => r.countChildren(ID)] },
  {
    index: "idx_task_dependencies_prerequisite_all",
    serves: "the foreign key prerequisite_task_id (ON DELETE CASCADE)",
    calls: [(r) => r.dependentsOf(ID)]
  },
  { index: "idx_task_audit_task", serves: "the foreign key task_id (ON DELETE CASCADE)", calls: [(r) => r.auditOf(ID)] },
  // The seed's, where a query of the queue walks them too.
  { index: "idx_tasks_ready_priority", calls: [(r) => r.listTasks({ statuses: ["ready"], limit: 10 })] },
  { index: "idx_tasks_blocked", calls: [(r) => r.statusCounts(), (r) => r.idsWithStatus("blocked")] },
  { index: "idx_task_dependencies_prerequisite", calls: [(r) => r.countOpenDependents(ID)] },
  { index: "idx_task_dependencies_dependent", calls: [(r) => r.hasUnresolved(ID)] }
]

/** The SQL of the statements `call` prepares on a repository built for the purpose. */
const statementsOf = (db: BetterSqlite3.Database, call: (repo: TaskStore) => unknown): Array<string> => {
  const repo = makeTaskRepository(db)
  const spy = vi.spyOn(db, "prepare")
  try {
    call(repo)
    return [...new Set(spy.mock.calls.map((c) => String(c[0])))]
  } finally {
    spy.mockRestore()
  }
}

/** EXPLAIN QUERY PLAN of a statement, its `?` bound to NULL (plans do not depend on values). */
const planOf = (db: BetterSqlite3.Database, sql: string): string => {
  const params = Array.from({ length: (sql.match(/\?/g) ?? []).length }, () => null)
  return (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as Array<{ detail: string }>).map((r) => r.detail).join("\n")
}

const walks = (plan: string, index: string): boolean => new RegExp(`USING (COVERING )?INDEX ${index}(?![A-Za-z0-9_])`).test(plan)

/** A database with rows of every status, edges and audit rows, so that the planner has a choice. */
const populated = () => {
  const opened = openRepo()
  const statuses = ["pending", "blocked", "ready", "running", "completed", "failed", "cancelled"] as const
  opened.repo.transaction(() => {
    let previous: string | null = null
    for (let i = 0; i < 140; i++) {
      const status = statuses[i % statuses.length]!
      const task = makeTask({
        status,
        agentType: i % 2 === 0 ? "coder" : "general",
        calculatedPriority: i % 10,
        priorityRank: status === "ready" ? (i % 10) - 1_000 : null,
        priorityRefreshAt: status === "ready" || status === "blocked" ? at(i) : null,
        leaseExpiresAt: status === "running" ? at(i) : null,
        submittedAt: at(i),
        ...(i % 5 === 0 && { deadline: at(10_000) }),
        ...(previous !== null && i % 3 === 0 && { parentTaskId: previous })
      })
      opened.repo.insertTask(task)
      if (previous !== null) opened.repo.insertDependency(makeDependency(task.id, previous))
      opened.repo.insertAudit({ taskId: task.id, fromStatus: null, toStatus: status, at: at(i), actor: null, reason: "submitted" })
      previous = task.id
    }
  })
  return opened
}

const indexesOf = (db: BetterSqlite3.Database): Array<string> =>
  (
    db
      .prepare(
        `SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name IN ('tasks', 'task_dependencies', 'task_audit', 'task_stats')
         AND name NOT LIKE 'sqlite_autoindex_%' ORDER BY name`
      )
      .all() as Array<{ name: string }>
  ).map((r) => r.name)

describe("index diet (schema v5)", () => {
  it("every index of the queue's tables is the seed's or justified by a query below", () => {
    const { db } = openRepo()
    const justified = new Set(JUSTIFIED.map((j) => j.index))
    const unjustified = indexesOf(db).filter((name) => !SEED.has(name) && !justified.has(name))
    expect(unjustified).toEqual([])
    // And each justified index exists.
    expect(indexesOf(db)).toEqual(expect.arrayContaining([...justified, ...SEED]))
  })

  it("the whole-table status index is gone, the seed's six stay", () => {
    const { db } = openRepo()
    expect(indexesOf(db)).not.toContain("idx_tasks_status_submitted")
    for (const name of SEED) expect(indexesOf(db)).toContain(name)
  })

  for (const [name, open] of [
    ["empty", () => openRepo()],
    ["populated", populated],
    [
      "populated, after ANALYZE",
      () => {
        const o = populated()
        o.db.exec("ANALYZE")
        return o
      }
    ]
  ] as const) {
    describe(name, () => {
      for (const j of JUSTIFIED) {
        it(`${j.index} is walked by ${j.calls.length} ${j.calls.length === 1 ? "query" : "queries"} of the repository`, () => {
          const { db } = open()
          for (const call of j.calls) {
            const plans = statementsOf(db, call).map((sql) => ({ sql, plan: planOf(db, sql) }))
            expect(plans.length).toBeGreaterThan(0)
            expect(
              plans.some((p) => walks(p.plan, j.index)),
              `${call.toString()}:\n${plans.map((p) => `${p.sql}\n -> ${p.plan}`).join("\n")}`
            ).toBe(true)
          }
        })
      }

      it("the claim's reads and the status's one-row reads take one step, never a scan or a sort", () => {
        const { db } = open()
        for (const call of [
          (r: TaskStore) => r.readyHeads(null),
          (r: TaskStore) => r.expiredLeases(at(1)),
          (r: TaskStore) => r.dueForRefresh(at(1)),
          (r: TaskStore) => r.crossHorizons({ at: at(1), atMs: 1000, rate: 1e-6, horizonMs: 3_600_000, leadMs: 216_000 }),
          (r: TaskStore) => r.nextLeaseExpiry(),
          (r: TaskStore) => r.statusCounts()
        ]) {
          for (const sql of statementsOf(db, call)) {
            const plan = planOf(db, sql)
            expect(plan, sql).not.toMatch(/^SCAN tasks$|TEMP B-TREE/m)
          }
        }
      })

      it("open task ids come from the partial indexes; the table is read only while task_stats counts PENDING tasks", () => {
        const { db, repo } = open()
        const plan = statementsOf(db, (r) => r.openTaskIds())
          .map((sql) => planOf(db, sql))
          .join("\n")
        for (const index of ["idx_tasks_ready_submitted", "idx_tasks_blocked", "idx_tasks_lease_expiry"]) expect(walks(plan, index)).toBe(true)
        const pending = repo.statusCounts().byStatus.pending
        expect(/^\s*SCAN tasks$/m.test(plan.replace(/^.*SCAN tasks USING.*$/gm, ""))).toBe(pending > 0)
      })

      it("the execution plan's open graph walks the open tasks' partial indexes and each one's prerequisites by the edges' unique index", () => {
        const { db, repo } = open()
        const plans = statementsOf(db, (r) => r.openGraph()).map((sql) => planOf(db, sql))
        const plan = plans.join("\n")
        for (const index of ["idx_tasks_ready_submitted", "idx_tasks_blocked", "idx_tasks_lease_expiry"]) expect(walks(plan, index)).toBe(true)
        expect(plan).toMatch(/SEARCH d USING COVERING INDEX sqlite_autoindex_task_dependencies_\d \(dependent_task_id=\?\)/)
        // Never the whole edge table; the tasks table only while task_stats counts PENDING tasks.
        expect(plan).not.toMatch(/SCAN (d|task_dependencies)\b/)
        const pending = repo.statusCounts().byStatus.pending
        expect(/^\s*SCAN tasks$/m.test(plan.replace(/^.*SCAN tasks USING.*$/gm, ""))).toBe(pending > 0)
      })

      it("a list of READY tasks comes in list order from the seed's index (no sort)", () => {
        const { db } = open()
        const plan = statementsOf(db, (r) => r.listTasks({ statuses: ["ready"], limit: 10 }))
          .map((sql) => planOf(db, sql))
          .join("\n")
        expect(plan).toMatch(/SEARCH tasks USING (COVERING )?INDEX idx_tasks_ready_priority \(status=\?\)/)
      })
    })
  }
})

describe("the claim's statements", () => {
  it("bind no LIMIT or OFFSET (SQLite plans those by their bound value and prepares the statement again at every run)", () => {
    const { db } = populated()
    for (const call of [
      (r: TaskStore) => r.readyHeads(null),
      (r: TaskStore) => r.readyHeads("coder"),
      (r: TaskStore) => r.expiredLeases(at(1)),
      (r: TaskStore) => r.dueForRefresh(at(1)),
      (r: TaskStore) => r.getTask(ID)
    ]) {
      const sqls = statementsOf(db, call)
      expect(sqls.length).toBeGreaterThan(0)
      for (const sql of sqls) expect(sql, call.toString()).not.toMatch(/\b(LIMIT|OFFSET)\s+\?/i)
    }
  })

  it("read and write the task row by its primary key", () => {
    const { db } = populated()
    for (const call of [(r: TaskStore) => r.getTask(ID), (r: TaskStore) => r.updateTask(ID, { status: "completed", leaseToken: null })]) {
      const sqls = statementsOf(db, call)
      expect(sqls).toHaveLength(1)
      expect(planOf(db, sqls[0]!), sqls[0]).toMatch(/^SEARCH tasks USING INDEX sqlite_autoindex_tasks_1 \(id=\?\)$/)
    }
  })
})

describe("the queries that lost idx_tasks_status_submitted answer as before", () => {
  it("lists, ids by status, open ids, oldest waiting and the earliest lease", () => {
    const { repo } = populated()
    const all = repo.listTasks({})
    const byStatus = (s: string) => all.filter((t) => t.status === s)
    const oldestFirst = (ts: ReadonlyArray<{ submittedAt: string; id: string }>) =>
      [...ts].sort((a, b) => (a.submittedAt < b.submittedAt ? -1 : a.submittedAt > b.submittedAt ? 1 : 0)).map((t) => t.id)
    for (const s of ["pending", "blocked", "ready", "running", "completed", "failed", "cancelled"] as const) {
      expect(repo.listTasks({ statuses: [s] }).map((t) => t.id)).toEqual(byStatus(s).map((t) => t.id))
      expect(repo.idsWithStatus(s)).toEqual(oldestFirst(byStatus(s)))
    }
    expect(repo.listTasks({ statuses: ["ready", "running"] }).map((t) => t.id)).toEqual(
      all.filter((t) => t.status === "ready" || t.status === "running").map((t) => t.id)
    )
    expect(repo.listTasks({ statuses: ["ready", "completed"], limit: 5, offset: 2 }).map((t) => t.id)).toEqual(
      all
        .filter((t) => t.status === "ready" || t.status === "completed")
        .map((t) => t.id)
        .slice(2, 7)
    )
    expect(repo.openTaskIds()).toEqual(oldestFirst(all.filter((t) => ["pending", "blocked", "ready", "running"].includes(t.status))))
    const counts = repo.statusCounts()
    expect(counts.oldestWaitingAt).toBe(
      oldestFirst(all.filter((t) => t.status === "ready" || t.status === "blocked")).map((id) => all.find((t) => t.id === id)!.submittedAt)[0]
    )
    expect(repo.nextLeaseExpiry()).toBe(
      byStatus("running")
        .map((t) => t.leaseExpiresAt!)
        .sort()[0]
    )
  })

  it("the deepest open task: from the partial index of tasks with prerequisites, else 0 while any task is open", () => {
    const { db, repo } = openRepo()
    const inIndex = () =>
      db
        .prepare(
          "SELECT count(*) FROM tasks INDEXED BY idx_tasks_open_depth WHERE status IN ('pending', 'blocked', 'ready', 'running') AND dependency_depth > 0"
        )
        .pluck()
        .get()
    expect(repo.statusCounts().maxOpenDepth).toBeNull()
    const done = makeTask({ status: "completed", dependencyDepth: 4 })
    repo.insertTask(done)
    expect(repo.statusCounts().maxOpenDepth).toBeNull()
    const free = makeTask({ status: "ready", dependencyDepth: 0 })
    repo.insertTask(free)
    expect(repo.statusCounts().maxOpenDepth).toBe(0)
    // Independent tasks are not in the index: claiming or completing them writes none of it.
    expect(inIndex()).toBe(0)
    repo.updateTask(free.id, { status: "running" })
    expect(repo.statusCounts().maxOpenDepth).toBe(0)
    const deep = makeTask({ status: "blocked", dependencyDepth: 3 })
    const mid = makeTask({ status: "running", dependencyDepth: 2 })
    repo.insertTask(deep)
    repo.insertTask(mid)
    expect(inIndex()).toBe(2)
    expect(repo.statusCounts().maxOpenDepth).toBe(3)
    repo.updateTask(deep.id, { status: "cancelled" })
    expect(repo.statusCounts().maxOpenDepth).toBe(2)
    repo.updateTask(mid.id, { status: "completed" })
    repo.updateTask(free.id, { status: "completed" })
    expect(repo.statusCounts().maxOpenDepth).toBeNull()
  })

  it("idsWithStatus('pending') reads task_stats first and finds PENDING tasks when there are some", () => {
    const { repo } = openRepo()
    expect(repo.idsWithStatus("pending")).toEqual([])
    const t = makeTask({ status: "pending", submittedAt: at(3) })
    const u = makeTask({ status: "pending", submittedAt: at(1) })
    repo.insertTask(t)
    repo.insertTask(u)
    repo.insertTask(makeTask({ status: "ready", submittedAt: at(0) }))
    expect(repo.idsWithStatus("pending")).toEqual([u.id, t.id])
  })

  it("a status outside the closed set is refused, not written into the SQL", () => {
    const { repo } = openRepo()
    expect(() => repo.listTasks({ statuses: ["ready", "constructor" as never] })).toThrow(/not a task status/)
    expect(() => repo.listTasks({ statuses: ["x') OR 1=1 --" as never] })).toThrow(/not a task status/)
  })
})
