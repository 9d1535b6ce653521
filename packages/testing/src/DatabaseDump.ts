import BetterSqlite3 from "better-sqlite3"
import { existsSync } from "node:fs"

/** Every table's rows and the schema of an open connection (see `dumpDatabase`). */
const dumpConnection = (db: BetterSqlite3.Database): string => {
  const schema = db.prepare("SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY type, name").all() as Array<{
    type: string
    name: string
    tbl_name: string
    sql: string | null
  }>
  const tables: Record<string, unknown> = {}
  for (const t of schema) {
    if (t.type !== "table" || t.sql?.startsWith("CREATE VIRTUAL") === true) continue
    const quoted = `"${t.name.replaceAll('"', '""')}"`
    tables[t.name] = db.prepare(`SELECT * FROM ${quoted}`).raw().all()
  }
  return JSON.stringify({ schema, tables }, (_key, value: unknown) => (typeof value === "bigint" ? `${value}n` : value))
}

/**
 * Every table's rows (in rowid order, or primary key order for WITHOUT ROWID tables) and the
 * whole schema (sqlite_schema), as one JSON text: two dumps are equal iff nothing changed.
 * Given a file, it reads through a read-only connection of its own (other processes may have the
 * file open) and answers null when there is no such file.
 */
export function dumpDatabase(db: BetterSqlite3.Database): string
export function dumpDatabase(file: string): string | null
export function dumpDatabase(source: BetterSqlite3.Database | string): string | null {
  if (typeof source !== "string") return dumpConnection(source)
  if (!existsSync(source)) return null
  const db = new BetterSqlite3(source, { readonly: true, fileMustExist: true })
  try {
    return dumpConnection(db)
  } finally {
    db.close()
  }
}
