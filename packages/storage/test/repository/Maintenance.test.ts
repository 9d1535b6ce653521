/** The task repository: pruning candidates, references from other tables, and the checks. */
import { describe, expect, it } from "vitest"
import { at, makeDependency, makeTask, MISSING, openRepo, rawConnection, withTasks } from "../helpers.js"

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
