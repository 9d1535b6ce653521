/** The seed's integration tests and query-plan checks (phase 1), against a real migrated file. */
import { describe, expect, it, vi } from "vitest"
import { makeTaskRepository } from "../src/TaskRepository.js"
import { at, makeDependency, makeTask, openRepo, SEED_INDEXES } from "./helpers.js"

/** A plan line naming exactly this index (not one whose name merely starts with it). */
const usesIndex = (plan: ReadonlyArray<string>, index: string): boolean =>
  plan.some((line) => new RegExp(`INDEX ${index}(?![A-Za-z0-9_])`).test(line))

describe("seed integration tests", () => {
  it("a fresh database has the new columns", () => {
    const { repo } = openRepo()
    const task = makeTask({
      prompt: "Test migration",
      source: "agent_planner",
      calculatedPriority: 7.5,
      dependencyDepth: 1,
      status: "ready",
      priorityRank: -120.25,
      priorityStarved: true
    })
    repo.insertTask(task)
    const back = repo.getTask(task.id)
    expect(back).toEqual(task)
    expect(back?.source).toBe("agent_planner")
    expect(back?.calculatedPriority).toBe(7.5)
    expect(back?.dependencyDepth).toBe(1)
    expect(back?.priorityRank).toBe(-120.25)
    expect(back?.priorityStarved).toBe(true)
    // A task written without them: not ranked yet, not starved.
    const plain = makeTask({ prompt: "Plain" })
    repo.insertTask(plain)
    expect(repo.getTask(plain.id)).toMatchObject({ priorityRank: null, priorityStarved: false })
  })

  it("task_dependencies works", () => {
    const { repo } = openRepo()
    const task1 = makeTask({ prompt: "Task 1" })
    const task2 = makeTask({ prompt: "Task 2" })
    repo.insertTask(task1)
    repo.insertTask(task2)
    const dependency = makeDependency(task2.id, task1.id, { dependencyType: "sequential" })
    repo.insertDependency(dependency)
    const deps = repo.getTaskDependencies(task2.id)
    expect(deps).toHaveLength(1)
    expect(deps[0]?.prerequisiteTaskId).toBe(task1.id)
    expect(deps[0]).toEqual(dependency)
    expect(repo.getTaskDependencies(task1.id)).toEqual([])
  })

  it("getTaskDependencies returns a task's prerequisites oldest first", () => {
    const { repo } = openRepo()
    const [a, b, c, d] = [makeTask(), makeTask(), makeTask(), makeTask()]
    for (const t of [a!, b!, c!, d!]) repo.insertTask(t)
    const later = makeDependency(d!.id, a!.id, { createdAt: at(5), dependencyType: "parallel" })
    const earlier = makeDependency(d!.id, b!.id, { createdAt: at(1), resolvedAt: at(2) })
    const same = makeDependency(d!.id, c!.id, { createdAt: at(5) })
    repo.insertDependency(later)
    repo.insertDependency(earlier)
    repo.insertDependency(same)
    expect(repo.getTaskDependencies(d!.id)).toEqual([earlier, later, same])
  })

  it("foreign keys hold on a fresh database", () => {
    const { repo } = openRepo()
    expect(repo.validateForeignKeys()).toEqual([])
  })

  it("validateForeignKeys reports a row that breaks a foreign key", () => {
    const { db, repo } = openRepo()
    const task = makeTask()
    repo.insertTask(task)
    db.pragma("foreign_keys = OFF")
    repo.insertDependency(makeDependency(task.id, "00000000-0000-4000-8000-0000000000ff"))
    db.pragma("foreign_keys = ON")
    const violations = repo.validateForeignKeys()
    expect(violations).toHaveLength(1)
    expect(violations[0]).toMatchObject({ table: "task_dependencies", parent: "tasks" })
  })

  it("all six seed indexes exist", () => {
    const { repo } = openRepo()
    const { indexes } = repo.getIndexUsage()
    const names = indexes.map((i) => i.name)
    for (const name of SEED_INDEXES) expect(names).toContain(name)
    const ready = indexes.find((i) => i.name === "idx_tasks_ready_priority")
    expect(ready?.table).toBe("tasks")
    expect(ready?.sql).toMatch(/WHERE status = 'ready'/)
    expect(indexes.find((i) => i.name === "idx_task_dependencies_prerequisite")?.table).toBe("task_dependencies")
  })

  it("resolveDependency marks the open edges resolved and returns their dependents", () => {
    const { repo } = openRepo()
    const [pre, other, d1, d2, d3] = [makeTask(), makeTask(), makeTask(), makeTask(), makeTask()]
    for (const t of [pre!, other!, d1!, d2!, d3!]) repo.insertTask(t)
    repo.insertDependency(makeDependency(d1!.id, pre!.id, { createdAt: at(1) }))
    repo.insertDependency(makeDependency(d2!.id, pre!.id, { createdAt: at(2) }))
    repo.insertDependency(makeDependency(d3!.id, pre!.id, { createdAt: at(3), resolvedAt: at(4) }))
    repo.insertDependency(makeDependency(d1!.id, other!.id, { createdAt: at(5) }))

    expect(repo.resolveDependency(pre!.id, at(10)).sort()).toEqual([d1!.id, d2!.id].sort())
    expect(repo.getTaskDependencies(d1!.id).map((d) => [d.prerequisiteTaskId, d.resolvedAt])).toEqual([
      [pre!.id, at(10)],
      [other!.id, null]
    ])
    expect(repo.getTaskDependencies(d2!.id)[0]?.resolvedAt).toBe(at(10))
    // An edge resolved earlier keeps its time.
    expect(repo.getTaskDependencies(d3!.id)[0]?.resolvedAt).toBe(at(4))
    // Nothing left to resolve.
    expect(repo.resolveDependency(pre!.id, at(11))).toEqual([])
    expect(repo.getTaskDependencies(d2!.id)[0]?.resolvedAt).toBe(at(10))
    expect(repo.resolveDependency(d3!.id, at(12))).toEqual([])
  })
})

describe("query plans", () => {
  const readySql = `SELECT * FROM tasks
    WHERE status = 'ready'
    ORDER BY calculated_priority DESC, submitted_at ASC
    LIMIT 1`
  const prerequisiteSql = `SELECT * FROM task_dependencies
    WHERE prerequisite_task_id = ? AND resolved_at IS NULL`

  /** The statements `readyHeads(agentType)` prepares, recorded from a repository built for the purpose. */
  const readyHeadsSql = (db: Parameters<typeof makeTaskRepository>[0], agentType: string | null): Array<string> => {
    // A new repository prepares its queries on first use, so these are readyHeads' own.
    const repo = makeTaskRepository(db)
    const spy = vi.spyOn(db, "prepare")
    try {
      repo.readyHeads(agentType)
      return [...new Set(spy.mock.calls.map((c) => String(c[0])))]
    } finally {
      spy.mockRestore()
    }
  }

  /** A database with some rows of every status, so that the planner has a choice. */
  const populated = () => {
    const opened = openRepo()
    const statuses = ["pending", "blocked", "ready", "running", "completed", "failed", "cancelled"] as const
    opened.repo.transaction(() => {
      let previous: string | null = null
      for (let i = 0; i < 70; i++) {
        const task = makeTask({
          status: statuses[i % statuses.length]!,
          agentType: i % 2 === 0 ? "coder" : "general",
          calculatedPriority: i % 10,
          priorityRank: (i % 10) - 1_000,
          priorityStarved: i % 3 === 0,
          submittedAt: at(i)
        })
        opened.repo.insertTask(task)
        if (previous !== null) opened.repo.insertDependency(makeDependency(task.id, previous))
        previous = task.id
      }
    })
    return opened
  }

  for (const [name, open] of [
    ["empty", () => openRepo()],
    ["populated", populated]
  ] as const) {
    it(`the ready-priority query uses idx_tasks_ready_priority (${name})`, () => {
      const { repo } = open()
      const plan = repo.explainQueryPlan(readySql)
      expect(usesIndex(plan, "idx_tasks_ready_priority")).toBe(true)
      expect(plan.join("\n")).not.toMatch(/TEMP B-TREE/)
    })

    it(`the prerequisite query uses idx_task_dependencies_prerequisite (${name})`, () => {
      const { repo } = open()
      const plan = repo.explainQueryPlan(prerequisiteSql, ["00000000-0000-4000-8000-000000000001"])
      expect(usesIndex(plan, "idx_task_dependencies_prerequisite")).toBe(true)
    })

    it(`readyHeads(null) reads each class's head through idx_tasks_ready_rank (${name})`, () => {
      const { db, repo } = open()
      // One statement: the two heads, each one step down the index.
      const statements = readyHeadsSql(db, null)
      expect(statements).toHaveLength(1)
      const plan = repo.explainQueryPlan(statements[0]!)
      expect(usesIndex(plan, "idx_tasks_ready_rank")).toBe(true)
      expect(plan.join("\n").match(/SEARCH tasks USING INDEX idx_tasks_ready_rank \(priority_starved=\? AND priority_rank>\?\)/g)).toHaveLength(2)
      expect(plan.join("\n")).not.toMatch(/TEMP B-TREE|SCAN tasks$/m)
    })

    it(`readyHeads(agentType) reads each class's head through idx_tasks_ready_agent_rank (${name})`, () => {
      const { db, repo } = open()
      const statements = readyHeadsSql(db, "coder")
      expect(statements).toHaveLength(1)
      const plan = repo.explainQueryPlan(statements[0]!, ["coder", "coder"])
      expect(usesIndex(plan, "idx_tasks_ready_agent_rank")).toBe(true)
      expect(
        plan.join("\n").match(/SEARCH tasks USING INDEX idx_tasks_ready_agent_rank \(agent_type=\? AND priority_starved=\? AND priority_rank>\?\)/g)
      ).toHaveLength(2)
      expect(plan.join("\n")).not.toMatch(/TEMP B-TREE|SCAN tasks$/m)
    })

    it(`readyHeads still uses its indexes after ANALYZE (${name})`, () => {
      const { db, repo } = open()
      db.exec("ANALYZE")
      const plain = readyHeadsSql(db, null)[0]!
      const typed = readyHeadsSql(db, "general")[0]!
      expect(usesIndex(repo.explainQueryPlan(plain), "idx_tasks_ready_rank")).toBe(true)
      expect(usesIndex(repo.explainQueryPlan(typed, ["general", "general"]), "idx_tasks_ready_agent_rank")).toBe(true)
      // And they agree with a plain scan of the table.
      const scan = (agentType: string | null) =>
        [0, 1].flatMap((starved) =>
          db
            .prepare(
              `SELECT id FROM tasks NOT INDEXED WHERE status = 'ready' AND priority_starved = ? AND (? IS NULL OR agent_type = ?)
               ORDER BY priority_rank DESC, submitted_at ASC LIMIT 1`
            )
            .pluck()
            .all(starved, agentType, agentType)
        )
      expect(repo.readyHeads(null).map((h) => h.id)).toEqual(scan(null))
      expect(repo.readyHeads("general").map((h) => h.id)).toEqual(scan("general"))
      expect(repo.readyHeads("coder").map((h) => h.id)).toEqual(scan("coder"))
    })
  }

  it("usesIndex does not mistake a longer index name for the seed's", () => {
    const name = "idx_task_dependencies_prerequisite"
    expect(usesIndex([`SEARCH d USING INDEX ${name}_all (prerequisite_task_id=?)`], name)).toBe(false)
    expect(usesIndex([`SEARCH d USING INDEX ${name} (prerequisite_task_id=?)`], name)).toBe(true)
  })

  it("explainQueryPlan works without parameters", () => {
    const { repo } = openRepo()
    expect(repo.explainQueryPlan("SELECT count(*) FROM tasks").length).toBeGreaterThan(0)
  })
})
