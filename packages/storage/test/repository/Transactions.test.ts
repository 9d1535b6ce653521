/** The task repository: transactions, nested savepoints, the write lock and read snapshots. */
import { describe, expect, it } from "vitest"
import { at, makeDependency, makeTask, openRepo, rawConnection, thrown, withTasks } from "../helpers.js"

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
