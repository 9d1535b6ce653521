import type BetterSqlite3 from "better-sqlite3"

/**
 * Every table's rows (in rowid order, or primary key order for WITHOUT ROWID tables) and the
 * whole schema (sqlite_schema), as one JSON text: two dumps are equal iff nothing changed.
 */
export const dumpDatabase = (db: BetterSqlite3.Database): string => {
  const schema = db
    .prepare("SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY type, name")
    .all() as Array<{ type: string; name: string; tbl_name: string; sql: string | null }>
  const tables: Record<string, unknown> = {}
  for (const t of schema) {
    if (t.type !== "table" || t.sql?.startsWith("CREATE VIRTUAL") === true) continue
    const quoted = `"${t.name.replaceAll("\"", "\"\"")}"`
    tables[t.name] = db.prepare(`SELECT * FROM ${quoted}`).raw().all()
  }
  return JSON.stringify({ schema, tables }, (_key, value: unknown) =>
    typeof value === "bigint" ? `${value}n` : value
  )
}
