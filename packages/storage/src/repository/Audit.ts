/**
 * The audit trail: one record per submission or state change, and what the dashboard reads of
 * it (activity per minute, recent failures) through a bisection of its ids by time.
 */
import type { ActivityMinute, AuditEntry } from "@abathur/domain"
import { AUDIT_ENTRY_COLUMNS, AUDIT_INSERT_COLUMNS, auditValues } from "../TaskRows.js"
import { rowsOf, type Sql } from "./Sql.js"

export const makeAudit = (sql: Sql) => {
  const { all, get, stmt, insertMany } = sql
  const insertAuditRows = insertMany<AuditEntry>(
    (n) => `INSERT INTO task_audit (${AUDIT_INSERT_COLUMNS}) VALUES ${rowsOf(6, n)}`,
    (e, into) => void into.push(e.taskId, e.fromStatus, e.toStatus, e.at, e.actor, e.reason)
  )

  /**
   * The id of the first audit entry at or after `since`. The trail's ids grow with time (one
   * writer at a time, each stamping the time it took the write lock), so the ids are bisected:
   * about 20 index lookups at any size, instead of a scan of the trail (it has no index on time).
   */
  const firstAuditIdSince = (since: string): number => {
    const bounds = get<{ lo: number | null; hi: number | null }>("SELECT min(id) AS lo, max(id) AS hi FROM task_audit")
    if (bounds?.lo == null || bounds.hi == null) return 0
    const atOf = stmt("SELECT at FROM task_audit WHERE id >= ? ORDER BY id LIMIT 1")
    let lo = bounds.lo
    let hi = bounds.hi + 1
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2)
      const row = atOf.get(mid) as { at: string } | undefined
      if (row === undefined || row.at >= since) hi = mid
      else lo = mid + 1
    }
    return lo
  }
  return {
    /** Records many entries, several rows per statement. */
    insertAudits: (entries: ReadonlyArray<AuditEntry>): void => insertAuditRows(entries),

    insertAudit: (entry: AuditEntry): void => {
      stmt(`INSERT INTO task_audit (${AUDIT_INSERT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)`).run(auditValues(entry))
    },

    auditOf: (taskId: string): Array<AuditEntry> =>
      all<AuditEntry>(
        `SELECT ${AUDIT_ENTRY_COLUMNS}
         FROM task_audit WHERE task_id = ? ORDER BY id`,
        taskId
      ),

    /**
     * Completions and failures per minute since `since` (ISO-8601), from the audit trail. The
     * trail's ids grow with time (one writer at a time, each stamping its commit time), so the
     * first entry at or after `since` is found by bisecting the ids, and only the entries of the
     * window are read (at most `maxRows` of them, the newest).
     */
    activitySince: (since: string, maxRows = 500_000): Array<ActivityMinute> => {
      const newest = get<{ hi: number | null }>("SELECT max(id) AS hi FROM task_audit")?.hi ?? null
      if (newest === null) return []
      const first = Math.max(firstAuditIdSince(since), newest - maxRows + 1)
      return all<ActivityMinute>(
        `SELECT substr(at, 1, 16) AS minute,
           sum(to_status = 'completed') AS completed,
           sum(from_status = 'running' AND to_status = 'ready' AND reason LIKE 'attempt failed%') AS retried,
           sum(to_status = 'failed') AS failed
         FROM task_audit WHERE id >= ? AND at >= ? AND from_status = 'running' AND to_status IN ('completed', 'failed', 'ready')
         GROUP BY minute ORDER BY minute`,
        first,
        since
      ).filter((m) => m.completed + m.retried + m.failed > 0)
    },

    /** Failed attempts (retried or final) since `since`, newest first, at most `limit`. */
    recentFailures: (since: string, limit: number): Array<AuditEntry> =>
      all<AuditEntry>(
        `SELECT ${AUDIT_ENTRY_COLUMNS}
         FROM task_audit WHERE id >= ? AND at >= ?
           AND (to_status = 'failed' OR (from_status = 'running' AND to_status = 'ready' AND reason LIKE 'attempt failed%'))
         ORDER BY id DESC LIMIT ?`,
        firstAuditIdSince(since),
        since,
        limit
      )
  }
}
