/**
 * Claims and priority refreshes: the heads of the claim order (locked `FOR UPDATE SKIP LOCKED`),
 * expired leases, the next wake-up times, the tasks due for a refresh and the stored priority.
 */
import type { ClaimOutlook, DueRefresh, HorizonCrossing, ReadyHead, StoredPriority } from "@abathur/storage"
import type { Step } from "../Step.js"
import { type PgTaskRow, PgSql, TASK_ROW } from "./Sql.js"

/**
 * The CTEs `fresh` and `starved`: the head of each class of the claim order among READY tasks with
 * a rank (of the agent type bound to `agentParam` when given), locked `FOR UPDATE SKIP LOCKED`.
 */
const headsSql = (agentParam: string | null): string => {
  const head = (starved: boolean) =>
    `SELECT ${TASK_ROW} FROM tasks WHERE status = 'ready' ${agentParam === null ? "" : `AND agent_type = ${agentParam}`} AND priority_starved = ${starved}
       AND priority_rank IS NOT NULL ORDER BY priority_rank DESC, submitted_at ASC, seq ASC LIMIT 1 FOR UPDATE SKIP LOCKED`
  return `fresh AS (${head(false)}), starved AS (${head(true)})`
}

/** A task due for a refresh, from its row. */
const dueRefreshOf = (r: PgTaskRow): DueRefresh => ({
  id: r.id,
  status: r.status as DueRefresh["status"],
  priority: r.priority,
  source: r.source as DueRefresh["source"],
  deadline: r.deadline,
  estimatedDurationSeconds: r.estimated_duration_seconds,
  submittedAt: r.submitted_at,
  notBefore: r.not_before,
  rank: r.priority_rank,
  starved: r.priority_starved
})

/** The claims group of the PostgreSQL task repository (composed in ../PgTaskRepository.ts). */
export class Claims extends PgSql {
  /**
   * The head of each class of the claim order among READY tasks with a rank (optionally of one
   * agent type): the best not yet starved and the best starved, by rank then age, as SQLite's
   * claim indexes order them. Each head is locked `FOR UPDATE SKIP LOCKED`: a head that another
   * transaction holds is passed over, so concurrent claimers never get the same task and never
   * wait for each other.
   */
  *readyHeads(agentType: string | null): Step<Array<ReadyHead>> {
    // Both heads in one round trip; their whole rows are kept for the load that follows a claim's
    // choice (`takeLocked`).
    const rows = yield* this.rows<PgTaskRow>(
      `WITH ${headsSql(agentType === null ? null : "$1")} SELECT ${TASK_ROW} FROM fresh UNION ALL SELECT ${TASK_ROW} FROM starved`,
      agentType === null ? [] : [agentType]
    )
    return this.heads(rows)
  }

  /**
   * A claim's first reads in one round trip: the expired leases, the earliest task due for a
   * refresh (locked as `dueForRefresh` locks them; the refresh reads the rest) and the heads of
   * the claim order (as `readyHeads`).
   */
  *claimOutlook(at: string, agentType: string | null): Step<ClaimOutlook> {
    const rows = yield* this.rows<PgTaskRow & { part: number }>(
      `WITH expired AS (SELECT ${TASK_ROW} FROM tasks WHERE status = 'running' AND lease_expires_at <= $1),
         due AS (SELECT ${TASK_ROW} FROM tasks WHERE priority_refresh_at <= $1 ORDER BY priority_refresh_at LIMIT 1 FOR UPDATE SKIP LOCKED),
         ${headsSql(agentType === null ? null : "$2")}
       SELECT 1 AS part, '' AS k, ${TASK_ROW} FROM fresh UNION ALL SELECT 2, '', ${TASK_ROW} FROM starved
       UNION ALL SELECT 3, priority_refresh_at, ${TASK_ROW} FROM due UNION ALL SELECT 4, lease_expires_at, ${TASK_ROW} FROM expired
       ORDER BY part, k`,
      agentType === null ? [at] : [at, agentType]
    )
    return {
      heads: this.heads(rows.filter((r) => r.part <= 2)),
      due: rows.filter((r) => r.part === 3).map(dueRefreshOf),
      expired: rows.filter((r) => r.part === 4).map((r) => r.id)
    }
  }

  /** The heads of the claim order from their rows, kept for the load that follows (`takeLocked`). */
  private heads(rows: ReadonlyArray<PgTaskRow>): Array<ReadyHead> {
    this.keepLocked(rows)
    return rows.map((r) => ({
      id: r.id,
      rank: r.priority_rank ?? Number.NEGATIVE_INFINITY,
      submittedAt: r.submitted_at,
      starved: r.priority_starved
    }))
  }

  /** RUNNING tasks whose lease expired at or before `now`. */
  *expiredLeases(now: string): Step<Array<string>> {
    return yield* this.ids("SELECT id FROM tasks WHERE status = 'running' AND lease_expires_at <= $1 ORDER BY lease_expires_at", [now])
  }

  /** The earliest `notBefore` of a READY task that waits for it; null when none waits. */
  *nextNotBefore(): Step<string | null> {
    const row = yield* this.one<{ at: string | null }>("SELECT min(not_before) AS at FROM tasks WHERE status = 'ready' AND priority_rank IS NULL")
    return row?.at ?? null
  }

  /** The earliest lease expiry among RUNNING tasks. */
  *nextLeaseExpiry(): Step<string | null> {
    const row = yield* this.one<{ at: string | null }>("SELECT min(lease_expires_at) AS at FROM tasks WHERE status = 'running'")
    return row?.at ?? null
  }

  /**
   * Tasks whose stored priority is due for a refresh at `at` (the earliest `limit`), with their
   * stored rank. Each is locked `FOR UPDATE SKIP LOCKED`: a task another transaction holds (a claim
   * refreshing or taking it) is left to that one, and one whose refresh or claim committed since
   * is read again and left out (no longer due).
   */
  *dueForRefresh(at: string, limit?: number): Step<Array<DueRefresh>> {
    return yield* this.rows<DueRefresh>(
      `SELECT id, status, priority, source, deadline, estimated_duration_seconds AS "estimatedDurationSeconds",
         submitted_at AS "submittedAt", not_before AS "notBefore", priority_rank AS rank, priority_starved AS starved
       FROM tasks WHERE priority_refresh_at <= $1 ORDER BY priority_refresh_at LIMIT $2 FOR UPDATE SKIP LOCKED`,
      [at, limit ?? null]
    )
  }

  /**
   * Moves every task without a deadline whose crossing of the starvation horizon is due into the
   * starved class, its rank its score at the horizon, in one statement (as SQLite's, with the same
   * float8 operations in the same order: the ranks are equal to the last bit); the number moved.
   * Each is locked `FOR UPDATE SKIP LOCKED`, as `dueForRefresh` locks them.
   */
  *crossHorizons(c: HorizonCrossing): Step<number> {
    const submittedMs = "(extract(epoch FROM submitted_at::timestamptz) * 1000)::float8"
    return yield* this.run(
      `UPDATE tasks SET priority_rank = floor((priority_rank + $1::float8 * (${submittedMs} + $2::float8)) * 1e6::float8 + 0.5::float8) / 1e6::float8,
         priority_starved = true, priority_refresh_at = NULL
       WHERE id IN (SELECT id FROM tasks WHERE priority_refresh_at <= $3 AND deadline IS NULL AND NOT priority_starved AND priority_rank IS NOT NULL
         AND ${submittedMs} + $2::float8 - $4::float8 <= $5::float8 FOR UPDATE SKIP LOCKED)`,
      [c.rate, c.horizonMs, c.at, c.leadMs, c.atMs]
    )
  }

  /** Stores a task's computed priority, its place in the claim order and its next refresh time. */
  *setPriority(id: string, p: StoredPriority): Step<void> {
    yield* this.run("UPDATE tasks SET calculated_priority = $1, priority_rank = $2, priority_starved = $3, priority_refresh_at = $4 WHERE id = $5", [
      p.calculatedPriority,
      p.priorityRank,
      p.priorityStarved,
      p.priorityRefreshAt,
      id
    ])
  }
}
