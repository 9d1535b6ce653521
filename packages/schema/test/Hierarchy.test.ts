/**
 * Migration 4 (hierarchy) on a version 3 database: the new columns, the subtree counters and
 * gates computed from the data, edges of waiting tasks resolved by the new rule, and the waiting
 * tasks the new rules see otherwise sent back to PENDING (the engine evaluates them on open).
 */
import type Database from "better-sqlite3"
import { describe, expect, it } from "vitest"
import { LATEST_VERSION, Migrations, migrate, readVersion } from "../src/index.js"
import { failingMigration, openDatabase, uuid } from "./helpers.js"

const NOW = "2026-12-03T08:00:00.000Z"
const at = (minutes: number): string => new Date(Date.UTC(2026, 0, 1) + minutes * 60_000).toISOString()

const insertTask = (db: Database.Database, id: string, fields: Record<string, unknown> = {}): void => {
  const row: Record<string, unknown> = { id, prompt: `task ${id}`, submitted_at: at(0), last_updated_at: at(0), ...fields }
  const columns = Object.keys(row)
  db.prepare(`INSERT INTO tasks (${columns.join(", ")}) VALUES (${columns.map(() => "?").join(", ")})`).run(...columns.map((c) => row[c]))
}
const edge = (db: Database.Database, n: number, dependent: string, prerequisite: string, resolvedAt: string | null) =>
  db
    .prepare("INSERT INTO task_dependencies (id, dependent_task_id, prerequisite_task_id, created_at, resolved_at) VALUES (?, ?, ?, ?, ?)")
    .run(`e${n}`, dependent, prerequisite, at(0), resolvedAt)

const get = (db: Database.Database, id: string) => db.prepare("SELECT * FROM tasks WHERE id = ?").get(id) as Record<string, unknown>

/**
 * The README's plan as version 3 left it (old rules): spec done, impl completed while api ran and
 * ui waited; ship READY because impl completed. A second tree: gate open, epic BLOCKED on it with a
 * READY subtask; a completed parent with a FAILED subtask and a BLOCKED dependent.
 */
const v3Database = (): Database.Database => {
  const db = openDatabase()
  expect(migrate(db, { migrations: Migrations.slice(0, 3), backup: false }).applied).toEqual([1, 2, 3])
  const [spec, impl, api, ui, ship, gate, epic, story, done, broken, after] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11].map(uuid)
  insertTask(db, spec!, { status: "completed", completed_at: at(1) })
  insertTask(db, impl!, { status: "completed", completed_at: at(2) })
  insertTask(db, api!, { status: "running", parent_task_id: impl, lease_token: "t", lease_expires_at: at(90) })
  insertTask(db, ui!, { status: "blocked", parent_task_id: impl })
  insertTask(db, ship!, { status: "ready", priority_refresh_at: at(3) })
  edge(db, 1, impl!, spec!, at(1))
  edge(db, 2, ui!, api!, null)
  edge(db, 3, ship!, impl!, at(2))
  insertTask(db, gate!, { status: "ready" })
  insertTask(db, epic!, { status: "blocked" })
  insertTask(db, story!, { status: "ready", parent_task_id: epic })
  edge(db, 4, epic!, gate!, null)
  insertTask(db, done!, { status: "completed", completed_at: at(5) })
  insertTask(db, broken!, { status: "failed", parent_task_id: done, error_message: "x" })
  insertTask(db, after!, { status: "ready" })
  edge(db, 5, after!, done!, at(5))
  return db
}

describe("migration 4 (hierarchy) from a version 3 database", () => {
  it("adds the columns, computes the counters and gates, and re-evaluates what the new rules see otherwise", () => {
    const db = v3Database()
    const result = migrate(db, { migrations: Migrations.slice(0, 4), now: () => new Date(NOW), backup: false })
    expect(result).toMatchObject({ fromVersion: 3, toVersion: 4, applied: [4] })
    expect(LATEST_VERSION).toBeGreaterThanOrEqual(4)
    expect(readVersion(db)).toBe(4)
    const [spec, impl, api, ui, ship, gate, epic, story, done, broken, after] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11].map(uuid)
    // Counters of the descendants by outcome.
    expect(get(db, impl!)).toMatchObject({ subtree_open: 2, subtree_completed: 0, subtree_failed: 0, subtree_cancelled: 0, ancestor_gated: 0 })
    expect(get(db, done!)).toMatchObject({ subtree_open: 0, subtree_failed: 1 })
    expect(get(db, epic!)).toMatchObject({ subtree_open: 1 })
    expect(get(db, spec!)).toMatchObject({ subtree_open: 0, subtree_completed: 0, stall_count: 0, not_before: null, idempotency_key: null })
    // ship waited only for impl's own completion: its edge opens again (impl's subtasks are open),
    // and it goes back to PENDING for the engine to block it.
    expect(db.prepare("SELECT resolved_at, on_failure FROM task_dependencies WHERE id = 'e3'").get()).toEqual({
      resolved_at: null,
      on_failure: "cancel"
    })
    expect(get(db, ship!)).toMatchObject({ status: "pending", priority_refresh_at: null, priority_rank: null })
    // story was READY under an epic that waits: gated, back to PENDING.
    expect(get(db, story!)).toMatchObject({ status: "pending", ancestor_gated: 1 })
    // after waits for done, whose subtask failed: doomed, back to PENDING (the engine cancels it).
    expect(get(db, after!)).toMatchObject({ status: "pending" })
    // Tasks that started keep their edges; consistent waiting ones are left alone.
    expect(db.prepare("SELECT resolved_at FROM task_dependencies WHERE id = 'e1'").pluck().get()).toBe(at(1))
    expect(get(db, ui!)).toMatchObject({ status: "blocked", ancestor_gated: 0 })
    expect(get(db, gate!)).toMatchObject({ status: "ready" })
    expect(get(db, api!)).toMatchObject({ status: "running" })
    expect(get(db, broken!)).toMatchObject({ status: "failed" })
    // Each status change has its audit row; task_stats follows.
    const audit = db.prepare("SELECT task_id, from_status, to_status, actor FROM task_audit WHERE at = ? ORDER BY task_id").all(NOW)
    expect(audit).toEqual(
      [ship!, story!, after!].sort().map((id) => ({
        task_id: id,
        from_status: id === ship || id === story || id === after ? "ready" : null,
        to_status: "pending",
        actor: "migration"
      }))
    )
    expect(db.prepare("SELECT task_count FROM task_stats WHERE status = 'pending'").pluck().get()).toBe(3)
    expect(db.pragma("foreign_key_check")).toEqual([])
  })

  it("is all or nothing: a failure after it rolls its columns and changes back", () => {
    const db = v3Database()
    const before = JSON.stringify(db.prepare("SELECT * FROM tasks ORDER BY id").all())
    expect(() => migrate(db, { migrations: [...Migrations, failingMigration()], backup: false })).toThrow(/boom/)
    expect(readVersion(db)).toBe(3)
    expect(JSON.stringify(db.prepare("SELECT * FROM tasks ORDER BY id").all())).toBe(before)
  })
})
