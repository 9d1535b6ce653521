/**
 * The audit trail: records in, a task's history, activity per minute and recent failures.
 */
import { AUDIT_ENTRY_COLUMNS, AUDIT_INSERT_COLUMNS, type ActivityMinute, type AuditEntry, auditValues } from "@abathur/storage"
import type { Step } from "../Step.js"
import { PgSql } from "./Sql.js"

/** The audit group of the PostgreSQL task repository (composed in ../PgTaskRepository.ts). */
export class Audit extends PgSql {
  /** Records many entries in one statement, in order. */
  *insertAudits(entries: ReadonlyArray<AuditEntry>): Step<void> {
    if (entries.length === 0) return
    const cols = AUDIT_INSERT_COLUMNS
    yield* this.run(
      `INSERT INTO task_audit (${cols}) SELECT ${cols} FROM json_populate_recordset(NULL::task_audit, $1::json) WITH ORDINALITY ORDER BY ordinality`,
      [
        JSON.stringify(
          entries.map((e) => ({ task_id: e.taskId, from_status: e.fromStatus, to_status: e.toStatus, at: e.at, actor: e.actor, reason: e.reason }))
        )
      ]
    )
  }

  *insertAudit(entry: AuditEntry): Step<void> {
    yield* this.run(`INSERT INTO task_audit (${AUDIT_INSERT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)`, auditValues(entry))
  }

  *auditOf(taskId: string): Step<Array<AuditEntry>> {
    return yield* this.rows<AuditEntry>(`SELECT ${AUDIT_ENTRY_COLUMNS} FROM task_audit WHERE task_id = $1 ORDER BY id`, [taskId])
  }

  /**
   * Completions and failures per minute since `since`, from the audit trail (its index on `at`),
   * over at most the newest `maxRows` entries of the trail.
   */
  *activitySince(since: string, maxRows = 500_000): Step<Array<ActivityMinute>> {
    const rows = yield* this.rows<ActivityMinute>(
      `SELECT substr(at, 1, 16) AS minute,
         count(*) FILTER (WHERE to_status = 'completed')::integer AS completed,
         count(*) FILTER (WHERE to_status = 'ready' AND reason LIKE 'attempt failed%')::integer AS retried,
         count(*) FILTER (WHERE to_status = 'failed')::integer AS failed
       FROM task_audit
       WHERE at >= $1 AND from_status = 'running' AND to_status IN ('completed', 'failed', 'ready')
         AND id > (SELECT coalesce(max(id), 0) FROM task_audit) - $2
       GROUP BY minute ORDER BY minute`,
      [since, maxRows]
    )
    return rows.filter((m) => m.completed + m.retried + m.failed > 0)
  }

  /** Failed attempts (retried or final) since `since`, newest first, at most `limit`. */
  *recentFailures(since: string, limit: number): Step<Array<AuditEntry>> {
    return yield* this.rows<AuditEntry>(
      `SELECT ${AUDIT_ENTRY_COLUMNS} FROM task_audit WHERE at >= $1
         AND (to_status = 'failed' OR (from_status = 'running' AND to_status = 'ready' AND reason LIKE 'attempt failed%'))
       ORDER BY id DESC LIMIT $2`,
      [since, limit]
    )
  }
}
