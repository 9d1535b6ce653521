import type {
  ActivityMinute,
  AuditEntry,
  DependencyLink,
  DependencyType,
  OnFailure,
  SubtreeCounts,
  TaskDependency,
  TaskSource,
  TaskStatus
} from "@abathur/domain"
import type BetterSqlite3 from "better-sqlite3"
import { Context, Effect, Layer } from "effect"
import { Database } from "./Database.js"
import { classifyConstraint } from "./StorageError.js"
import {
  rowToTask,
  rowToTaskDependency,
  type StoredTask,
  TaskColumns,
  type TaskDependencyRow,
  type TaskPatch,
  type TaskRow,
  taskToRow
} from "./TaskRows.js"

/** A prerequisite or dependent seen from one task, with the other task's state. */
export interface Neighbour extends DependencyLink {
  readonly status: TaskStatus
  readonly depth: number
  /** Open strict descendants of the task at the other end. */
  readonly subtreeOpen: number
  /** FAILED or CANCELLED strict descendants of the task at the other end. */
  readonly subtreeBad: number
}

/** A task's state with its subtree counters (for the hierarchy rules). */
export interface SubtreeRow {
  readonly id: string
  readonly status: TaskStatus
  readonly subtree: SubtreeCounts
}

/** A task whose readiness gate may have changed: its facts for a READY score, and what the gate needs. */
export interface GateFacts extends RefreshFacts {
  readonly ancestorGated: boolean
  readonly hasUnresolved: boolean
  readonly hasChildren: boolean
}

interface GateFactsRow extends RefreshFacts {
  readonly ancestorGated: number
  readonly hasUnresolved: number
  readonly hasChildren: number
}

/** A plan submitted with an idempotency key: its fingerprint and its tasks by key. */
export interface PlanSubmission {
  readonly fingerprint: string
  readonly taskKeys: Readonly<Record<string, string>>
}

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
}

/** The priority columns a refresh writes. */
export interface StoredPriority {
  readonly calculatedPriority: number
  readonly priorityRank: number | null
  readonly priorityStarved: boolean
  readonly priorityRefreshAt: string | null
}

/** One audit record (a submission or a state change) and one minute of activity: the domain's answers. */
export type { ActivityMinute, AuditEntry } from "@abathur/domain"

export interface ListFilter {
  readonly statuses?: ReadonlyArray<TaskStatus>
  readonly excludeStatuses?: ReadonlyArray<TaskStatus>
  readonly source?: TaskSource
  readonly parentTaskId?: string
  /** Prompt or summary contains it (ASCII case-insensitive), or the id starts with it. */
  readonly text?: string
  readonly limit?: number
  /** Rows of the order to skip first (with `limit`). */
  readonly offset?: number
}

export interface StatusCounts {
  readonly byStatus: Readonly<Record<TaskStatus, number>>
  /** Sum of calculated priority per status. */
  readonly prioritySum: Readonly<Record<TaskStatus, number>>
  readonly maxOpenDepth: number | null
  readonly oldestWaitingAt: string | null
}

export interface Edge {
  readonly dependentTaskId: string
  readonly prerequisiteTaskId: string
  readonly dependencyType: DependencyType
  readonly onFailure: OnFailure
  readonly resolvedAt: string | null
}

const OPEN = "('pending', 'blocked', 'ready', 'running')"

/** A task as the waits-for graph sees it (`open`: 1 when not terminal, as SQLite answers). */
export interface WaitFactRow {
  readonly id: string
  readonly parentId: string | null
  readonly open: number
  readonly subtreeOpen: number
}

/** A task the waits-for graph reached; `waited`: 1 when its subtree is waited for (its `done`). */
export interface WaitRegionRow extends WaitFactRow {
  readonly waited: number
}

/** A status as an SQL literal, from the closed set of statuses (never text from outside). */
const STATUS_LITERALS: Readonly<Record<TaskStatus, string>> = {
  pending: "'pending'",
  blocked: "'blocked'",
  ready: "'ready'",
  running: "'running'",
  completed: "'completed'",
  failed: "'failed'",
  cancelled: "'cancelled'"
}
const statusLiteral = (status: TaskStatus): string => {
  const literal = Object.hasOwn(STATUS_LITERALS, status) ? STATUS_LITERALS[status] : undefined
  if (literal === undefined) throw new TypeError(`not a task status: ${JSON.stringify(status)}`)
  return literal
}

/** The columns of GateFacts over `tasks t`. */
const GATE_COLUMNS = `t.id, t.status, t.priority, t.source, t.deadline,
           t.estimated_duration_seconds AS estimatedDurationSeconds, t.submitted_at AS submittedAt, t.not_before AS notBefore,
           (SELECT count(*) FROM task_dependencies o JOIN tasks x ON x.id = o.dependent_task_id
             WHERE o.prerequisite_task_id = t.id AND o.resolved_at IS NULL AND x.status IN ${OPEN}) AS openDependents,
           t.ancestor_gated AS ancestorGated,
           EXISTS (SELECT 1 FROM task_dependencies u WHERE u.dependent_task_id = t.id AND u.resolved_at IS NULL) AS hasUnresolved,
           EXISTS (SELECT 1 FROM tasks c WHERE c.parent_task_id = t.id) AS hasChildren`

const gateFacts = (r: GateFactsRow): GateFacts => ({
  ...r,
  ancestorGated: r.ancestorGated === 1,
  hasUnresolved: r.hasUnresolved === 1,
  hasChildren: r.hasChildren === 1
})
/** SQLite allows 32766 bound parameters; stay well below for IN lists. */
const CHUNK = 500

const chunks = <A>(items: ReadonlyArray<A>): Array<ReadonlyArray<A>> => {
  const out: Array<ReadonlyArray<A>> = []
  for (let i = 0; i < items.length; i += CHUNK) out.push(items.slice(i, i + CHUNK))
  return out
}

const placeholders = (n: number) => Array.from({ length: n }, () => "?").join(", ")

/**
 * The task repository over better-sqlite3: rows in, models out, no business rules.
 * Every method is synchronous (better-sqlite3 is); the queue runs them inside `transaction`.
 * Statements are prepared once and reused.
 */
export const makeTaskRepository = (db: BetterSqlite3.Database) => {
  const cache = new Map<string, BetterSqlite3.Statement>()
  const stmt = (sql: string): BetterSqlite3.Statement => {
    let s = cache.get(sql)
    if (s === undefined) {
      s = db.prepare(sql)
      cache.set(sql, s)
    }
    return s
  }
  const all = <R>(sql: string, ...params: ReadonlyArray<unknown>) => stmt(sql).all(...params) as Array<R>
  const get = <R>(sql: string, ...params: ReadonlyArray<unknown>) => stmt(sql).get(...params) as R | undefined
  const pluck = (sql: string, ...params: ReadonlyArray<unknown>) =>
    (
      stmt(sql)
        .raw(true)
        .all(...params) as Array<Array<string>>
    ).map((r) => r[0]!)
  /** Runs a query with a long IN list in chunks and concatenates the results. */
  const inChunks = <R>(ids: ReadonlyArray<string>, sql: (ph: string) => string, run: (sql: string, ids: ReadonlyArray<string>) => Array<R>) => {
    const out: Array<R> = []
    for (const part of chunks(ids)) out.push(...run(sql(placeholders(part.length)), part))
    return out
  }

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

  const insertTaskSql = `INSERT INTO tasks (id, prompt, summary, agent_type, priority, status, input_data, result_data,
    error_message, retry_count, max_retries, max_execution_timeout_seconds, submitted_at, started_at, completed_at,
    last_updated_at, created_by, parent_task_id, session_id, source, dependency_type, calculated_priority, deadline,
    estimated_duration_seconds, dependency_depth, lease_token, lease_expires_at, worker_id, priority_refresh_at, cancelled_by,
    priority_rank, priority_starved, not_before, idempotency_key, idempotency_fingerprint, stall_count,
    retry_backoff_seconds, subtree_open, subtree_completed, subtree_failed, subtree_cancelled, ancestor_gated)
    VALUES (@id, @prompt, @summary, @agent_type, @priority, @status, @input_data, @result_data, @error_message,
    @retry_count, @max_retries, @max_execution_timeout_seconds, @submitted_at, @started_at, @completed_at,
    @last_updated_at, @created_by, @parent_task_id, @session_id, @source, @dependency_type, @calculated_priority,
    @deadline, @estimated_duration_seconds, @dependency_depth, @lease_token, @lease_expires_at, @worker_id,
    @priority_refresh_at, @cancelled_by, @priority_rank, @priority_starved, @not_before, @idempotency_key,
    @idempotency_fingerprint, @stall_count, @retry_backoff_seconds, @subtree_open, @subtree_completed, @subtree_failed,
    @subtree_cancelled, @ancestor_gated)`

  // Set-based inserts (a plan): the same columns as insertTaskSql, many rows per statement, in
  // blocks of 64, 32, ..., 1 rows so that at most seven statements of each kind are prepared.
  const insertTaskColumns = /INSERT INTO tasks \(([^)]*)\)/
    .exec(insertTaskSql)![1]!
    .split(",")
    .map((c) => c.trim()) as Array<keyof TaskRow>
  const insertMany = <A>(items: ReadonlyArray<A>, sqlFor: (rows: number) => string, values: (item: A, into: Array<unknown>) => void): void => {
    let i = 0
    for (let block = 64; block >= 1; block >>= 1) {
      while (items.length - i >= block) {
        const params: Array<unknown> = []
        for (let k = i; k < i + block; k++) values(items[k]!, params)
        stmt(sqlFor(block)).run(...params)
        i += block
      }
    }
  }
  const rowsOf = (columns: number, rows: number) => {
    const one = `(${placeholders(columns)})`
    return Array.from({ length: rows }, () => one).join(", ")
  }

  const neighbourSql = (near: "dependent_task_id" | "prerequisite_task_id", far: "dependent_task_id" | "prerequisite_task_id") =>
    `SELECT d.${far} AS taskId, d.dependency_type AS dependencyType, d.on_failure AS onFailure, d.resolved_at AS resolvedAt,
       t.status AS status, t.dependency_depth AS depth, t.subtree_open AS subtreeOpen,
       t.subtree_failed + t.subtree_cancelled AS subtreeBad
     FROM task_dependencies d JOIN tasks t ON t.id = d.${far}
     WHERE d.${near} = ? ORDER BY d.created_at, d.rowid`

  // One transaction function for every call: better-sqlite3 builds its wrappers per
  // `db.transaction(f)`, so wrapping each operation's closure anew costs on every call.
  const runner = db.transaction((f: () => unknown) => f())

  // Taking the write lock. SQLite's own busy handler sleeps 1, 2, 5, 10, ... ms between tries,
  // so processes sharing a file idle while the lock is already free (4 workers on one file
  // managed ~300 claims/s that way). Instead, try with no wait and back off from 50 µs, up to
  // the connection's busy timeout. The connection itself stays at busy_timeout 0 from here on
  // (this repository waits), so that a transaction costs BEGIN and COMMIT only, not two
  // PRAGMA statements around each lock as well.
  const busyTimeoutMs = Number(db.pragma("busy_timeout", { simple: true })) || 0
  db.pragma("busy_timeout = 0")
  const begin = db.prepare("BEGIN IMMEDIATE")
  const commit = db.prepare("COMMIT")
  const rollback = db.prepare("ROLLBACK")
  const sleeper = new Int32Array(new SharedArrayBuffer(4))
  /** Runs `f`, again after a short pause while SQLite answers busy, up to the busy timeout. */
  const patiently = <A>(f: () => A): A => {
    let pause = 0.05
    const deadline = Date.now() + busyTimeoutMs
    for (;;) {
      try {
        return f()
      } catch (error) {
        const code = (error as { code?: unknown }).code
        if (typeof code !== "string" || !code.startsWith("SQLITE_BUSY") || Date.now() >= deadline) throw error
        Atomics.wait(sleeper, 0, 0, pause * (0.5 + Math.random()))
        pause = Math.min(pause * 2, 2)
      }
    }
  }
  const lock = () => patiently(() => begin.run())

  /** PENDING tasks, as task_stats counts them (its triggers run in every write's transaction). */
  const pendingCount = (): number => get<{ n: number }>("SELECT task_count AS n FROM task_stats WHERE status = 'pending'")?.n ?? 1

  const repo = {
    /** Runs `f` in one `BEGIN IMMEDIATE` transaction (a savepoint when nested); rolls back on throw. */
    transaction: <A>(f: () => A): A => {
      if (db.inTransaction) return runner(f) as A
      lock()
      try {
        const result = f()
        commit.run()
        return result
      } catch (error) {
        if (db.inTransaction) rollback.run()
        throw error
      }
    },

    /** Runs `f` in a read transaction, so that its reads see one snapshot. */
    read: <A>(f: () => A): A => (db.inTransaction ? f() : patiently(() => runner.deferred(f) as A)),

    // ---- tasks -----------------------------------------------------------------------------

    insertTask: (task: StoredTask): void => {
      try {
        stmt(insertTaskSql).run(taskToRow(task))
      } catch (error) {
        throw classifyConstraint(error) ?? error
      }
    },

    /** Inserts many tasks (parents before children), several rows per statement. */
    insertTasks: (tasks: ReadonlyArray<StoredTask>): void => {
      try {
        insertMany(
          tasks,
          (n) => `INSERT INTO tasks (${insertTaskColumns.join(", ")}) VALUES ${rowsOf(insertTaskColumns.length, n)}`,
          (task, into) => {
            const row = taskToRow(task)
            for (const c of insertTaskColumns) into.push(row[c])
          }
        )
      } catch (error) {
        throw classifyConstraint(error) ?? error
      }
    },

    getTask: (id: string): StoredTask | null => {
      const row = get<TaskRow>("SELECT * FROM tasks WHERE id = ?", id)
      return row === undefined ? null : rowToTask(row)
    },

    /**
     * Tasks whose id starts with `prefix` (lower-case hex and dashes), at most `limit`, by id:
     * a range over the primary key (`id >= prefix AND id < successor`), never a scan.
     */
    idsWithPrefix: (prefix: string, limit: number): Array<{ id: string; summary: string }> => {
      const successor = prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1)
      return all<{ id: string; summary: string }>(
        "SELECT id, summary FROM tasks WHERE id >= ? AND id < ? ORDER BY id LIMIT ?",
        prefix,
        successor,
        limit
      )
    },

    getTasks: (ids: ReadonlyArray<string>): Array<StoredTask> =>
      inChunks(
        ids,
        (ph) => `SELECT * FROM tasks WHERE id IN (${ph})`,
        (sql, part) => all<TaskRow>(sql, ...part)
      ).map(rowToTask),

    /** Which of these ids exist, with their status and depth. */
    getStates: (ids: ReadonlyArray<string>): Map<string, { status: TaskStatus; depth: number; completedAt: string | null }> => {
      const rows = inChunks(
        ids,
        (ph) => `SELECT id, status, dependency_depth AS depth, completed_at AS completedAt FROM tasks WHERE id IN (${ph})`,
        (sql, part) => all<{ id: string; status: TaskStatus; depth: number; completedAt: string | null }>(sql, ...part)
      )
      return new Map(rows.map((r) => [r.id, { status: r.status, depth: r.depth, completedAt: r.completedAt }]))
    },

    /** Sets the given fields of a task. */
    updateTask: (id: string, patch: TaskPatch): void => {
      const keys = Object.keys(patch).sort() as Array<keyof TaskPatch>
      if (keys.length === 0) return
      const sql = `UPDATE tasks SET ${keys.map((k) => `${TaskColumns[k]} = ?`).join(", ")} WHERE id = ?`
      const values = keys.map((k) => {
        const v = patch[k]
        if (k === "resultData") return v === null || v === undefined ? null : JSON.stringify(v)
        return typeof v === "boolean" ? (v ? 1 : 0) : v
      })
      stmt(sql).run(...values, id)
    },

    deleteTasks: (ids: ReadonlyArray<string>): number => {
      let n = 0
      for (const part of chunks(ids)) n += stmt(`DELETE FROM tasks WHERE id IN (${placeholders(part.length)})`).run(...part).changes
      return n
    },

    /**
     * The head of each class of the claim order among READY tasks (a READY task without a rank
     * waits for its `notBefore` and is not claimable) (optionally of one agent
     * type): the best not yet starved and the best starved, by rank then age. The caller
     * compares the two at the current instant.
     */
    readyHeads: (agentType: string | null): Array<ReadyHead> => {
      const heads: Array<ReadyHead> = []
      for (const starved of [0, 1]) {
        const row =
          agentType === null
            ? get<ReadyHeadRow>(
                `SELECT id, priority_rank AS rank, submitted_at AS submittedAt FROM tasks INDEXED BY idx_tasks_ready_rank
                 WHERE status = 'ready' AND priority_starved = ? AND priority_rank IS NOT NULL
                 ORDER BY priority_rank DESC, submitted_at ASC LIMIT 1`,
                starved
              )
            : get<ReadyHeadRow>(
                `SELECT id, priority_rank AS rank, submitted_at AS submittedAt FROM tasks INDEXED BY idx_tasks_ready_agent_rank
                 WHERE status = 'ready' AND agent_type = ? AND priority_starved = ? AND priority_rank IS NOT NULL
                 ORDER BY priority_rank DESC, submitted_at ASC LIMIT 1`,
                agentType,
                starved
              )
        if (row !== undefined) heads.push({ ...row, rank: row.rank ?? Number.NEGATIVE_INFINITY, starved: starved === 1 })
      }
      return heads
    },

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

    /** Tasks whose stored priority is due for a refresh at `at` (the earliest `limit`), with their stored rank. */
    dueForRefresh: (at: string, limit?: number): Array<DueRefresh> =>
      all<DueRefreshRow>(
        `SELECT id, status, priority, source, deadline, estimated_duration_seconds AS estimatedDurationSeconds,
           submitted_at AS submittedAt, not_before AS notBefore, priority_rank AS rank, priority_starved AS starved
         FROM tasks WHERE priority_refresh_at <= ? ORDER BY priority_refresh_at LIMIT ?`,
        at,
        limit ?? -1
      ).map((r) => ({ ...r, starved: r.starved === 1 })),

    /** Stores a task's computed priority, its place in the claim order and its next refresh time. */
    setPriority: (id: string, p: StoredPriority): void => {
      stmt("UPDATE tasks SET calculated_priority = ?, priority_rank = ?, priority_starved = ?, priority_refresh_at = ? WHERE id = ?").run(
        p.calculatedPriority,
        p.priorityRank,
        p.priorityStarved ? 1 : 0,
        p.priorityRefreshAt,
        id
      )
    },

    /**
     * Tasks of one status, oldest first. Waiting and running ones come from their partial
     * indexes; PENDING (transient: nothing stays PENDING once the engine has opened the file)
     * is first counted in task_stats, so that opening a large database reads nothing when there
     * is none; finished ones are read from the table.
     */
    idsWithStatus: (status: TaskStatus): Array<string> => {
      switch (status) {
        case "ready":
          return pluck("SELECT id FROM tasks INDEXED BY idx_tasks_ready_submitted WHERE status = 'ready' ORDER BY submitted_at, rowid")
        case "blocked":
          return pluck("SELECT id FROM tasks INDEXED BY idx_tasks_blocked WHERE status = 'blocked' ORDER BY submitted_at, rowid")
        case "running":
          return pluck("SELECT id FROM tasks INDEXED BY idx_tasks_lease_expiry WHERE status = 'running' ORDER BY submitted_at, rowid")
        case "pending":
          return pendingCount() === 0 ? [] : pluck("SELECT id FROM tasks WHERE status = 'pending' ORDER BY submitted_at, rowid")
        default:
          return pluck("SELECT id FROM tasks WHERE status = ? ORDER BY submitted_at, rowid", status)
      }
    },

    /**
     * Every open task, oldest first, for the execution plan: READY, BLOCKED and RUNNING ones from
     * their partial indexes, PENDING ones (transient) from the table only when task_stats counts some.
     */
    openTaskIds: (): Array<string> =>
      pluck(
        `SELECT id FROM (
           SELECT id, submitted_at, rowid AS r FROM tasks INDEXED BY idx_tasks_ready_submitted WHERE status = 'ready'
           UNION ALL SELECT id, submitted_at, rowid FROM tasks INDEXED BY idx_tasks_blocked WHERE status = 'blocked'
           UNION ALL SELECT id, submitted_at, rowid FROM tasks INDEXED BY idx_tasks_lease_expiry WHERE status = 'running'
           ${pendingCount() === 0 ? "" : "UNION ALL SELECT id, submitted_at, rowid FROM tasks WHERE status = 'pending'"}
         ) ORDER BY submitted_at, r`
      ),

    listTasks: (filter: ListFilter): Array<StoredTask> => {
      const where: Array<string> = []
      const params: Array<unknown> = []
      if (filter.statuses && filter.statuses.length > 0) {
        // Constant SQL per status (a closed set), so that the planner can use the partial
        // indexes: READY through the seed's idx_tasks_ready_priority (already in list order),
        // BLOCKED through idx_tasks_blocked, RUNNING through idx_tasks_lease_expiry.
        const wanted = [...new Set(filter.statuses)].map(statusLiteral)
        where.push(wanted.length === 1 ? `status = ${wanted[0]}` : `status IN (${wanted.join(", ")})`)
      }
      if (filter.excludeStatuses && filter.excludeStatuses.length > 0) {
        where.push(`status NOT IN (${placeholders(filter.excludeStatuses.length)})`)
        params.push(...filter.excludeStatuses)
      }
      if (filter.source !== undefined) {
        where.push("source = ?")
        params.push(filter.source)
      }
      if (filter.parentTaskId !== undefined) {
        where.push("parent_task_id = ?")
        params.push(filter.parentTaskId)
      }
      if (filter.text !== undefined) {
        const escaped = filter.text.replace(/[\\%_]/g, (c) => `\\${c}`)
        where.push("(prompt LIKE ? ESCAPE '\\' OR summary LIKE ? ESCAPE '\\' OR id LIKE ? ESCAPE '\\')")
        params.push(`%${escaped}%`, `%${escaped}%`, `${escaped.toLowerCase()}%`)
      }
      const filtered = where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""
      const order = "ORDER BY calculated_priority DESC, submitted_at ASC, rowid ASC"
      if (filter.limit === undefined && filter.offset === undefined) {
        return all<TaskRow>(`SELECT * FROM tasks ${filtered} ${order}`, ...params).map(rowToTask)
      }
      // A page: the order is found over the few columns it needs, then only the page's rows are read
      // whole (at 100k tasks a deep page costs one pass over narrow columns, not 100k decoded rows).
      params.push(filter.limit ?? -1, filter.offset ?? 0)
      return all<TaskRow>(
        `SELECT * FROM tasks WHERE rowid IN (SELECT rowid FROM tasks ${filtered} ${order} LIMIT ? OFFSET ?) ${order}`,
        ...params
      ).map(rowToTask)
    },

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
        `SELECT task_id AS taskId, from_status AS fromStatus, to_status AS toStatus, at, actor, reason
         FROM task_audit WHERE id >= ? AND at >= ?
           AND (to_status = 'failed' OR (from_status = 'running' AND to_status = 'ready' AND reason LIKE 'attempt failed%'))
         ORDER BY id DESC LIMIT ?`,
        firstAuditIdSince(since),
        since,
        limit
      ),

    /** Counts and sums per status (kept by triggers), deepest open task, oldest waiting task. */
    statusCounts: (): StatusCounts => {
      const rows = all<{ status: TaskStatus; task_count: number; priority_sum: number }>("SELECT status, task_count, priority_sum FROM task_stats")
      const byStatus = { pending: 0, blocked: 0, ready: 0, running: 0, completed: 0, failed: 0, cancelled: 0 }
      const prioritySum = { ...byStatus }
      for (const r of rows) {
        byStatus[r.status] = r.task_count
        prioritySum[r.status] = r.priority_sum
      }
      // The partial index (open tasks with prerequisites) answers max() with one lookup; without
      // one, the deepest open task is at depth 0 when task_stats counts any open task.
      const deeper =
        get<{ d: number | null }>(
          `SELECT max(dependency_depth) AS d FROM tasks INDEXED BY idx_tasks_open_depth WHERE status IN ${OPEN} AND dependency_depth > 0`
        )?.d ?? null
      const open = byStatus.pending + byStatus.blocked + byStatus.ready + byStatus.running
      const depth = { d: deeper ?? (open > 0 ? 0 : null) }
      // One step each: the planner's own choice for READY scans idx_tasks_ready_priority.
      const oldestReady =
        get<{ at: string | null }>("SELECT min(submitted_at) AS at FROM tasks INDEXED BY idx_tasks_ready_submitted WHERE status = 'ready'")?.at ??
        null
      const oldestBlocked =
        get<{ at: string | null }>("SELECT min(submitted_at) AS at FROM tasks INDEXED BY idx_tasks_blocked WHERE status = 'blocked'")?.at ?? null
      const oldest = [oldestReady, oldestBlocked].filter((x): x is string => x !== null).sort()[0] ?? null
      return { byStatus, prioritySum, maxOpenDepth: depth?.d ?? null, oldestWaitingAt: oldest }
    },

    // ---- hierarchy -------------------------------------------------------------------------

    childIds: (parentId: string): Array<string> => pluck("SELECT id FROM tasks WHERE parent_task_id = ? ORDER BY submitted_at, rowid", parentId),

    countChildren: (parentId: string): number => get<{ n: number }>("SELECT count(*) AS n FROM tasks WHERE parent_task_id = ?", parentId)!.n,

    rootIds: (): Array<string> => pluck("SELECT id FROM tasks WHERE parent_task_id IS NULL ORDER BY submitted_at, rowid"),

    /** Parent-child pairs whose parent is one of `ids`. */
    childrenOfMany: (ids: ReadonlyArray<string>): Array<{ id: string; parentId: string }> =>
      inChunks(
        ids,
        (ph) => `SELECT id, parent_task_id AS parentId FROM tasks WHERE parent_task_id IN (${ph})`,
        (sql, part) => all<{ id: string; parentId: string }>(sql, ...part)
      ),

    // ---- dependencies ----------------------------------------------------------------------

    insertDependency: (dep: TaskDependency): void => {
      try {
        stmt(
          `INSERT INTO task_dependencies (id, dependent_task_id, prerequisite_task_id, dependency_type, created_at, resolved_at, on_failure)
           VALUES (?, ?, ?, ?, ?, ?, ?)`
        ).run(dep.id, dep.dependentTaskId, dep.prerequisiteTaskId, dep.dependencyType, dep.createdAt, dep.resolvedAt, dep.onFailure)
      } catch (error) {
        throw classifyConstraint(error) ?? error
      }
    },

    /** Inserts many dependencies, several rows per statement. */
    insertDependencies: (deps: ReadonlyArray<TaskDependency>): void => {
      try {
        insertMany(
          deps,
          (n) =>
            `INSERT INTO task_dependencies (id, dependent_task_id, prerequisite_task_id, dependency_type, created_at, resolved_at, on_failure) VALUES ${rowsOf(7, n)}`,
          (dep, into) =>
            void into.push(dep.id, dep.dependentTaskId, dep.prerequisiteTaskId, dep.dependencyType, dep.createdAt, dep.resolvedAt, dep.onFailure)
        )
      } catch (error) {
        throw classifyConstraint(error) ?? error
      }
    },

    /** Every dependency of a task (its prerequisites), oldest first. */
    getTaskDependencies: (taskId: string): Array<TaskDependency> =>
      all<TaskDependencyRow>("SELECT * FROM task_dependencies WHERE dependent_task_id = ? ORDER BY created_at ASC, rowid ASC", taskId).map(
        rowToTaskDependency
      ),

    hasDependency: (dependentId: string, prerequisiteId: string): boolean =>
      get("SELECT 1 FROM task_dependencies WHERE dependent_task_id = ? AND prerequisite_task_id = ?", dependentId, prerequisiteId) !== undefined,

    /** Marks every open dependency on a prerequisite resolved; returns the dependents it named. */
    resolveDependency: (prerequisiteId: string, at: string): Array<string> =>
      pluck(
        "UPDATE task_dependencies SET resolved_at = ? WHERE prerequisite_task_id = ? AND resolved_at IS NULL RETURNING dependent_task_id",
        at,
        prerequisiteId
      ),

    /**
     * The dependents whose last open prerequisite was resolved at `at` by this prerequisite:
     * BLOCKED (or PENDING) with no unresolved prerequisite left, with the facts their
     * priority needs. One query for the whole fan-out.
     */
    unblockedBy: (prerequisiteId: string, at: string): Array<RefreshFacts> =>
      all<RefreshFacts>(
        `SELECT t.id, t.status, t.priority, t.source, t.deadline,
           t.estimated_duration_seconds AS estimatedDurationSeconds, t.submitted_at AS submittedAt, t.not_before AS notBefore,
           (SELECT count(*) FROM task_dependencies o JOIN tasks x ON x.id = o.dependent_task_id
             WHERE o.prerequisite_task_id = t.id AND o.resolved_at IS NULL AND x.status IN ${OPEN}) AS openDependents
         FROM task_dependencies d JOIN tasks t ON t.id = d.dependent_task_id
         WHERE d.prerequisite_task_id = ? AND d.resolved_at = ? AND t.status IN ('blocked', 'pending')
           AND NOT EXISTS (SELECT 1 FROM task_dependencies u WHERE u.dependent_task_id = t.id AND u.resolved_at IS NULL)
         ORDER BY d.rowid`,
        prerequisiteId,
        at
      ),

    /**
     * Resolves the open edges on a prerequisite (only its `ignore` edges with `ignoreOnly`);
     * returns the dependents they named.
     */
    resolveEdges: (prerequisiteId: string, at: string, ignoreOnly: boolean): Array<string> =>
      ignoreOnly
        ? pluck(
            `UPDATE task_dependencies SET resolved_at = ? WHERE prerequisite_task_id = ? AND resolved_at IS NULL
             AND on_failure = 'ignore' RETURNING dependent_task_id`,
            at,
            prerequisiteId
          )
        : pluck(
            "UPDATE task_dependencies SET resolved_at = ? WHERE prerequisite_task_id = ? AND resolved_at IS NULL RETURNING dependent_task_id",
            at,
            prerequisiteId
          ),

    /** Opens again the resolved edges on a prerequisite whose dependents have not started; returns those dependents. */
    unresolveEdges: (prerequisiteId: string): Array<string> =>
      pluck(
        `UPDATE task_dependencies SET resolved_at = NULL WHERE prerequisite_task_id = ? AND resolved_at IS NOT NULL
         AND (SELECT status FROM tasks WHERE id = dependent_task_id) IN ('pending', 'blocked', 'ready')
         RETURNING dependent_task_id`,
        prerequisiteId
      ),

    /** Sets one edge's resolution time (null: open). */
    setEdgeResolved: (dependentId: string, prerequisiteId: string, resolvedAt: string | null): void => {
      stmt("UPDATE task_dependencies SET resolved_at = ? WHERE dependent_task_id = ? AND prerequisite_task_id = ?").run(
        resolvedAt,
        dependentId,
        prerequisiteId
      )
    },

    /** Deletes the edge `dependent -> prerequisite`; returns it, or null when there was none. */
    deleteDependency: (dependentId: string, prerequisiteId: string): { resolvedAt: string | null } | null =>
      get<{ resolvedAt: string | null }>(
        "DELETE FROM task_dependencies WHERE dependent_task_id = ? AND prerequisite_task_id = ? RETURNING resolved_at AS resolvedAt",
        dependentId,
        prerequisiteId
      ) ?? null,

    /** The task has an unresolved prerequisite edge. */
    hasUnresolved: (taskId: string): boolean =>
      get("SELECT 1 FROM task_dependencies WHERE dependent_task_id = ? AND resolved_at IS NULL LIMIT 1", taskId) !== undefined,

    /** How many unresolved prerequisite edges the task has. */
    countUnresolved: (taskId: string): number =>
      get<{ n: number }>("SELECT count(*) AS n FROM task_dependencies WHERE dependent_task_id = ? AND resolved_at IS NULL", taskId)!.n,

    /** What the readiness gate of these tasks needs, with their facts for a score (one query). */
    gateFacts: (ids: ReadonlyArray<string>): Array<GateFacts> =>
      inChunks(
        ids,
        (ph) => `SELECT ${GATE_COLUMNS} FROM tasks t WHERE t.id IN (${ph})`,
        (sql, part) => all<GateFactsRow>(sql, ...part)
      ).map(gateFacts),

    /**
     * Sets `ancestor_gated` of a task's children (to the parent's gate) and returns them with
     * what their own gate needs.
     */
    gateChildren: (parentId: string, gated: boolean): Array<GateFacts> => {
      stmt("UPDATE tasks SET ancestor_gated = ? WHERE parent_task_id = ?").run(gated ? 1 : 0, parentId)
      return all<GateFactsRow>(`SELECT ${GATE_COLUMNS} FROM tasks t WHERE t.parent_task_id = ? ORDER BY t.submitted_at, t.rowid`, parentId).map(
        gateFacts
      )
    },

    /**
     * Adds `delta` to the subtree counters of a task and each of its ancestors (a parent link
     * cycle in legacy data is walked once); returns their rows after the change.
     */
    adjustSubtree: (fromId: string, delta: SubtreeCounts): Array<SubtreeRow> =>
      all<{ id: string; status: TaskStatus; o: number; c: number; f: number; x: number }>(
        `WITH RECURSIVE anc(id) AS (
           SELECT ? UNION SELECT t.parent_task_id FROM anc JOIN tasks t ON t.id = anc.id WHERE t.parent_task_id IS NOT NULL
         )
         UPDATE tasks SET subtree_open = subtree_open + ?, subtree_completed = subtree_completed + ?,
           subtree_failed = subtree_failed + ?, subtree_cancelled = subtree_cancelled + ?
         WHERE id IN (SELECT id FROM anc)
         RETURNING id, status, subtree_open AS o, subtree_completed AS c, subtree_failed AS f, subtree_cancelled AS x`,
        fromId,
        delta.open,
        delta.completed,
        delta.failed,
        delta.cancelled
      ).map((r) => ({ id: r.id, status: r.status, subtree: { open: r.o, completed: r.c, failed: r.f, cancelled: r.x } })),

    /** Children of a task with their status and open descendants (for cascades). */
    childStates: (parentId: string): Array<{ id: string; status: TaskStatus; subtreeOpen: number }> =>
      all<{ id: string; status: TaskStatus; subtreeOpen: number }>(
        "SELECT id, status, subtree_open AS subtreeOpen FROM tasks WHERE parent_task_id = ? ORDER BY submitted_at, rowid",
        parentId
      ),

    /** CANCELLED tasks whose cancellation this task's failure or cancellation caused. */
    cancelledBy: (causeId: string): Array<string> =>
      pluck("SELECT id FROM tasks WHERE cancelled_by = ? AND status = 'cancelled' ORDER BY last_updated_at, rowid", causeId),

    /** The task submitted with this idempotency key, if any. */
    taskByIdempotencyKey: (key: string): StoredTask | null => {
      const row = get<TaskRow>("SELECT * FROM tasks WHERE idempotency_key = ?", key)
      return row === undefined ? null : rowToTask(row)
    },

    /** Which of these idempotency keys name a task already (key -> task id). */
    idempotencyKeysTaken: (keys: ReadonlyArray<string>): Map<string, string> =>
      new Map(
        inChunks(
          keys,
          (ph) => `SELECT idempotency_key AS k, id FROM tasks WHERE idempotency_key IN (${ph})`,
          (sql, part) => all<{ k: string; id: string }>(sql, ...part)
        ).map((r) => [r.k, r.id])
      ),

    getPlanSubmission: (key: string): PlanSubmission | null => {
      const row = get<{ fingerprint: string; task_keys: string }>(
        "SELECT fingerprint, task_keys FROM plan_submissions WHERE idempotency_key = ?",
        key
      )
      return row === undefined ? null : { fingerprint: row.fingerprint, taskKeys: JSON.parse(row.task_keys) as Record<string, string> }
    },

    insertPlanSubmission: (key: string, submission: PlanSubmission, at: string): void => {
      stmt("INSERT INTO plan_submissions (idempotency_key, fingerprint, task_keys, created_at) VALUES (?, ?, ?, ?)").run(
        key,
        submission.fingerprint,
        JSON.stringify(submission.taskKeys),
        at
      )
    },

    /** A task's prerequisites with their state. */
    prerequisitesOf: (taskId: string): Array<Neighbour> => all<Neighbour>(neighbourSql("dependent_task_id", "prerequisite_task_id"), taskId),

    /** A task's dependents with their state. */
    dependentsOf: (taskId: string): Array<Neighbour> => all<Neighbour>(neighbourSql("prerequisite_task_id", "dependent_task_id"), taskId),

    /** Ids and depths of a task's prerequisites (for the cycle check). */
    prerequisiteDepths: (taskId: string): Array<{ id: string; depth: number }> =>
      all<{ id: string; depth: number }>(
        `SELECT d.prerequisite_task_id AS id, t.dependency_depth AS depth FROM task_dependencies d
         JOIN tasks t ON t.id = d.prerequisite_task_id WHERE d.dependent_task_id = ?`,
        taskId
      ),

    countPrerequisites: (dependentId: string): number =>
      get<{ n: number }>("SELECT count(*) AS n FROM task_dependencies WHERE dependent_task_id = ?", dependentId)!.n,

    /** Open tasks that directly wait on this one (the priority's dependency factor). */
    countOpenDependents: (prerequisiteId: string): number =>
      get<{ n: number }>(
        `SELECT count(*) AS n FROM task_dependencies d JOIN tasks t ON t.id = d.dependent_task_id
         WHERE d.prerequisite_task_id = ? AND d.resolved_at IS NULL AND t.status IN ${OPEN}`,
        prerequisiteId
      )!.n,

    /** Every edge whose both ends are among `ids`. */
    edgesAmong: (ids: ReadonlyArray<string>): Array<Edge> => {
      const set = new Set(ids)
      return inChunks(
        ids,
        (ph) =>
          `SELECT dependent_task_id AS dependentTaskId, prerequisite_task_id AS prerequisiteTaskId,
             dependency_type AS dependencyType, on_failure AS onFailure, resolved_at AS resolvedAt
           FROM task_dependencies WHERE dependent_task_id IN (${ph})`,
        (sql, part) => all<Edge>(sql, ...part)
      ).filter((e) => set.has(e.prerequisiteTaskId))
    },

    /** Dependents (through any edge) of these tasks. */
    dependentsOfMany: (ids: ReadonlyArray<string>): Array<Edge> =>
      inChunks(
        ids,
        (ph) =>
          `SELECT dependent_task_id AS dependentTaskId, prerequisite_task_id AS prerequisiteTaskId,
             dependency_type AS dependencyType, on_failure AS onFailure, resolved_at AS resolvedAt
           FROM task_dependencies WHERE prerequisite_task_id IN (${ph})`,
        (sql, part) => all<Edge>(sql, ...part)
      ),

    // ---- the waits-for graph (deadlock check, execution plan) --------------------------------

    /**
     * Every task the waits-for graph reaches from the gates of `gateIds` (domain Waits.ts: a gate
     * waits for its parent's gate and, while open, for the subtrees of its unresolved edges'
     * prerequisites; a subtree for its open root's gate and its children with open work), with
     * their facts: one recursive query. `declared`: the graph of what may wait again, for the
     * deadlock check: every task not COMPLETED counts as open (a running task may be released, a
     * failed one retried, a cancelled one revived) and every edge of such a task as unresolved.
     */
    waitRegion: (gateIds: ReadonlyArray<string>, declared: boolean): Array<WaitRegionRow> => {
      const live = (t: string) => (declared ? `${t}.status <> 'completed'` : `${t}.status IN ${OPEN}`)
      const below = (t: string) => (declared ? `(${t}.subtree_open + ${t}.subtree_failed + ${t}.subtree_cancelled)` : `${t}.subtree_open`)
      return all<WaitRegionRow>(
        `WITH RECURSIVE r(k, id) AS (
           SELECT 'g', value FROM json_each(?)
           UNION
           SELECT 'g', t.parent_task_id FROM r JOIN tasks t ON t.id = r.id WHERE r.k = 'g' AND t.parent_task_id IS NOT NULL
           UNION
           SELECT 'd', d.prerequisite_task_id FROM r JOIN tasks t ON t.id = r.id
             JOIN task_dependencies d ON d.dependent_task_id = r.id${declared ? "" : " AND d.resolved_at IS NULL"}
             WHERE r.k = 'g' AND ${live("t")}
           UNION
           SELECT 'g', r.id FROM r JOIN tasks t ON t.id = r.id WHERE r.k = 'd' AND ${live("t")}
           UNION
           SELECT 'd', c.id FROM r JOIN tasks t ON t.id = r.id JOIN tasks c ON c.parent_task_id = r.id
             WHERE r.k = 'd' AND ${below("t")} > 0 AND (${live("c")} OR ${below("c")} > 0)
         )
         SELECT t.id, t.parent_task_id AS parentId, ${live("t")} AS open, ${below("t")} AS subtreeOpen, x.waited
         FROM (SELECT id, max(k = 'd') AS waited FROM r GROUP BY id) x JOIN tasks t ON t.id = x.id`,
        JSON.stringify(gateIds)
      )
    },

    /**
     * Whether any subtask is not COMPLETED: without one, the waits-for graph is the dependency
     * graph alone (the hierarchy adds nothing to wait for), and its plain checks suffice. (The
     * planner would scan the table; the parent index reads only the subtasks.)
     */
    anyLiveSubtask: (): boolean =>
      get<{ n: number }>(
        "SELECT EXISTS (SELECT 1 FROM tasks INDEXED BY idx_tasks_parent WHERE parent_task_id IS NOT NULL AND status <> 'completed') AS n"
      )!.n === 1,

    /** The unresolved edges (`declared`: all the edges) whose dependent is one of these tasks. */
    waitEdgesOf: (ids: ReadonlyArray<string>, declared: boolean): Array<{ dependentId: string; prerequisiteId: string }> =>
      inChunks(
        ids,
        (ph) =>
          `SELECT dependent_task_id AS dependentId, prerequisite_task_id AS prerequisiteId FROM task_dependencies
           WHERE dependent_task_id IN (${ph})${declared ? "" : " AND resolved_at IS NULL"}`,
        (sql, part) => all<{ dependentId: string; prerequisiteId: string }>(sql, ...part)
      ),

    // ---- audit -----------------------------------------------------------------------------

    /** Records many entries, several rows per statement. */
    insertAudits: (entries: ReadonlyArray<AuditEntry>): void =>
      insertMany(
        entries,
        (n) => `INSERT INTO task_audit (task_id, from_status, to_status, at, actor, reason) VALUES ${rowsOf(6, n)}`,
        (e, into) => void into.push(e.taskId, e.fromStatus, e.toStatus, e.at, e.actor, e.reason)
      ),

    insertAudit: (entry: AuditEntry): void => {
      stmt("INSERT INTO task_audit (task_id, from_status, to_status, at, actor, reason) VALUES (?, ?, ?, ?, ?, ?)").run(
        entry.taskId,
        entry.fromStatus,
        entry.toStatus,
        entry.at,
        entry.actor,
        entry.reason
      )
    },

    auditOf: (taskId: string): Array<AuditEntry> =>
      all<AuditEntry>(
        `SELECT task_id AS taskId, from_status AS fromStatus, to_status AS toStatus, at, actor, reason
         FROM task_audit WHERE task_id = ? ORDER BY id`,
        taskId
      ),

    // ---- pruning ---------------------------------------------------------------------------

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

    // ---- checks ----------------------------------------------------------------------------

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
  return repo
}

export type TaskStore = ReturnType<typeof makeTaskRepository>

/** The task repository as an Effect service. */
export class TaskRepository extends Context.Tag("@abathur/storage/TaskRepository")<TaskRepository, TaskStore>() {
  static readonly make = Effect.map(Database, (handle) => makeTaskRepository(handle.db))
  static readonly layer: Layer.Layer<TaskRepository, never, Database> = Layer.effect(TaskRepository, TaskRepository.make)
}
