import { openDatabase } from "@abathur/storage"
import { describe, expect, it } from "vitest"
import { migrate, PG_LATEST_VERSION, PgMigrations, SCHEMA_MIGRATIONS } from "../src/index.js"
import { freshDatabase } from "./helpers.js"

const sqliteSchema = () => {
  const handle = openDatabase({ filename: ":memory:" })
  const names = (sql: string) => (handle.db.prepare(sql).all() as Array<{ name: string }>).map((r) => r.name).sort()
  const schema = {
    indexes: names("SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_autoindex%'"),
    tables: names("SELECT name FROM sqlite_master WHERE type = 'table'"),
    columns: Object.fromEntries(
      ["tasks", "task_dependencies", "task_audit", "task_stats", "plan_submissions", "schema_migrations"].map((t) => [
        t,
        names(`SELECT name FROM pragma_table_info('${t}')`)
      ])
    )
  }
  handle.db.close()
  return schema
}

describe("migrations", () => {
  it("create the schema once: a second run (and a concurrent one) applies nothing", async () => {
    const { pool } = await freshDatabase()
    const [a, b] = await Promise.all([migrate(pool), migrate(pool)])
    expect([a.applied, b.applied].sort((x, y) => y.length - x.length)).toEqual([[1, 2, 3, 4], []])
    const again = await migrate(pool)
    expect(again).toEqual({ fromVersion: PG_LATEST_VERSION, toVersion: PG_LATEST_VERSION, applied: [] })
    const versions = await pool.query("SELECT version, name FROM schema_migrations ORDER BY version")
    expect(versions.rows).toEqual([
      { version: 1, name: "queue" },
      { version: 2, name: "ready-notify" },
      { version: 3, name: "index-diet" },
      { version: 4, name: "lease-notify" }
    ])
  })

  it("use SQLite's table, column and index names", async () => {
    const { pool } = await freshDatabase()
    await migrate(pool)
    const sqlite = sqliteSchema()
    const names = async (sql: string, params: Array<unknown> = []) => (await pool.query<{ name: string }>(sql, params)).rows.map((r) => r.name).sort()
    const tables = await names("SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema()")
    expect(tables).toEqual(sqlite.tables)
    const indexes = await names("SELECT indexname AS name FROM pg_indexes WHERE schemaname = current_schema() AND indexname LIKE 'idx_%'")
    expect(indexes.filter((n) => n !== "idx_task_audit_at")).toEqual(sqlite.indexes)
    for (const [table, columns] of Object.entries(sqlite.columns)) {
      const pgColumns = await names(
        "SELECT column_name AS name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1",
        [table]
      )
      // seq stands in for rowid; the stats rows are sharded by backend.
      expect(
        pgColumns.filter((c) => c !== "seq" && c !== "shard"),
        table
      ).toEqual(columns)
    }
  })

  it("bring a database at an older version up to date, keeping its rows", async () => {
    const { pool } = await freshDatabase()
    await pool.query(SCHEMA_MIGRATIONS)
    await pool.query(PgMigrations[0]!.up)
    await pool.query("INSERT INTO schema_migrations VALUES (1, 'queue', 'then')")
    await pool.query(
      "INSERT INTO tasks (id, prompt, status, submitted_at, last_updated_at) VALUES ('t1', 'p', 'blocked', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z')"
    )
    expect(await migrate(pool)).toEqual({ fromVersion: 1, toVersion: PG_LATEST_VERSION, applied: [2, 3, 4] })
    expect((await pool.query("SELECT id FROM tasks")).rows).toEqual([{ id: "t1" }])
    const triggers = await pool.query("SELECT tgname FROM pg_trigger WHERE tgname LIKE 'trg_tasks_notify%' ORDER BY 1")
    expect(triggers.rows.map((r) => r.tgname)).toEqual(["trg_tasks_notify_lease", "trg_tasks_notify_ready_insert", "trg_tasks_notify_ready_update"])
  })

  it("refuse a database newer than the code and leave it unchanged", async () => {
    const { pool } = await freshDatabase()
    await migrate(pool)
    await pool.query("INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, 'future', 'x')")
    await expect(migrate(pool)).rejects.toMatchObject({ _tag: "MigrationError", reason: "too-new", fromVersion: 99 })
    const n = await pool.query("SELECT count(*)::integer AS n FROM schema_migrations")
    expect(n.rows[0]).toEqual({ n: PG_LATEST_VERSION + 1 })
  })

  it("roll back a failed migration entirely", async () => {
    const { pool } = await freshDatabase()
    // A table in the way: version 1's CREATE TABLE tasks fails, and nothing of it stays.
    await pool.query("CREATE TABLE task_audit (x integer)")
    await expect(migrate(pool)).rejects.toMatchObject({ _tag: "MigrationError", reason: "failed", fromVersion: 0 })
    const tables = await pool.query("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1")
    expect(tables.rows).toEqual([{ tablename: "task_audit" }])
  })
})
