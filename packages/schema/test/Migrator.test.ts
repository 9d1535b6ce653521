import Database from "better-sqlite3"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { LATEST_VERSION, MigrationError, Migrations, migrate, readVersion } from "../src/index.js"
import type { Migration } from "../src/index.js"
import { createV1, dump, openDatabase, SEED_INDEXES, tempDir, uuid } from "./helpers.js"

/** The queue's own indexes of v2, less idx_tasks_ready_agent_priority (dropped by v3) and idx_tasks_status_submitted (v5). */
const QUEUE_INDEXES = [
  "idx_tasks_ready_submitted",
  "idx_tasks_lease_expiry",
  "idx_tasks_priority_refresh",
  "idx_tasks_open_depth",
  "idx_tasks_parent",
  "idx_task_dependencies_prerequisite_all",
  "idx_task_audit_task"
]
/** The claim-order indexes of v3. */
const CLAIM_RANK_INDEXES = ["idx_tasks_ready_rank", "idx_tasks_ready_agent_rank"]

const names = (db: Database.Database, type: string): Array<string> =>
  (db.prepare("SELECT name FROM sqlite_schema WHERE type = ? ORDER BY name").all(type) as Array<{ name: string }>).map((r) => r.name)

const fixedNow = () => new Date("2026-11-26T06:04:11.123Z")

const boom: Migration = {
  version: LATEST_VERSION + 1,
  name: "boom",
  up: (db) => {
    db.exec("CREATE TABLE x(a)")
    db.exec("UPDATE tasks SET prompt = 'changed'")
    throw new Error("boom")
  }
}

describe("migrate: a clean database", () => {
  it("reaches the latest version with every table, index and trigger", () => {
    const db = openDatabase()
    expect(readVersion(db)).toBe(0)
    const result = migrate(db)
    expect(result).toEqual({ fromVersion: 0, toVersion: LATEST_VERSION, backup: null, applied: Migrations.map((m) => m.version) })
    expect(LATEST_VERSION).toBe(5)
    expect(readVersion(db)).toBe(LATEST_VERSION)
    expect(names(db, "table")).toEqual(expect.arrayContaining(["schema_migrations", "tasks", "task_dependencies", "task_audit", "task_stats"]))
    expect(names(db, "table")).not.toContain("tasks_new")
    expect(names(db, "index")).toEqual(expect.arrayContaining([...SEED_INDEXES, ...QUEUE_INDEXES, ...CLAIM_RANK_INDEXES]))
    expect(names(db, "index")).not.toContain("idx_tasks_ready_agent_priority")
    expect(names(db, "index")).not.toContain("idx_tasks_status_submitted")
    expect(names(db, "trigger")).toEqual(["trg_task_stats_delete", "trg_task_stats_insert", "trg_task_stats_update"])
    const versions = db.prepare("SELECT version, name, applied_at FROM schema_migrations ORDER BY version").all()
    expect(versions).toEqual([
      { version: 1, name: "legacy-tasks", applied_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/) },
      { version: 2, name: "enhanced-queue", applied_at: expect.any(String) },
      { version: 3, name: "claim-rank", applied_at: expect.any(String) },
      { version: 4, name: "hierarchy", applied_at: expect.any(String) },
      { version: 5, name: "index-diet", applied_at: expect.any(String) }
    ])
    expect(fs.readdirSync(path.dirname(db.name))).toEqual(["abathur.db"])
    expect(db.pragma("integrity_check", { simple: true })).toBe("ok")
  })

  it("is idempotent: a second run applies nothing and changes nothing", () => {
    const db = openDatabase()
    migrate(db)
    const before = dump(db)
    const again = migrate(db)
    expect(again).toEqual({ fromVersion: LATEST_VERSION, toVersion: LATEST_VERSION, backup: null, applied: [] })
    expect(dump(db)).toBe(before)
    expect(fs.readdirSync(path.dirname(db.name))).toEqual(["abathur.db"])
  })

  it("migrates an in-memory database without a backup", () => {
    const db = new Database(":memory:")
    try {
      expect(migrate(db).backup).toBeNull()
      expect(readVersion(db)).toBe(LATEST_VERSION)
    } finally {
      db.close()
    }
  })

  it("backs up a database that has tables but no tasks table", () => {
    const db = openDatabase()
    db.exec("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO notes (body) VALUES ('keep me')")
    const result = migrate(db, { now: fixedNow })
    expect(result.fromVersion).toBe(0)
    expect(result.backup).toBe(`${path.resolve(db.name)}.backup-v0-20261126T060411Z`)
    expect(db.prepare("SELECT body FROM notes").pluck().all()).toEqual(["keep me"])
  })

  it("reports progress after each migration", () => {
    const db = openDatabase()
    const events: Array<unknown> = []
    migrate(db, { onProgress: (e) => events.push(e) })
    expect(events).toEqual([
      { version: 1, name: "legacy-tasks", done: 1, total: 5 },
      { version: 2, name: "enhanced-queue", done: 2, total: 5 },
      { version: 3, name: "claim-rank", done: 3, total: 5 },
      { version: 4, name: "hierarchy", done: 4, total: 5 },
      { version: 5, name: "index-diet", done: 5, total: 5 }
    ])
  })

  it("applies only the pending part of a longer list", () => {
    const db = openDatabase()
    migrate(db)
    const extra: Migration = { version: 6, name: "notes", up: (d) => d.exec("CREATE TABLE notes (a)") }
    const result = migrate(db, { migrations: [...Migrations, extra], now: fixedNow })
    expect(result.fromVersion).toBe(5)
    expect(result.toVersion).toBe(6)
    expect(result.applied).toEqual([6])
    expect(result.backup).toMatch(/abathur\.db\.backup-v5-20261126T060411Z$/)
    expect(readVersion(db)).toBe(6)
    expect(names(db, "table")).toContain("notes")
  })
})

describe("migrate: foreign keys and transactions", () => {
  it("restores the foreign_keys setting it found", () => {
    const on = openDatabase()
    on.pragma("foreign_keys = ON")
    migrate(on)
    expect(on.pragma("foreign_keys", { simple: true })).toBe(1)
    const off = openDatabase()
    off.pragma("foreign_keys = OFF")
    migrate(off)
    expect(off.pragma("foreign_keys", { simple: true })).toBe(0)
  })

  it("refuses to run inside an open transaction", () => {
    const db = openDatabase()
    db.exec("BEGIN")
    expect(() => migrate(db)).toThrow(/open transaction/)
    db.exec("ROLLBACK")
    expect(readVersion(db)).toBe(0)
  })

  it("rejects a list of migrations out of order", () => {
    const db = openDatabase()
    const list: Array<Migration> = [Migrations[1]!, Migrations[0]!]
    expect(() => migrate(db, { migrations: list })).toThrow(/increasing/)
  })

  it("fails when the migrations leave a foreign key violation, and rolls back", () => {
    const db = openDatabase()
    migrate(db)
    const before = dump(db)
    const dangling: Migration = {
      version: LATEST_VERSION + 1,
      name: "dangling",
      up: (d) => d.exec("INSERT INTO task_audit (task_id, to_status, at) VALUES ('nope', 'pending', 'x')")
    }
    const error = (() => {
      try {
        migrate(db, { migrations: [...Migrations, dangling], backup: false })
      } catch (e) {
        return e
      }
      return undefined
    })()
    expect(error).toBeInstanceOf(MigrationError)
    expect((error as MigrationError).reason).toBe("failed")
    expect((error as MigrationError).version).toBe(LATEST_VERSION + 1)
    expect((error as MigrationError).message).toMatch(/foreign key check found 1 violation/)
    expect(dump(db)).toBe(before)
  })

  it("tolerates foreign key violations that were there before, in tables it does not own", () => {
    const db = openDatabase()
    createV1(db, [{ id: uuid(1) }])
    db.exec("CREATE TABLE agents (id TEXT PRIMARY KEY, task_id TEXT REFERENCES tasks(id))")
    db.pragma("foreign_keys = OFF")
    db.prepare("INSERT INTO agents VALUES ('a1', ?), ('a2', ?)").run(uuid(1), uuid(99))
    db.pragma("foreign_keys = ON")
    const result = migrate(db)
    expect(result.applied).toEqual([2, 3, 4, 5])
    expect(db.pragma("foreign_key_check")).toEqual([{ table: "agents", rowid: 2, parent: "tasks", fkid: 0 }])
  })
})

describe("migrate: failure halfway", () => {
  it("rolls a v1 database back to exactly what it was, and keeps the backup", () => {
    const dir = tempDir()
    const file = path.join(dir, "abathur.db")
    const db = openDatabase(file)
    createV1(db, [
      { id: uuid(1), status: "completed", completed_at: "2025-10-10T12:30:00.123456" },
      { id: uuid(2), dependencies: JSON.stringify([uuid(1)]) }
    ])
    db.pragma("foreign_keys = ON")
    const before = dump(db)
    let error: unknown
    try {
      migrate(db, { migrations: [...Migrations, boom], now: fixedNow })
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(MigrationError)
    const e = error as MigrationError
    expect(e.reason).toBe("failed")
    // Migrations 2 to 4 ran before boom; all of them are rolled back.
    expect(e.version).toBe(LATEST_VERSION + 1)
    expect(e.fromVersion).toBe(1)
    expect(e.toVersion).toBe(LATEST_VERSION + 1)
    expect(e.message).toMatch(new RegExp(`migration ${LATEST_VERSION + 1} \\(boom\\) failed and was rolled back: boom`))
    expect((e.cause as Error).message).toBe("boom")
    expect(dump(db)).toBe(before)
    expect(readVersion(db)).toBe(1)
    expect(db.inTransaction).toBe(false)
    expect(db.pragma("foreign_keys", { simple: true })).toBe(1)
    const backup = `${file}.backup-v1-20261126T060411Z`
    expect(fs.existsSync(backup)).toBe(true)
    const copy = new Database(backup, { readonly: true })
    try {
      expect(dump(copy)).toBe(before)
    } finally {
      copy.close()
    }
    // The same run again (same clock) finds the backup name taken and adds a suffix.
    expect(() => migrate(db, { migrations: [...Migrations, boom], now: fixedNow })).toThrow(MigrationError)
    expect(fs.existsSync(`${backup}-2`)).toBe(true)
    // And without the broken migration it succeeds.
    const result = migrate(db, { now: fixedNow })
    expect(result).toEqual({ fromVersion: 1, toVersion: 5, backup: `${backup}-3`, applied: [2, 3, 4, 5] })
  })

  it("rolls back a failing first migration on a brand-new database", () => {
    const db = openDatabase()
    const failing: Migration = {
      version: 1,
      name: "half",
      up: (d) => {
        d.exec("CREATE TABLE tasks (id TEXT PRIMARY KEY, prompt TEXT, status TEXT)")
        throw "not an Error"
      }
    }
    expect(() => migrate(db, { migrations: [failing] })).toThrow(/migration 1 \(half\) failed and was rolled back/)
    expect(names(db, "table")).toEqual([])
  })

  it("says so when the backup cannot be written, and changes nothing", () => {
    const db = openDatabase()
    createV1(db, [{ id: uuid(1) }])
    const before = dump(db)
    // An invalid clock makes the backup's name impossible to write.
    expect(() => migrate(db, { now: () => new Date(Number.NaN) })).toThrow(/could not back the database up/)
    expect(dump(db)).toBe(before)
    expect(readVersion(db)).toBe(1)
  })
})

describe("migrate: refusals", () => {
  it("refuses a database from the future and leaves it untouched", () => {
    const db = openDatabase()
    migrate(db)
    db.prepare("INSERT INTO schema_migrations VALUES (99, 'future', '2030-01-01T00:00:00.000Z')").run()
    const before = dump(db)
    let error: unknown
    try {
      migrate(db)
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(MigrationError)
    expect(error).toMatchObject({ reason: "too-new", fromVersion: 99, toVersion: LATEST_VERSION, name: "MigrationError" })
    expect((error as MigrationError).message).toMatch(/newer/)
    expect(dump(db)).toBe(before)
    expect(fs.readdirSync(path.dirname(db.name))).toEqual(["abathur.db"])
  })

  it("refuses a never-versioned tasks table that is not Abathur's", () => {
    const db = openDatabase()
    db.exec("CREATE TABLE tasks (id INTEGER PRIMARY KEY, title TEXT)")
    const before = dump(db)
    expect(readVersion(db)).toBe(1)
    let error: unknown
    try {
      migrate(db)
    } catch (e) {
      error = e
    }
    expect(error).toMatchObject({ reason: "failed", fromVersion: 1 })
    expect((error as Error).message).toMatch(/without the column\(s\) prompt, status/)
    expect(dump(db)).toBe(before)
    expect(fs.readdirSync(path.dirname(db.name))).toEqual(["abathur.db"])
  })

  it("fails migration 2 when a table named tasks_new is in the way, and changes nothing", () => {
    const db = openDatabase()
    createV1(db, [{ id: uuid(1) }])
    db.exec("CREATE TABLE tasks_new (a); INSERT INTO tasks_new VALUES (1)")
    const before = dump(db)
    expect(() => migrate(db, { backup: false })).toThrow(/a table named tasks_new already exists/)
    expect(dump(db)).toBe(before)
  })

  it("fails migration 2 on a versioned tasks table without the required columns", () => {
    const db = openDatabase()
    db.exec("CREATE TABLE tasks (id TEXT PRIMARY KEY, prompt TEXT)")
    db.exec("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)")
    db.exec("INSERT INTO schema_migrations VALUES (1, 'legacy-tasks', 'x')")
    const before = dump(db)
    expect(() => migrate(db, { backup: false })).toThrow(/migration 2 \(enhanced-queue\) failed.*lacks the column\(s\) status/)
    expect(dump(db)).toBe(before)
  })
})

describe("migrate: a legacy database", () => {
  it("records the legacy version it found, then the new one", () => {
    const db = openDatabase()
    createV1(db, [{ id: uuid(1) }])
    expect(readVersion(db)).toBe(1)
    const result = migrate(db, { now: fixedNow })
    expect(result.fromVersion).toBe(1)
    expect(result.applied).toEqual([2, 3, 4, 5])
    expect(db.prepare("SELECT version, name, applied_at FROM schema_migrations ORDER BY version").all()).toEqual([
      { version: 1, name: "legacy-tasks", applied_at: "2026-11-26T06:04:11.123Z" },
      { version: 2, name: "enhanced-queue", applied_at: "2026-11-26T06:04:11.123Z" },
      { version: 3, name: "claim-rank", applied_at: "2026-11-26T06:04:11.123Z" },
      { version: 4, name: "hierarchy", applied_at: "2026-11-26T06:04:11.123Z" },
      { version: 5, name: "index-diet", applied_at: "2026-11-26T06:04:11.123Z" }
    ])
  })

  it("migrates a versioned v1 database (its version row kept) and backs it up first", () => {
    const db = openDatabase()
    createV1(db, [{ id: uuid(1) }], { versioned: true })
    const result = migrate(db, { now: fixedNow })
    expect(result.backup).toMatch(/\.backup-v1-20261126T060411Z$/)
    expect(fs.existsSync(result.backup!)).toBe(true)
    expect(db.prepare("SELECT version, applied_at FROM schema_migrations ORDER BY version").all()).toEqual([
      { version: 1, applied_at: "2025-10-01T00:00:00.000Z" },
      { version: 2, applied_at: "2026-11-26T06:04:11.123Z" },
      { version: 3, applied_at: "2026-11-26T06:04:11.123Z" },
      { version: 4, applied_at: "2026-11-26T06:04:11.123Z" },
      { version: 5, applied_at: "2026-11-26T06:04:11.123Z" }
    ])
  })

  it("backs up and migrates a database in WAL mode", () => {
    const db = openDatabase()
    db.pragma("journal_mode = WAL")
    createV1(db, [{ id: uuid(1), status: "running", started_at: "2025-10-10 12:00:00" }])
    const result = migrate(db, { now: fixedNow })
    expect(result.applied).toEqual([2, 3, 4, 5])
    const copy = new Database(result.backup!, { readonly: true })
    try {
      expect(readVersion(copy)).toBe(1)
      expect(copy.prepare("SELECT status FROM tasks").pluck().all()).toEqual(["running"])
    } finally {
      copy.close()
    }
    expect(db.pragma("journal_mode", { simple: true })).toBe("wal")
  })

  it("can skip the backup", () => {
    const db = openDatabase()
    createV1(db, [{ id: uuid(1) }])
    expect(migrate(db, { backup: false }).backup).toBeNull()
    expect(fs.readdirSync(path.dirname(db.name))).toEqual(["abathur.db"])
  })

  it("sees a migration another connection finished while it waited", () => {
    const dir = tempDir()
    const file = path.join(dir, "abathur.db")
    const db = openDatabase(file)
    createV1(db, [{ id: uuid(1) }])
    const other = openDatabase(file)
    // The other connection migrates between this one's version check and its transaction:
    // simulated by a first migration whose backup hook is the other connection's run.
    const result = migrate(db, {
      backup: true,
      now: () => {
        if (readVersion(other) === 1) migrate(other, { backup: false })
        return fixedNow()
      }
    })
    expect(result.fromVersion).toBe(LATEST_VERSION)
    expect(result.applied).toEqual([])
    expect(readVersion(db)).toBe(LATEST_VERSION)
  })
})
