/**
 * Claims and priority refreshes: the heads of the claim order (locked `FOR UPDATE SKIP LOCKED`),
 * expired leases, the next wake-up times, the tasks due for a refresh and the stored priority.
 */
import type { DueRefresh, ReadyHead, StoredPriority } from "@abathur/storage"
import type { Step } from "../Step.js"
import { PgSql } from "./Sql.js"

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
    const heads: Array<ReadyHead> = []
    for (const starved of [false, true]) {
      const row =
        agentType === null
          ? yield* this.one<{ id: string; rank: number | null; submittedAt: string }>(
              `SELECT id, priority_rank AS rank, submitted_at AS "submittedAt" FROM tasks
               WHERE status = 'ready' AND priority_starved = $1 AND priority_rank IS NOT NULL
               ORDER BY priority_rank DESC, submitted_at ASC, seq ASC LIMIT 1 FOR UPDATE SKIP LOCKED`,
              [starved]
            )
          : yield* this.one<{ id: string; rank: number | null; submittedAt: string }>(
              `SELECT id, priority_rank AS rank, submitted_at AS "submittedAt" FROM tasks
               WHERE status = 'ready' AND agent_type = $1 AND priority_starved = $2 AND priority_rank IS NOT NULL
               ORDER BY priority_rank DESC, submitted_at ASC, seq ASC LIMIT 1 FOR UPDATE SKIP LOCKED`,
              [agentType, starved]
            )
      if (row !== undefined) heads.push({ ...row, rank: row.rank ?? Number.NEGATIVE_INFINITY, starved })
    }
    return heads
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
