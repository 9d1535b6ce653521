/**
 * Migration 5 (index diet) on a version 4 database: idx_tasks_status_submitted goes, every row of
 * every table stays as it was, and the seed's six indexes stay.
 */
import type Database from "better-sqlite3"
import { describe, expect, it } from "vitest"
import { LATEST_VERSION, Migrations, migrate, readVersion } from "../src/index.js"
import { createV1, failingMigration, openDatabase, SEED_INDEXES, uuid } from "./helpers.js"

const at = (minutes: number): string => new Date(Date.UTC(2026, 0, 1) + minutes * 60_000).toISOString()

const indexes = (db: Database.Database): Array<string> =>
  db.prepare("SELECT name FROM sqlite_schema WHERE type = 'index' ORDER BY name").pluck().all() as Array<string>

/** Every table's rows in rowid (or key) order, and the schema of everything but indexes. */
const rows = (db: Database.Database): string => {
  const tables = db
    .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name != 'schema_migrations' ORDER BY name")
    .pluck()
    .all() as Array<string>
  const out: Record<string, unknown> = {
    schema: db.prepare("SELECT type, name, sql FROM sqlite_schema WHERE type != 'index' ORDER BY type, name").all()
  }
  for (const t of tables) out[t] = db.prepare(`SELECT * FROM "${t}" ORDER BY 1`).raw().all()
  return JSON.stringify(out)
}

/** A version 4 database with tasks of every status, a hierarchy, edges, audit rows and a plan submission. */
const v4Database = (): Database.Database => {
  const db = openDatabase()
  expect(migrate(db, { migrations: Migrations.slice(0, 4), backup: false }).applied).toEqual([1, 2, 3, 4])
  const statuses = ["pending", "blocked", "ready", "running", "completed", "failed", "cancelled"]
  const insert = db.prepare(
    `INSERT INTO tasks (id, prompt, status, submitted_at, last_updated_at, parent_task_id, lease_expires_at, priority_rank,
       priority_refresh_at, idempotency_key, deadline) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
  )
  db.transaction(() => {
    for (let i = 1; i <= 50; i++) {
      const status = statuses[i % statuses.length]!
      insert.run(
        uuid(i),
        `task ${i}`,
        status,
        at(i),
        at(i + 1),
        i > 10 && i % 4 === 0 ? uuid(i - 10) : null,
        status === "running" ? at(100 + i) : null,
        status === "ready" ? i - 100 : null,
        status === "ready" ? at(200 + i) : null,
        i % 9 === 0 ? `key-${i}` : null,
        i % 6 === 0 ? at(1_000) : null
      )
      if (i % 5 === 0) db.prepare("UPDATE tasks SET dependency_depth = ? WHERE id = ?").run(i % 4, uuid(i))
      db.prepare("INSERT INTO task_audit (task_id, from_status, to_status, at, actor, reason) VALUES (?, NULL, ?, ?, 'test', 'submitted')").run(
        uuid(i),
        status,
        at(i)
      )
      if (i > 1) {
        db.prepare(
          "INSERT INTO task_dependencies (id, dependent_task_id, prerequisite_task_id, created_at, resolved_at, on_failure) VALUES (?, ?, ?, ?, ?, ?)"
        ).run(`e${i}`, uuid(i), uuid(i - 1), at(i), i % 3 === 0 ? at(i + 2) : null, i % 2 === 0 ? "cancel" : "ignore")
      }
    }
    db.prepare("INSERT INTO plan_submissions (idempotency_key, fingerprint, task_keys, created_at) VALUES ('p', 'f', '{}', ?)").run(at(0))
  })()
  return db
}

describe("migration 5 (index diet)", () => {
  it("drops idx_tasks_status_submitted from a version 4 database and keeps every row", () => {
    const db = v4Database()
    expect(indexes(db)).toContain("idx_tasks_status_submitted")
    const before = rows(db)
    const stats = db.prepare("SELECT * FROM task_stats ORDER BY status").all()
    const result = migrate(db, { backup: false })
    expect(result).toMatchObject({ fromVersion: 4, toVersion: 5, applied: [5] })
    expect(LATEST_VERSION).toBe(5)
    expect(readVersion(db)).toBe(5)
    expect(indexes(db)).not.toContain("idx_tasks_status_submitted")
    expect(indexes(db)).toEqual(expect.arrayContaining(SEED_INDEXES))
    expect(indexes(db)).toEqual(expect.arrayContaining(["idx_tasks_ready_submitted", "idx_tasks_lease_expiry", "idx_tasks_open_depth"]))
    // The open-depth index keeps only open tasks with prerequisites.
    expect(db.prepare("SELECT sql FROM sqlite_schema WHERE name = 'idx_tasks_open_depth'").pluck().get()).toMatch(/AND dependency_depth > 0$/)
    const openDeep = db
      .prepare(
        "SELECT id FROM tasks INDEXED BY idx_tasks_open_depth WHERE status IN ('pending', 'blocked', 'ready', 'running') AND dependency_depth > 0 ORDER BY id"
      )
      .pluck()
      .all()
    expect(openDeep).toEqual(
      db
        .prepare("SELECT id FROM tasks NOT INDEXED WHERE status IN ('pending', 'blocked', 'ready', 'running') AND dependency_depth > 0 ORDER BY id")
        .pluck()
        .all()
    )
    expect(rows(db)).toBe(before)
    expect(db.prepare("SELECT * FROM task_stats ORDER BY status").all()).toEqual(stats)
    expect(db.pragma("integrity_check", { simple: true })).toBe("ok")
    expect(db.pragma("foreign_key_check")).toEqual([])
  })

  it("a legacy database goes all the way to version 5, with the same indexes as a fresh one", () => {
    const legacy = openDatabase()
    createV1(legacy, [
      { id: uuid(1), status: "pending" },
      { id: uuid(2), status: "completed", dependencies: JSON.stringify([uuid(1)]) }
    ])
    expect(migrate(legacy, { backup: false }).applied).toEqual([2, 3, 4, 5])
    const fresh = openDatabase()
    migrate(fresh, { backup: false })
    // The legacy file keeps its v1 indexes (idx_tasks_status_priority, idx_tasks_submitted_at are
    // dropped with the old table by migration 2); otherwise the same set.
    expect(indexes(legacy)).toEqual(indexes(fresh))
    expect(legacy.prepare("SELECT count(*) FROM tasks").pluck().get()).toBe(2)
  })

  it("is all or nothing: a failure after it leaves the index and the version as they were", () => {
    const db = v4Database()
    expect(() => migrate(db, { migrations: [...Migrations, failingMigration()], backup: false })).toThrow(/boom/)
    expect(readVersion(db)).toBe(4)
    expect(indexes(db)).toContain("idx_tasks_status_submitted")
  })
})
