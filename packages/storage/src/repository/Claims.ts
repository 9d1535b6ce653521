/**
 * The claim order, leases and priority refreshes: the heads of the READY classes, expired leases,
 * the next instants a task becomes claimable or a lease runs out, and the stored priorities.
 */
import type { TaskSource, TaskStatus } from "@abathur/domain"
import type { Sql } from "./Sql.js"

/** What the priority of a task due for a refresh depends on. */
export interface RefreshFacts {
  readonly id: string
  readonly status: TaskStatus
  readonly priority: number
  readonly source: TaskSource
  readonly deadline: string | null
  readonly estimatedDurationSeconds: number | null
  readonly submittedAt: string
  readonly notBefore: string | null
  readonly openDependents: number
}

/** A task due for a refresh: what its priority depends on but the count of its dependents, and its rank. */
export interface DueRefresh extends Omit<RefreshFacts, "openDependents"> {
  readonly rank: number | null
  readonly starved: boolean
}

interface DueRefreshRow extends Omit<DueRefresh, "starved"> {
  readonly starved: number
}

/** The best READY task of one class of the claim order. */
export interface ReadyHead {
  readonly id: string
  readonly rank: number
  readonly starved: boolean
  readonly submittedAt: string
}

interface ReadyHeadRow {
  readonly id: string
  readonly rank: number | null
  readonly submittedAt: string
  readonly starved: number
}

/**
 * What a claim reads first: the expired leases to recover, the tasks due for a refresh, and the
 * heads of the claim order, which stand only while the other two are empty.
 */
export interface ClaimOutlook {
  readonly expired: Array<string>
  /** The earliest task due for a refresh, if any (whether to refresh: `dueForRefresh` reads them all). */
  readonly due: Array<DueRefresh>
  readonly heads: Array<ReadyHead>
}
/** The head of one class of the claim order (`starved` 0 or 1), optionally of one agent type. */
const readyHead = (starved: 0 | 1, ofType: boolean) =>
  ofType
    ? `SELECT * FROM (SELECT id, priority_rank AS rank, submitted_at AS submittedAt, ${starved} AS starved
         FROM tasks INDEXED BY idx_tasks_ready_agent_rank
         WHERE status = 'ready' AND agent_type = ? AND priority_starved = ${starved} AND priority_rank IS NOT NULL
         ORDER BY priority_rank DESC, submitted_at ASC LIMIT 1)`
    : `SELECT * FROM (SELECT id, priority_rank AS rank, submitted_at AS submittedAt, ${starved} AS starved
         FROM tasks INDEXED BY idx_tasks_ready_rank
         WHERE status = 'ready' AND priority_starved = ${starved} AND priority_rank IS NOT NULL
         ORDER BY priority_rank DESC, submitted_at ASC LIMIT 1)`
const readyHeadsSql = `${readyHead(0, false)} UNION ALL ${readyHead(1, false)}`
const readyHeadsOfTypeSql = `${readyHead(0, true)} UNION ALL ${readyHead(1, true)}`

/** The priority columns a refresh writes. */
export interface StoredPriority {
  readonly calculatedPriority: number
  readonly priorityRank: number | null
  readonly priorityStarved: boolean
  readonly priorityRefreshAt: string | null
}

const dueForRefreshSql = `SELECT id, status, priority, source, deadline, estimated_duration_seconds AS estimatedDurationSeconds,
    submitted_at AS submittedAt, not_before AS notBefore, priority_rank AS rank, priority_starved AS starved
  FROM tasks WHERE priority_refresh_at <= ? ORDER BY priority_refresh_at`

/**
 * The crossing of the starvation horizon, for every task it is due for at one instant (see
 * `crossHorizons`): the instant (ISO and epoch ms), the starvation rate (points per ms), the
 * horizon (ms) and how long before it a task may cross (ms: a refresh step's worth of starvation).
 */
export interface HorizonCrossing {
  readonly at: string
  readonly atMs: number
  readonly rate: number
  readonly horizonMs: number
  readonly leadMs: number
}

/**
 * A task's submission in epoch ms, from its ISO text: `unixepoch(..., 'subsec')` is in seconds
 * with the milliseconds as a fraction, rounded back to the exact integer the queue's
 * `parseTimestamp` gives.
 */
const submittedMs = "round(unixepoch(submitted_at, 'subsec') * 1000)"

/**
 * The rank at the horizon is the queue's `rankedScore` there, to the micropoint: rank + rate x
 * (submission + horizon), the same floating-point operations in the same order, rounded as
 * `Math.round` rounds a non-negative number (floor of x + 0.5, exact for x >= 1).
 */
const crossHorizonsSql = `UPDATE tasks INDEXED BY idx_tasks_priority_refresh SET priority_rank = floor((priority_rank + ? * (${submittedMs} + ?)) * 1e6 + 0.5) / 1e6,
    priority_starved = 1, priority_refresh_at = NULL
  WHERE priority_refresh_at <= ? AND deadline IS NULL AND priority_starved = 0 AND priority_rank IS NOT NULL
    AND ${submittedMs} + ? - ? <= ?`

export const makeClaims = (sql: Sql) => {
  const { all, get, pluck, stmt } = sql
  const claims = {
    /**
     * The head of each class of the claim order among READY tasks (a READY task without a rank
     * waits for its `notBefore` and is not claimable) (optionally of one agent
     * type): the best not yet starved and the best starved, by rank then age. The caller
     * compares the two at the current instant.
     */
    readyHeads: (agentType: string | null): Array<ReadyHead> =>
      // Both heads in one statement (a step less per claim), each one step down its index.
      (agentType === null ? all<ReadyHeadRow>(readyHeadsSql) : all<ReadyHeadRow>(readyHeadsOfTypeSql, agentType, agentType)).map((row) => ({
        id: row.id,
        rank: row.rank ?? Number.NEGATIVE_INFINITY,
        starved: row.starved === 1,
        submittedAt: row.submittedAt
      })),

    /** RUNNING tasks whose lease expired at or before `now`. */
    expiredLeases: (now: string): Array<string> =>
      // Named: without statistics the planner may read every RUNNING task (it did through the index schema v5 dropped).
      pluck(
        "SELECT id FROM tasks INDEXED BY idx_tasks_lease_expiry WHERE status = 'running' AND lease_expires_at <= ? ORDER BY lease_expires_at",
        now
      ),

    /**
     * The earliest `notBefore` of a READY task that waits for it (out of the claim order until a
     * refresh at that instant ranks it); null when none waits.
     */
    nextNotBefore: (): string | null =>
      get<{ at: string | null }>(
        "SELECT min(not_before) AS at FROM tasks INDEXED BY idx_tasks_not_before WHERE status = 'ready' AND priority_rank IS NULL"
      )?.at ?? null,

    /** The earliest lease expiry among RUNNING tasks. */
    nextLeaseExpiry: (): string | null =>
      // One step down the partial index; the planner's own choice read every RUNNING task.
      get<{ at: string | null }>("SELECT min(lease_expires_at) AS at FROM tasks INDEXED BY idx_tasks_lease_expiry WHERE status = 'running'")?.at ??
      null,

    /**
     * Tasks whose stored priority is due for a refresh at `at` (the earliest `limit`), with their stored rank.
     * Every claim runs it (0 rows almost always), so without a limit the SQL has no LIMIT clause: SQLite
     * (3.53) plans a `LIMIT ?` by its bound value and prepares such a statement again at each run
     * (~15 µs here, against ~3 µs for the query).
     */
    dueForRefresh: (at: string, limit?: number): Array<DueRefresh> =>
      (limit === undefined ? all<DueRefreshRow>(dueForRefreshSql, at) : all<DueRefreshRow>(`${dueForRefreshSql} LIMIT ?`, at, limit)).map((r) => ({
        ...r,
        starved: r.starved === 1
      })),

    /**
     * Moves every task without a deadline whose crossing of the starvation horizon is due (refresh
     * due, not starved, ranked, within `leadMs` of its horizon) into the starved class, its rank
     * its score at the horizon, in one statement; the number of tasks moved. The stored score
     * (calculated_priority) is left, as one crossing at a time leaves it.
     */
    crossHorizons: (c: HorizonCrossing): number => stmt(crossHorizonsSql).run(c.rate, c.horizonMs, c.at, c.horizonMs, c.leadMs, c.atMs).changes,

    /** Stores a task's computed priority, its place in the claim order and its next refresh time. */
    setPriority: (id: string, p: StoredPriority): void => {
      stmt("UPDATE tasks SET calculated_priority = ?, priority_rank = ?, priority_starved = ?, priority_refresh_at = ? WHERE id = ?").run(
        p.calculatedPriority,
        p.priorityRank,
        p.priorityStarved ? 1 : 0,
        p.priorityRefreshAt,
        id
      )
    }
  }
  return {
    ...claims,
    /**
     * A claim's first reads at `at` in one step (PostgreSQL answers them in one round trip; here
     * they are the three statements of `expiredLeases`, `dueForRefresh` and `readyHeads`).
     */
    claimOutlook: (at: string, agentType: string | null): ClaimOutlook => ({
      expired: claims.expiredLeases(at),
      // The earliest one only (a literal LIMIT): after a long idle every READY task may be due, and
      // the refresh reads them again anyway.
      due: all<DueRefreshRow>(`${dueForRefreshSql} LIMIT 1`, at).map((r) => ({ ...r, starved: r.starved === 1 })),
      heads: claims.readyHeads(agentType)
    })
  }
}
