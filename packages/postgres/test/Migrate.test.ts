import { openDatabase } from "@abathur/storage"
import { describe, expect, it } from "vitest"
import { migrate, PG_LATEST_VERSION } from "../src/index.js"
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
    expect([a.applied, b.applied].sort((x, y) => y.length - x.length)).toEqual([[1], []])
    const again = await migrate(pool)
    expect(again).toEqual({ fromVersion: PG_LATEST_VERSION, toVersion: PG_LATEST_VERSION, applied: [] })
    const versions = await pool.query("SELECT version, name FROM schema_migrations ORDER BY version")
    expect(versions.rows).toEqual([{ version: 1, name: "queue" }])
  })

  it("use SQLite's table, column and index names", async () => {
    const { pool } = await freshDatabase()
    await migrate(pool)
    const sqlite = sqliteSchema()
    const names = async (sql: string, params: Array<unknown> = []) =>
      (await pool.query<{ name: string }>(sql, params)).rows.map((r) => r.name).sort()
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
      expect(pgColumns.filter((c) => c !== "seq" && c !== "shard"), table).toEqual(columns)
    }
  })

  it("refuse a database newer than the code and leave it unchanged", async () => {
    const { pool } = await freshDatabase()
    await migrate(pool)
    await pool.query("INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, 'future', 'x')")
    await expect(migrate(pool)).rejects.toMatchObject({ _tag: "MigrationError", reason: "too-new", fromVersion: 99 })
    const n = await pool.query("SELECT count(*)::integer AS n FROM schema_migrations")
    expect(n.rows[0]).toEqual({ n: 2 })
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
