/** The task repository: the audit trail. */
import { describe, expect, it } from "vitest"
import { at, makeTask, MISSING, openRepo, withTasks } from "../helpers.js"

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
