/** Migration 3 (claim-rank): the claim order's columns and indexes, on a database at version 2. */
import type Database from "better-sqlite3"
import { describe, expect, it } from "vitest"
import { LATEST_VERSION, MigrationError, Migrations, migrate, readVersion } from "../src/index.js"
import { dump, failingMigration, openDatabase, uuid } from "./helpers.js"

const NOW = "2026-11-26T06:04:11.123Z"
const fixedNow = () => new Date(NOW)

/** The migrations up to version 2, as a database written before migration 3 existed has them. */
const V2 = Migrations.slice(0, 2)
/** The migrations up to version 3: migration 3 alone on top of a version 2 database. */
const V3 = Migrations.slice(0, 3)

const at = (minutes: number): string => new Date(Date.UTC(2026, 0, 1) + minutes * 60_000).toISOString()

const insertTask = (db: Database.Database, id: string, fields: Record<string, unknown> = {}): void => {
  const row: Record<string, unknown> = { id, prompt: `task ${id}`, submitted_at: at(0), last_updated_at: at(0), ...fields }
  const columns = Object.keys(row)
  db.prepare(`INSERT INTO tasks (${columns.join(", ")}) VALUES (${columns.map(() => "?").join(", ")})`).run(...columns.map((c) => row[c]))
}

type Row = Record<string, unknown>

const rows = (db: Database.Database): Array<Row> => db.prepare("SELECT * FROM tasks ORDER BY id").all() as Array<Row>

const names = (db: Database.Database, type: string): Array<string> =>
  db.prepare("SELECT name FROM sqlite_schema WHERE type = ? ORDER BY name").pluck().all(type) as Array<string>

const plan = (db: Database.Database, sql: string, ...params: Array<unknown>): string =>
  (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as Array<{ detail: string }>).map((r) => r.detail).join("\n")

/** The key columns of an index, in order, with their direction. */
const keyColumns = (db: Database.Database, index: string): Array<[string, "ASC" | "DESC"]> =>
  (db.pragma(`index_xinfo(${index})`) as Array<{ name: string | null; desc: number; key: number }>)
    .filter((c) => c.key === 1)
    .map((c) => [c.name!, c.desc === 1 ? "DESC" : "ASC"])

/** The claim's two queries (the head of one class of the claim order), as the repository runs them. */
const CLAIM_SQL = `SELECT id, priority_rank AS rank, submitted_at AS submittedAt FROM tasks
  WHERE status = 'ready' AND priority_starved = ? ORDER BY priority_rank DESC, submitted_at ASC LIMIT 1`
const CLAIM_AGENT_SQL = `SELECT id, priority_rank AS rank, submitted_at AS submittedAt FROM tasks
  WHERE status = 'ready' AND agent_type = ? AND priority_starved = ? ORDER BY priority_rank DESC, submitted_at ASC LIMIT 1`

/** A database at version 2 with a task of every status; two READY ones, one already due for a refresh later. */
const v2Database = (): Database.Database => {
  const db = openDatabase()
  db.pragma("foreign_keys = ON")
  expect(migrate(db, { migrations: V2, backup: false }).applied).toEqual([1, 2])
  expect(readVersion(db)).toBe(2)
  insertTask(db, uuid(1), { status: "ready", calculated_priority: 40, submitted_at: at(3) })
  insertTask(db, uuid(2), { status: "ready", calculated_priority: 20, submitted_at: at(1), agent_type: "coder", priority_refresh_at: at(500) })
  insertTask(db, uuid(3), { status: "pending", submitted_at: at(2) })
  insertTask(db, uuid(4), { status: "blocked", submitted_at: at(4), priority_refresh_at: at(50) })
  insertTask(db, uuid(5), { status: "running", submitted_at: at(0), lease_token: "t", lease_expires_at: at(60) })
  insertTask(db, uuid(6), { status: "completed", submitted_at: at(0), completed_at: at(9) })
  insertTask(db, uuid(7), { status: "failed", submitted_at: at(0), error_message: "x" })
  insertTask(db, uuid(8), { status: "cancelled", submitted_at: at(0), cancelled_by: uuid(7) })
  db.prepare("INSERT INTO task_dependencies (id, dependent_task_id, prerequisite_task_id, created_at) VALUES ('e', ?, ?, ?)").run(
    uuid(4),
    uuid(5),
    at(4)
  )
  db.prepare("INSERT INTO task_audit (task_id, to_status, at) VALUES (?, 'ready', ?)").run(uuid(1), at(3))
  return db
}

/** Every table but tasks (and the version table), to show migration 3 leaves them alone. */
const otherTables = (db: Database.Database): string =>
  JSON.stringify(["task_dependencies", "task_audit", "task_stats"].map((t) => db.prepare(`SELECT * FROM ${t}`).all()))

describe("migration 3 (claim-rank) from a version 2 database", () => {
  it("applies only migration 3, backed up as v2, and records it", () => {
    const db = v2Database()
    const result = migrate(db, { migrations: V3, now: fixedNow })
    expect(result).toEqual({ fromVersion: 2, toVersion: 3, backup: expect.stringMatching(/\.backup-v2-20261126T060411Z$/), applied: [3] })
    expect(LATEST_VERSION).toBeGreaterThanOrEqual(3)
    expect(readVersion(db)).toBe(3)
    expect(db.prepare("SELECT version, name, applied_at FROM schema_migrations WHERE version = 3").get()).toEqual({
      version: 3,
      name: "claim-rank",
      applied_at: NOW
    })
    expect(db.pragma("integrity_check", { simple: true })).toBe("ok")
    expect(db.pragma("foreign_key_check")).toEqual([])
  })

  it("makes READY tasks due for a refresh at their submission time, and leaves every other value alone", () => {
    const db = v2Database()
    const before = rows(db)
    const others = otherTables(db)
    migrate(db, { migrations: V3, now: fixedNow, backup: false })
    const after = rows(db)
    expect(after).toEqual(
      before.map((r) => ({
        ...r,
        priority_refresh_at: r["status"] === "ready" ? r["submitted_at"] : r["priority_refresh_at"],
        priority_rank: null,
        priority_starved: 0
      }))
    )
    // Spelled out: the READY ones (one had a later refresh time, one none), and the BLOCKED one's kept.
    expect(after.find((r) => r["id"] === uuid(1))?.["priority_refresh_at"]).toBe(at(3))
    expect(after.find((r) => r["id"] === uuid(2))?.["priority_refresh_at"]).toBe(at(1))
    expect(after.find((r) => r["id"] === uuid(4))?.["priority_refresh_at"]).toBe(at(50))
    // No audit rows, no edge changes, and task_stats still agrees (no status or priority changed).
    expect(otherTables(db)).toBe(others)
  })

  it("leaves the READY tasks first in line for the queue's refresh, through idx_tasks_priority_refresh", () => {
    const db = v2Database()
    migrate(db, { migrations: V3, backup: false })
    const dueSql = "SELECT id FROM tasks WHERE priority_refresh_at <= ? ORDER BY priority_refresh_at"
    // Due at any time from their submission on: before any claim can read their (still NULL) rank.
    expect(db.prepare(dueSql).pluck().all(at(3))).toEqual([uuid(2), uuid(1)])
    expect(db.prepare(dueSql).pluck().all(at(2))).toEqual([uuid(2)])
    expect(db.prepare(dueSql).pluck().all(NOW)).toEqual([uuid(2), uuid(1), uuid(4)])
    expect(plan(db, dueSql, NOW)).toMatch(/USING INDEX idx_tasks_priority_refresh/)
  })

  it("replaces idx_tasks_ready_agent_priority by the two rank indexes, partial on READY", () => {
    const db = v2Database()
    expect(names(db, "index")).toContain("idx_tasks_ready_agent_priority")
    migrate(db, { migrations: V3, backup: false })
    const indexes = names(db, "index")
    expect(indexes).not.toContain("idx_tasks_ready_agent_priority")
    expect(indexes).toEqual(expect.arrayContaining(["idx_tasks_ready_rank", "idx_tasks_ready_agent_rank", "idx_tasks_ready_priority"]))
    expect(keyColumns(db, "idx_tasks_ready_rank")).toEqual([
      ["priority_starved", "ASC"],
      ["priority_rank", "DESC"],
      ["submitted_at", "ASC"]
    ])
    expect(keyColumns(db, "idx_tasks_ready_agent_rank")).toEqual([
      ["agent_type", "ASC"],
      ["priority_starved", "ASC"],
      ["priority_rank", "DESC"],
      ["submitted_at", "ASC"]
    ])
    for (const index of ["idx_tasks_ready_rank", "idx_tasks_ready_agent_rank"]) {
      expect(db.prepare("SELECT sql FROM sqlite_schema WHERE name = ?").pluck().get(index)).toMatch(/WHERE status = 'ready'$/)
    }
  })

  it("does not need the old index to be there", () => {
    const db = v2Database()
    db.exec("DROP INDEX idx_tasks_ready_agent_priority")
    expect(migrate(db, { migrations: V3, backup: false }).applied).toEqual([3])
    expect(names(db, "index")).toContain("idx_tasks_ready_agent_rank")
  })

  it("is rolled back, columns, indexes and refresh times, when a later migration fails", () => {
    const db = v2Database()
    const before = dump(db)
    const boom = failingMigration(4)
    const error = (() => {
      try {
        migrate(db, { migrations: [...V3, boom], backup: false })
      } catch (e) {
        return e
      }
      return undefined
    })()
    expect(error).toBeInstanceOf(MigrationError)
    expect(error).toMatchObject({ reason: "failed", fromVersion: 2, toVersion: 4, version: 4 })
    expect(dump(db)).toBe(before)
    expect(readVersion(db)).toBe(2)
  })
})

describe("schema v3 columns", () => {
  const fresh = (): Database.Database => {
    const db = openDatabase()
    migrate(db)
    return db
  }

  it("a new task has no rank and is not starved", () => {
    const db = fresh()
    insertTask(db, uuid(1), { status: "ready" })
    expect(db.prepare("SELECT priority_rank, priority_starved FROM tasks").get()).toEqual({ priority_rank: null, priority_starved: 0 })
    const columns = db.pragma("table_info(tasks)") as Array<{ name: string; type: string; notnull: number; dflt_value: string | null }>
    expect(columns.find((c) => c.name === "priority_rank")).toMatchObject({ type: "REAL", notnull: 0, dflt_value: null })
    expect(columns.find((c) => c.name === "priority_starved")).toMatchObject({ type: "INTEGER", notnull: 1, dflt_value: "0" })
  })

  it("priority_starved is 0 or 1 (CHECK, NOT NULL)", () => {
    const db = fresh()
    insertTask(db, uuid(1), { priority_starved: 0 })
    insertTask(db, uuid(2), { priority_starved: 1 })
    expect(() => insertTask(db, uuid(3), { priority_starved: 2 })).toThrow(/CHECK constraint failed/)
    expect(() => insertTask(db, uuid(4), { priority_starved: -1 })).toThrow(/CHECK constraint failed/)
    expect(() => insertTask(db, uuid(5), { priority_starved: null })).toThrow(/NOT NULL constraint failed/)
    expect(() => db.prepare("UPDATE tasks SET priority_starved = 2 WHERE id = ?").run(uuid(1))).toThrow(/CHECK constraint failed/)
    expect(db.prepare("SELECT priority_starved FROM tasks ORDER BY id").pluck().all()).toEqual([0, 1])
  })

  it("priority_rank keeps any double exactly, negative ones included", () => {
    const db = fresh()
    // A rank is a score less the starvation shared since the epoch: large and negative.
    const ranks = [-56_123_456.789_012_34, 0, 87.5, Number.MIN_VALUE, -1e300]
    ranks.forEach((rank, i) => {
      insertTask(db, uuid(i), { priority_rank: rank })
    })
    expect(db.prepare("SELECT priority_rank FROM tasks ORDER BY id").pluck().all()).toEqual(ranks)
  })
})

describe("schema v3 claim query plans", () => {
  const populated = (analyze: boolean): Database.Database => {
    const db = openDatabase()
    migrate(db)
    const statuses = ["pending", "blocked", "ready", "running", "completed", "failed", "cancelled"]
    db.transaction(() => {
      for (let i = 0; i < 2000; i++) {
        insertTask(db, uuid(i), {
          status: statuses[i % statuses.length],
          agent_type: i % 3 === 0 ? "coder" : "general",
          priority_rank: (i % 97) - 1000,
          priority_starved: i % 5 === 0 ? 1 : 0,
          submitted_at: at(i)
        })
      }
    })()
    if (analyze) db.exec("ANALYZE")
    return db
  }

  const empty = (): Database.Database => {
    const db = openDatabase()
    migrate(db)
    return db
  }
  const cases: ReadonlyArray<[string, () => Database.Database]> = [
    ["empty", empty],
    ["populated", () => populated(false)],
    ["populated and analyzed", () => populated(true)]
  ]

  for (const [name, open] of cases) {
    it(`the head of a class comes from idx_tasks_ready_rank, without sorting (${name})`, () => {
      const db = open()
      for (const starved of [0, 1]) {
        const detail = plan(db, CLAIM_SQL, starved)
        expect(detail).toMatch(/USING INDEX idx_tasks_ready_rank \(priority_starved=\?\)/)
        expect(detail).not.toContain("TEMP B-TREE")
      }
    })

    it(`the head of a class for one agent type comes from idx_tasks_ready_agent_rank, without sorting (${name})`, () => {
      const db = open()
      for (const starved of [0, 1]) {
        const detail = plan(db, CLAIM_AGENT_SQL, "coder", starved)
        expect(detail).toMatch(/USING INDEX idx_tasks_ready_agent_rank \(agent_type=\? AND priority_starved=\?\)/)
        expect(detail).not.toContain("TEMP B-TREE")
      }
    })
  }

  it("the queries find the head of each class: highest rank, then oldest", () => {
    const db = populated(true)
    const head = (starved: number, agentType?: string) =>
      agentType === undefined ? (db.prepare(CLAIM_SQL).get(starved) as Row) : (db.prepare(CLAIM_AGENT_SQL).get(agentType, starved) as Row)
    const expected = (starved: number, agentType?: string) =>
      db
        .prepare(
          `SELECT id, priority_rank AS rank, submitted_at AS submittedAt FROM tasks NOT INDEXED
           WHERE status = 'ready' AND priority_starved = ? AND (? IS NULL OR agent_type = ?)
           ORDER BY priority_rank DESC, submitted_at ASC LIMIT 1`
        )
        .get(starved, agentType ?? null, agentType ?? null)
    for (const starved of [0, 1]) {
      expect(head(starved)).toEqual(expected(starved))
      expect(head(starved, "coder")).toEqual(expected(starved, "coder"))
      expect(head(starved, "general")).toEqual(expected(starved, "general"))
    }
  })
})
