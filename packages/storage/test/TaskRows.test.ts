import { describe, expect, it } from "vitest"
import { rowToTask, rowToTaskDependency, type StoredTask, TASK_COLUMNS, taskToRow, taskValues, valuesToTask } from "../src/TaskRows.js"
import { at, makeDependency, makeTask, openRepo } from "./helpers.js"

/** A task with every field set away from its default. */
const fullTask = (parentTaskId: string | null): StoredTask =>
  makeTask({
    prompt: "Write the report\nwith details",
    summary: "Report",
    agentType: "writer",
    priority: 9,
    status: "running",
    source: "agent_implementation",
    dependencyType: "parallel",
    calculatedPriority: 42.25,
    deadline: at(600),
    estimatedDurationSeconds: 90,
    dependencyDepth: 3,
    parentTaskId,
    sessionId: "session-1",
    inputData: { file: "a.txt", options: { deep: [1, 2, { x: null }], flag: true }, n: 1.5, text: "é ✓" },
    resultData: { ok: true, lines: [1, 2, 3], nested: { empty: {} } },
    errorMessage: "first attempt timed out",
    retryCount: 2,
    maxRetries: 5,
    maxExecutionTimeoutSeconds: 120,
    submittedAt: at(0),
    startedAt: at(10),
    completedAt: null,
    lastUpdatedAt: at(11),
    createdBy: "alice",
    leaseToken: "lease-123",
    leaseExpiresAt: at(15),
    workerId: "worker-7",
    priorityRefreshAt: at(20),
    // A rank is a score less the starvation shared since the epoch: large, negative, fractional.
    priorityRank: -56_123_456.789_012_34,
    priorityStarved: true,
    cancelledBy: "00000000-0000-4000-8000-000000000009"
  })

describe("row mapping", () => {
  it("makeTask builds a new task with defaults and null bookkeeping", () => {
    const task = makeTask({ prompt: "  First line\nsecond line" })
    expect(task.summary).toBe("First line")
    expect(task).toMatchObject({
      status: "pending",
      agentType: "general",
      priority: 5,
      source: "human",
      calculatedPriority: 5,
      resultData: null,
      leaseToken: null,
      leaseExpiresAt: null,
      workerId: null,
      priorityRefreshAt: null,
      priorityRank: null,
      priorityStarved: false,
      cancelledBy: null
    })
  })

  it("taskToRow and rowToTask are inverse for every field", () => {
    const task = fullTask("00000000-0000-4000-8000-000000000001")
    const row = taskToRow(task)
    expect(row.input_data).toBe(JSON.stringify(task.inputData))
    expect(row.result_data).toBe(JSON.stringify(task.resultData))
    expect(row.agent_type).toBe("writer")
    expect(row.lease_token).toBe("lease-123")
    expect(row.priority_rank).toBe(-56_123_456.789_012_34)
    expect(row.priority_starved).toBe(1)
    expect(rowToTask(row)).toEqual(task)
    const bare = makeTask()
    expect(taskToRow(bare).result_data).toBeNull()
    expect(taskToRow(bare).input_data).toBe("{}")
    expect(taskToRow(bare).priority_rank).toBeNull()
    expect(taskToRow(bare).priority_starved).toBe(0)
    expect(rowToTask(taskToRow(bare))).toEqual(bare)
    expect(rowToTask({ ...row, priority_starved: 0 }).priorityStarved).toBe(false)
  })

  it("taskValues gives every column of taskToRow, in TASK_COLUMNS order", () => {
    for (const task of [fullTask("00000000-0000-4000-8000-000000000001"), makeTask()]) {
      const row = taskToRow(task)
      expect([...TASK_COLUMNS].sort()).toEqual(Object.keys(row).sort())
      const values: Array<unknown> = ["before"]
      taskValues(task, values)
      expect(values).toEqual(["before", ...TASK_COLUMNS.map((c) => row[c])])
    }
  })

  it("TASK_COLUMNS names every column of tasks once, and a row read by position maps as a row by name", () => {
    const { db } = openRepo()
    const columns = db.prepare("SELECT name FROM pragma_table_info('tasks')").pluck().all() as Array<string>
    expect([...TASK_COLUMNS].sort()).toEqual([...columns].sort())
    expect(new Set(TASK_COLUMNS).size).toBe(TASK_COLUMNS.length)
    const row = taskToRow(fullTask("00000000-0000-4000-8000-000000000001"))
    expect(Object.keys(row).sort()).toEqual([...TASK_COLUMNS].sort())
    expect(valuesToTask(TASK_COLUMNS.map((c) => row[c]))).toEqual(rowToTask(row))
  })

  it("every field survives a trip through the database", () => {
    const { repo } = openRepo()
    const parent = makeTask({ prompt: "parent" })
    repo.insertTask(parent)
    const task = fullTask(parent.id)
    repo.insertTask(task)
    expect(repo.getTask(task.id)).toEqual(task)
  })

  it("the claim-order fields are stored as a REAL and a 0/1 and read back as given", () => {
    const { db, repo } = openRepo()
    const starved = makeTask({ status: "ready", priorityRank: 73.25, priorityStarved: true })
    const waiting = makeTask({ status: "ready", priorityRank: -1e12 + 0.5, priorityStarved: false })
    const unranked = makeTask({ status: "blocked" })
    for (const t of [starved, waiting, unranked]) repo.insertTask(t)
    const stored = (id: string) => db.prepare("SELECT priority_rank, priority_starved, typeof(priority_rank) AS type FROM tasks WHERE id = ?").get(id)
    expect(stored(starved.id)).toEqual({ priority_rank: 73.25, priority_starved: 1, type: "real" })
    expect(stored(waiting.id)).toEqual({ priority_rank: -1e12 + 0.5, priority_starved: 0, type: "real" })
    expect(stored(unranked.id)).toEqual({ priority_rank: null, priority_starved: 0, type: "null" })
    for (const t of [starved, waiting, unranked]) expect(repo.getTask(t.id)).toEqual(t)
  })

  it("nulls survive a trip through the database", () => {
    const { repo } = openRepo()
    const task = makeTask({ sessionId: null, deadline: null, estimatedDurationSeconds: null, createdBy: null })
    repo.insertTask(task)
    const back = repo.getTask(task.id)
    expect(back).toEqual(task)
    const nullable = ["resultData", "errorMessage", "deadline", "startedAt", "completedAt", "parentTaskId", "leaseToken"] as const
    for (const k of [...nullable, "cancelledBy", "priorityRank", "priorityRefreshAt"] as const) expect(back?.[k]).toBeNull()
    expect(back?.priorityStarved).toBe(false)
  })

  it("JSON result data of every shape round-trips", () => {
    const { repo } = openRepo()
    for (const resultData of ["plain string", "", 0, 12.5, true, false, [1, "two", null], { a: { b: [] } }, "{not json}"]) {
      const task = makeTask({ resultData })
      repo.insertTask(task)
      expect(repo.getTask(task.id)?.resultData).toEqual(resultData)
    }
  })

  it("a legacy non-JSON result_data text comes back as that string", () => {
    const { db, repo } = openRepo()
    const task = makeTask()
    repo.insertTask(task)
    db.prepare("UPDATE tasks SET result_data = ? WHERE id = ?").run("Done: 3 files written", task.id)
    expect(repo.getTask(task.id)?.resultData).toBe("Done: 3 files written")
    db.prepare("UPDATE tasks SET result_data = '' WHERE id = ?").run(task.id)
    expect(repo.getTask(task.id)?.resultData).toBeNull()
  })

  it("input data that is not a JSON object comes back as an empty object", () => {
    const { db, repo } = openRepo()
    const task = makeTask({ inputData: { a: 1 } })
    repo.insertTask(task)
    for (const text of ["[1, 2]", "not json", "null", "7"]) {
      db.prepare("UPDATE tasks SET input_data = ? WHERE id = ?").run(text, task.id)
      expect(repo.getTask(task.id)?.inputData).toEqual({})
    }
  })

  it("rowToTaskDependency maps every column", () => {
    expect(
      rowToTaskDependency({
        id: "00000000-0000-4000-8000-000000000003",
        dependent_task_id: "00000000-0000-4000-8000-000000000001",
        prerequisite_task_id: "00000000-0000-4000-8000-000000000002",
        dependency_type: "parallel",
        created_at: at(1),
        resolved_at: at(2),
        on_failure: "ignore"
      })
    ).toEqual({
      id: "00000000-0000-4000-8000-000000000003",
      dependentTaskId: "00000000-0000-4000-8000-000000000001",
      prerequisiteTaskId: "00000000-0000-4000-8000-000000000002",
      dependencyType: "parallel",
      createdAt: at(1),
      resolvedAt: at(2),
      onFailure: "ignore"
    })
  })

  it("a dependency survives a trip through the database, resolved or not", () => {
    const { repo } = openRepo()
    const [a, b, c] = [makeTask(), makeTask(), makeTask()]
    for (const t of [a!, b!, c!]) repo.insertTask(t)
    const open = makeDependency(c!.id, a!.id, { createdAt: at(1) })
    const resolved = makeDependency(c!.id, b!.id, { dependencyType: "parallel", createdAt: at(2), resolvedAt: at(3) })
    repo.insertDependency(open)
    repo.insertDependency(resolved)
    expect(repo.getTaskDependencies(c!.id)).toEqual([open, resolved])
  })
})
