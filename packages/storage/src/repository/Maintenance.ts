/**
 * Maintenance: what pruning may delete, integrity and foreign key checks, the indexes, query
 * plans, and the data version other connections change.
 */
import type { TaskStatus } from "@abathur/domain"
import type BetterSqlite3 from "better-sqlite3"
import { chunks, placeholders, type Sql } from "./Sql.js"

export const makeMaintenance = (db: BetterSqlite3.Database, sql: Sql) => {
  const { all, pluck } = sql
  return {
    /** Terminal tasks of these statuses last changed at or before `cutoff`. */
    pruneCandidates: (statuses: ReadonlyArray<TaskStatus>, cutoff: string): Array<string> =>
      statuses.length === 0
        ? []
        : pluck(
            `SELECT id FROM tasks WHERE status IN (${placeholders(statuses.length)})
             AND coalesce(completed_at, last_updated_at) <= ? ORDER BY submitted_at, rowid`,
            ...statuses,
            cutoff
          ),

    /** Ids among `ids` that a row of a table outside the queue's own references by foreign key. */
    referencedElsewhere: (ids: ReadonlyArray<string>): Set<string> => {
      const own = new Set(["tasks", "task_dependencies", "task_audit", "task_stats", "schema_migrations"])
      const refs = all<{ tbl: string; col: string }>(
        `SELECT m.name AS tbl, f."from" AS col FROM sqlite_master m, pragma_foreign_key_list(m.name) f
         WHERE m.type = 'table' AND f."table" = 'tasks'`
      ).filter((r) => !own.has(r.tbl))
      const found = new Set<string>()
      for (const { tbl, col } of refs) {
        const q = (ident: string) => `"${ident.replaceAll('"', '""')}"`
        for (const part of chunks(ids)) {
          const rows = db
            .prepare(`SELECT DISTINCT ${q(col)} AS id FROM ${q(tbl)} WHERE ${q(col)} IN (${placeholders(part.length)})`)
            .all(...part) as Array<{ id: string }>
          for (const r of rows) found.add(r.id)
        }
      }
      return found
    },

    /** Rows that break a foreign key (`PRAGMA foreign_key_check`). */
    validateForeignKeys: (): Array<{ table: string; rowid: number | null; parent: string; fkid: number }> =>
      db.pragma("foreign_key_check") as Array<{ table: string; rowid: number | null; parent: string; fkid: number }>,

    integrityCheck: (): string => {
      const rows = db.pragma("integrity_check") as Array<{ integrity_check: string }>
      return rows.map((r) => r.integrity_check).join("; ")
    },

    /** The indexes of the queue's tables. */
    getIndexUsage: (): { indexes: Array<{ name: string; table: string; sql: string | null }> } => ({
      indexes: all<{ name: string; table: string; sql: string | null }>(
        `SELECT name, tbl_name AS "table", sql FROM sqlite_master WHERE type = 'index' ORDER BY tbl_name, name`
      )
    }),

    /** `EXPLAIN QUERY PLAN` of a query, one line per step. */
    explainQueryPlan: (sql: string, params: ReadonlyArray<unknown> = []): Array<string> =>
      (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as Array<{ detail: string }>).map((r) => r.detail),

    /** Changes whenever another connection commits (SQLite's data_version). */
    dataVersion: (): number => db.pragma("data_version", { simple: true }) as number
  }
}
