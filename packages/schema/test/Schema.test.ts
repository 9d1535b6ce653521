import type Database from "better-sqlite3"
import { beforeEach, describe, expect, it } from "vitest"
import { migrate } from "../src/index.js"
import { openDatabase, uuid } from "./helpers.js"

const insertTask = (db: Database.Database, id: string, fields: Record<string, unknown> = {}): void => {
  const row: Record<string, unknown> = {
    id,
    prompt: `task ${id}`,
    submitted_at: "2026-01-01T00:00:00.000Z",
    last_updated_at: "2026-01-01T00:00:00.000Z",
    ...fields
  }
  const columns = Object.keys(row)
  db.prepare(`INSERT INTO tasks (${columns.join(", ")}) VALUES (${columns.map(() => "?").join(", ")})`).run(...columns.map((c) => row[c]))
}

const insertEdge = (db: Database.Database, dependent: string, prerequisite: string, id = `${dependent}>${prerequisite}`): void => {
  db.prepare(
    "INSERT INTO task_dependencies (id, dependent_task_id, prerequisite_task_id, created_at) VALUES (?, ?, ?, '2026-01-01T00:00:00.000Z')"
  ).run(id, dependent, prerequisite)
}

const plan = (db: Database.Database, sql: string, ...params: Array<unknown>): string =>
  (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as Array<{ detail: string }>).map((r) => r.detail).join("\n")

const stats = (db: Database.Database): Record<string, [number, number]> =>
  Object.fromEntries(
    (
      db.prepare("SELECT status, task_count, priority_sum FROM task_stats").all() as Array<{
        status: string
        task_count: number
        priority_sum: number
      }>
    ).map((r) => [r.status, [r.task_count, r.priority_sum]])
  )

describe("schema v2 constraints", () => {
  let db: Database.Database
  beforeEach(() => {
    db = openDatabase()
    db.pragma("foreign_keys = ON")
    migrate(db)
    insertTask(db, uuid(1))
    insertTask(db, uuid(2))
  })

  it("accepts a task with only its required columns, filling the defaults", () => {
    expect(db.prepare("SELECT * FROM tasks WHERE id = ?").get(uuid(1))).toMatchObject({
      summary: "",
      agent_type: "general",
      priority: 5,
      status: "pending",
      input_data: "{}",
      retry_count: 0,
      max_retries: 3,
      max_execution_timeout_seconds: 3600,
      source: "human",
      dependency_type: "sequential",
      calculated_priority: 5,
      dependency_depth: 0
    })
  })

  it("rejects a second edge between the same two tasks (UNIQUE)", () => {
    insertEdge(db, uuid(2), uuid(1), "e1")
    expect(() => insertEdge(db, uuid(2), uuid(1), "e2")).toThrow(/UNIQUE constraint failed/)
  })

  it("rejects a self-dependency (CHECK)", () => {
    expect(() => insertEdge(db, uuid(1), uuid(1))).toThrow(/CHECK constraint failed/)
  })

  it("rejects an edge type other than sequential or parallel (CHECK)", () => {
    expect(() =>
      db
        .prepare(
          "INSERT INTO task_dependencies (id, dependent_task_id, prerequisite_task_id, dependency_type, created_at) VALUES ('e', ?, ?, 'serial', 'x')"
        )
        .run(uuid(2), uuid(1))
    ).toThrow(/CHECK constraint failed/)
  })

  it("rejects an unknown status, and accepts the seven", () => {
    expect(() => insertTask(db, uuid(3), { status: "unknown" })).toThrow(/CHECK constraint failed/)
    const statuses = ["pending", "blocked", "ready", "running", "completed", "failed", "cancelled"]
    statuses.forEach((status, i) => {
      insertTask(db, uuid(10 + i), { status })
    })
    expect(db.prepare("SELECT count(*) FROM tasks WHERE id >= ?").pluck().get(uuid(10))).toBe(7)
  })

  it("keeps priority within 0..10", () => {
    expect(() => insertTask(db, uuid(3), { priority: 11 })).toThrow(/CHECK constraint failed/)
    expect(() => insertTask(db, uuid(4), { priority: -1 })).toThrow(/CHECK constraint failed/)
    insertTask(db, uuid(5), { priority: 0 })
    insertTask(db, uuid(6), { priority: 10 })
  })

  it("rejects unknown sources, negative counts and a task that is its own parent", () => {
    expect(() => insertTask(db, uuid(3), { source: "robot" })).toThrow(/CHECK constraint failed/)
    expect(() => insertTask(db, uuid(4), { retry_count: -1 })).toThrow(/CHECK constraint failed/)
    expect(() => insertTask(db, uuid(5), { max_execution_timeout_seconds: 0 })).toThrow(/CHECK constraint failed/)
    expect(() => insertTask(db, uuid(6), { parent_task_id: uuid(6) })).toThrow(/CHECK constraint failed/)
  })

  it("enforces foreign keys when foreign_keys is ON", () => {
    expect(() => insertEdge(db, uuid(2), uuid(404))).toThrow(/FOREIGN KEY constraint failed/)
    expect(() => insertEdge(db, uuid(404), uuid(1))).toThrow(/FOREIGN KEY constraint failed/)
    expect(() => insertTask(db, uuid(3), { parent_task_id: uuid(404) })).toThrow(/FOREIGN KEY constraint failed/)
    expect(() => db.prepare("INSERT INTO task_audit (task_id, to_status, at) VALUES (?, 'pending', 'x')").run(uuid(404))).toThrow(
      /FOREIGN KEY constraint failed/
    )
  })

  it("deletes a task's edges and audit rows with it (ON DELETE CASCADE)", () => {
    insertEdge(db, uuid(2), uuid(1))
    db.prepare("INSERT INTO task_audit (task_id, to_status, at) VALUES (?, 'pending', 'x')").run(uuid(1))
    db.prepare("DELETE FROM tasks WHERE id = ?").run(uuid(1))
    expect(db.prepare("SELECT count(*) FROM task_dependencies").pluck().get()).toBe(0)
    expect(db.prepare("SELECT count(*) FROM task_audit").pluck().get()).toBe(0)
  })
})

describe("schema v2 query plans", () => {
  it("claims through idx_tasks_ready_priority", () => {
    const db = openDatabase()
    migrate(db)
    const detail = plan(db, "SELECT * FROM tasks WHERE status = 'ready' ORDER BY calculated_priority DESC, submitted_at ASC LIMIT 1")
    expect(detail).toContain("USING INDEX idx_tasks_ready_priority")
    expect(detail).not.toContain("TEMP B-TREE")
  })

  it("finds open dependents through idx_task_dependencies_prerequisite", () => {
    const db = openDatabase()
    migrate(db)
    const detail = plan(db, "SELECT * FROM task_dependencies WHERE prerequisite_task_id = ? AND resolved_at IS NULL", uuid(1))
    expect(detail).toContain("USING INDEX idx_task_dependencies_prerequisite")
  })

  it("keeps using the indexes once the tables hold data and statistics", () => {
    const db = openDatabase()
    migrate(db)
    db.transaction(() => {
      for (let i = 0; i < 2000; i++) {
        insertTask(db, uuid(i), { status: i % 4 === 0 ? "ready" : "completed", calculated_priority: i % 100 })
        if (i > 0) {
          db.prepare(
            "INSERT INTO task_dependencies (id, dependent_task_id, prerequisite_task_id, created_at, resolved_at) VALUES (?, ?, ?, 'x', ?)"
          ).run(`e${i}`, uuid(i), uuid(i - 1), i % 10 === 0 ? null : "x")
        }
      }
    })()
    db.exec("ANALYZE")
    expect(plan(db, "SELECT * FROM tasks WHERE status = 'ready' ORDER BY calculated_priority DESC, submitted_at ASC LIMIT 1")).toContain(
      "idx_tasks_ready_priority"
    )
    expect(plan(db, "SELECT * FROM task_dependencies WHERE prerequisite_task_id = ? AND resolved_at IS NULL", uuid(5))).toContain(
      "idx_task_dependencies_prerequisite"
    )
  })
})

describe("task_stats triggers", () => {
  it("count tasks and sum priorities per status through insert, update and delete", () => {
    const db = openDatabase()
    migrate(db)
    const zero = { pending: [0, 0], blocked: [0, 0], ready: [0, 0], running: [0, 0], completed: [0, 0], failed: [0, 0], cancelled: [0, 0] }
    expect(stats(db)).toEqual(zero)
    insertTask(db, uuid(1), { status: "ready", calculated_priority: 40 })
    insertTask(db, uuid(2), { status: "ready", calculated_priority: 10.5 })
    insertTask(db, uuid(3), { status: "blocked", calculated_priority: 7 })
    expect(stats(db)).toEqual({ ...zero, ready: [2, 50.5], blocked: [1, 7] })
    db.prepare("UPDATE tasks SET status = 'running' WHERE id = ?").run(uuid(1))
    expect(stats(db)).toEqual({ ...zero, ready: [1, 10.5], running: [1, 40], blocked: [1, 7] })
    db.prepare("UPDATE tasks SET calculated_priority = 20 WHERE id = ?").run(uuid(3))
    expect(stats(db)).toEqual({ ...zero, ready: [1, 10.5], running: [1, 40], blocked: [1, 20] })
    db.prepare("UPDATE tasks SET status = 'completed', calculated_priority = 0 WHERE id = ?").run(uuid(1))
    db.prepare("UPDATE tasks SET prompt = 'renamed' WHERE id = ?").run(uuid(2))
    expect(stats(db)).toEqual({ ...zero, ready: [1, 10.5], completed: [1, 0], blocked: [1, 20] })
    db.prepare("DELETE FROM tasks WHERE id IN (?, ?)").run(uuid(2), uuid(3))
    expect(stats(db)).toEqual({ ...zero, completed: [1, 0] })
    // The counts always equal a fresh count.
    const fresh = db.prepare("SELECT status, count(*) AS n FROM tasks GROUP BY status").all() as Array<{ status: string; n: number }>
    for (const { status, n } of fresh) expect(stats(db)[status]?.[0]).toBe(n)
  })

  it("start from the migrated rows of a legacy database", async () => {
    const { createV1 } = await import("./helpers.js")
    const db = openDatabase()
    createV1(db, [
      { id: uuid(1), status: "completed" },
      { id: uuid(2), status: "pending" },
      { id: uuid(3), status: "pending" }
    ])
    migrate(db)
    expect(stats(db)).toMatchObject({ completed: [1, 5], pending: [2, 10] })
  })
})
