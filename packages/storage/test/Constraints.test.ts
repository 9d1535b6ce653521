import type { TaskDependency } from "@abathur/domain"
import { describe, expect, it } from "vitest"
import { classifyConstraint, ConstraintViolation } from "../src/StorageError.js"
import type { StoredTask } from "../src/TaskRows.js"
import { dump, makeDependency, makeTask, openRepo, rawConnection, thrown } from "./helpers.js"

const MISSING = "00000000-0000-4000-8000-0000000000ee"

/** Runs a write that must be rejected; returns the violation and checks that nothing changed. */
const rejected = (opened: ReturnType<typeof openRepo>, write: () => void): ConstraintViolation => {
  const before = dump(opened.db)
  const error = thrown(write)
  expect(error).toBeInstanceOf(ConstraintViolation)
  expect(dump(opened.db)).toEqual(before)
  return error as ConstraintViolation
}

/** Two stored tasks. */
const twoTasks = () => {
  const opened = openRepo()
  const a = makeTask({ prompt: "a" })
  const b = makeTask({ prompt: "b" })
  opened.repo.insertTask(a)
  opened.repo.insertTask(b)
  return { ...opened, a, b }
}

describe("constraint violations", () => {
  it("a duplicate dependency pair: duplicate-dependency", () => {
    const opened = twoTasks()
    const { repo, a, b } = opened
    repo.insertDependency(makeDependency(b.id, a.id))
    const error = rejected(opened, () => repo.insertDependency(makeDependency(b.id, a.id)))
    expect(error._tag).toBe("ConstraintViolation")
    expect(error.kind).toBe("duplicate-dependency")
    expect(error.message).toMatch(/UNIQUE/)
    expect(repo.countPrerequisites(b.id)).toBe(1)
    // The reverse edge is a different pair (the cycle check is the queue's business).
    repo.insertDependency(makeDependency(a.id, b.id))
    expect(repo.hasDependency(a.id, b.id)).toBe(true)
  })

  it("a self-dependency: self-dependency", () => {
    const opened = twoTasks()
    const self: TaskDependency = { ...makeDependency(opened.b.id, opened.a.id), prerequisiteTaskId: opened.b.id }
    const error = rejected(opened, () => opened.repo.insertDependency(self))
    expect(error.kind).toBe("self-dependency")
  })

  it("a dependency on a missing task: missing-task", () => {
    const opened = twoTasks()
    expect(rejected(opened, () => opened.repo.insertDependency(makeDependency(opened.a.id, MISSING))).kind).toBe("missing-task")
    expect(rejected(opened, () => opened.repo.insertDependency(makeDependency(MISSING, opened.a.id))).kind).toBe("missing-task")
  })

  it("a task whose parent is missing: missing-task", () => {
    const opened = openRepo()
    expect(rejected(opened, () => opened.repo.insertTask(makeTask({ parentTaskId: MISSING }))).kind).toBe("missing-task")
  })

  it("a duplicate task id: duplicate-task", () => {
    const opened = twoTasks()
    const again = makeTask({ id: opened.a.id, prompt: "another prompt" })
    const error = rejected(opened, () => opened.repo.insertTask(again))
    expect(error.kind).toBe("duplicate-task")
    expect(opened.repo.getTask(opened.a.id)?.prompt).toBe("a")
  })

  it("a CHECK violation such as priority 11: check", () => {
    const opened = openRepo()
    const task: StoredTask = { ...makeTask(), priority: 11 }
    const error = rejected(opened, () => opened.repo.insertTask(task))
    expect(error.kind).toBe("check")
    expect(error.message).toMatch(/CHECK constraint failed/)
    expect(opened.repo.getTask(task.id)).toBeNull()
    expect(opened.repo.statusCounts().byStatus.pending).toBe(0)
  })

  it("other CHECKs and NOT NULL: check", () => {
    const opened = openRepo()
    const cases: Array<StoredTask> = [
      { ...makeTask(), status: "paused" as StoredTask["status"] },
      { ...makeTask(), source: "robot" as StoredTask["source"] },
      { ...makeTask(), retryCount: -1 },
      { ...makeTask(), maxExecutionTimeoutSeconds: 0 },
      { ...makeTask(), prompt: null as unknown as string }
    ]
    for (const task of cases) expect(rejected(opened, () => opened.repo.insertTask(task)).kind).toBe("check")
    const selfParent = makeTask()
    expect(rejected(opened, () => opened.repo.insertTask({ ...selfParent, parentTaskId: selfParent.id })).kind).toBe("check")
    const { a, b } = (() => {
      const a = makeTask()
      const b = makeTask()
      opened.repo.insertTask(a)
      opened.repo.insertTask(b)
      return { a, b }
    })()
    const badType = { ...makeDependency(b.id, a.id), dependencyType: "eventual" as TaskDependency["dependencyType"] }
    expect(rejected(opened, () => opened.repo.insertDependency(badType)).kind).toBe("check")
  })

  it("a rejected write inside a transaction rolls the whole transaction back", () => {
    const opened = openRepo()
    const { repo } = opened
    const before = dump(opened.db)
    const first = makeTask()
    const error = thrown(() =>
      repo.transaction(() => {
        repo.insertTask(first)
        repo.insertTask(first)
      })
    )
    expect(error).toBeInstanceOf(ConstraintViolation)
    expect((error as ConstraintViolation).kind).toBe("duplicate-task")
    expect(dump(opened.db)).toEqual(before)
  })

  it("errors that are not constraint violations pass through unclassified", () => {
    expect(classifyConstraint("text")).toBeNull()
    expect(classifyConstraint(new Error("boom"))).toBeNull()
    expect(classifyConstraint(Object.assign(new Error("busy"), { code: "SQLITE_BUSY" }))).toBeNull()
    expect(classifyConstraint(Object.assign(new Error("odd"), { code: 19 }))).toBeNull()
    const { db, repo } = openRepo()
    db.exec("DROP TABLE task_audit")
    const error = thrown(() => repo.insertAudit({ taskId: MISSING, fromStatus: null, toStatus: "pending", at: "x", actor: null, reason: null }))
    expect(error).not.toBeInstanceOf(ConstraintViolation)
    db.exec("DROP TABLE task_dependencies")
    const depError = thrown(() => repo.insertDependency(makeDependency(MISSING, "00000000-0000-4000-8000-0000000000ef")))
    expect(depError).not.toBeInstanceOf(ConstraintViolation)
    expect((depError as Error).message).toMatch(/no such table/)
  })

  it("a busy database is reported as the SQLite error, not as a constraint violation", () => {
    const opened = openRepo({ busyTimeoutMs: 0 })
    const other = rawConnection(opened.filename)
    other.exec("BEGIN IMMEDIATE")
    const error = thrown(() => opened.repo.insertTask(makeTask()))
    expect(error).not.toBeInstanceOf(ConstraintViolation)
    expect((error as { code?: string }).code).toBe("SQLITE_BUSY")
    other.exec("ROLLBACK")
    opened.repo.insertTask(makeTask())
    expect(opened.repo.statusCounts().byStatus.pending).toBe(1)
  })
})
