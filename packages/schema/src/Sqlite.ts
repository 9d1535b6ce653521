import type Database from "better-sqlite3"

/** A value as better-sqlite3 returns it. */
export type SqlValue = string | number | bigint | Buffer | null

/** A row as better-sqlite3 returns it. */
export type SqlRow = Record<string, SqlValue>

/** Whether a table (not a view) of that name exists in the main schema. */
export const tableExists = (db: Database.Database, name: string): boolean =>
  db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?").get(name) !== undefined

/** The column names of a table, in order (empty when there is no such table). */
export const tableColumns = (db: Database.Database, name: string): ReadonlyArray<string> =>
  (db.prepare("SELECT name FROM pragma_table_info(?)").all(name) as Array<{ name: string }>).map((c) => c.name)

/** A quoted SQL identifier. */
export const quoteIdentifier = (name: string): string => `"${name.replaceAll('"', '""')}"`
