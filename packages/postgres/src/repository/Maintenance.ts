/**
 * Pruning: the terminal tasks old enough to prune and the ones a table outside the queue references.
 */
import type { TaskStatus } from "@abathur/domain"
import type { Step } from "../Step.js"
import { PgSql } from "./Sql.js"

/** The maintenance group of the PostgreSQL task repository (composed in ../PgTaskRepository.ts). */
export class Maintenance extends PgSql {
  /** Terminal tasks of these statuses last changed at or before `cutoff`. */
  *pruneCandidates(statuses: ReadonlyArray<TaskStatus>, cutoff: string): Step<Array<string>> {
    if (statuses.length === 0) return []
    return yield* this.ids(
      `SELECT id FROM tasks WHERE status = ANY($1::text[]) AND coalesce(completed_at, last_updated_at) <= $2 ORDER BY submitted_at, seq`,
      [statuses, cutoff]
    )
  }

  /** Ids among `ids` that a row of a table outside the queue's own references by foreign key. */
  *referencedElsewhere(ids: ReadonlyArray<string>): Step<Set<string>> {
    const refs = yield* this.rows<{ tbl: string; col: string }>(
      `SELECT c.conrelid::regclass::text AS tbl, a.attname AS col
       FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey)
       WHERE c.contype = 'f' AND c.confrelid = 'tasks'::regclass
         AND c.conrelid NOT IN ('tasks'::regclass, 'task_dependencies'::regclass, 'task_audit'::regclass)`
    )
    const found = new Set<string>()
    const q = (ident: string) => `"${ident.replaceAll('"', '""')}"`
    for (const { tbl, col } of refs) {
      // regclass::text is already quoted where it needs to be (and schema-qualified off the search path).
      const rows = yield* this.rows<{ id: string }>(`SELECT DISTINCT ${q(col)} AS id FROM ${tbl} WHERE ${q(col)} = ANY($1::text[])`, [ids])
      for (const r of rows) found.add(r.id)
    }
    return found
  }
}
