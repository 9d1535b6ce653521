import type { SubtreeCounts, TaskDependency, TaskStatus } from "@abathur/domain"
import {
  type ActivityMinute,
  type AuditEntry,
  ConstraintViolation,
  type DueRefresh,
  type Edge,
  type GateFacts,
  type ListFilter,
  type Neighbour,
  type PlanSubmission,
  type ReadyHead,
  rowToTask,
  type StatusCounts,
  type StoredPriority,
  type StoredTask,
  type SubtreeRow,
  TaskColumns,
  type TaskPatch,
  type WaitRegionRow,
  type TaskRow,
  taskToRow
} from "@abathur/storage"
import type { QueryResult } from "pg"
import type { Queryable, Step, StoreSteps } from "./Step.js"

const OPEN = "('pending', 'blocked', 'ready', 'running')"

/** A `tasks` row as node-postgres returns it (booleans where SQLite has 0/1, plus `seq`). */
type PgTaskRow = Omit<TaskRow, "priority_starved" | "ancestor_gated"> & {
  readonly priority_starved: boolean
  readonly ancestor_gated: boolean
}

/** Maps a `tasks` row to the model, through the SQLite mapper (one mapping for both stores). */
export const pgRowToTask = (row: PgTaskRow): StoredTask =>
  rowToTask({ ...row, priority_starved: row.priority_starved ? 1 : 0, ancestor_gated: row.ancestor_gated ? 1 : 0 })

/** The column values of a task for `json_populate_recordset` (booleans as booleans). */
const taskToPgRow = (task: StoredTask) => ({
  ...taskToRow(task),
  priority_starved: task.priorityStarved,
  ancestor_gated: task.ancestorGated
})

const TASK_COLUMNS = Object.keys(taskToRow({ subtree: {} } as StoredTask)).join(", ")

/** The columns of GateFacts over `tasks t`. */
const GATE_COLUMNS = `t.id, t.status, t.priority, t.source, t.deadline,
  t.estimated_duration_seconds AS "estimatedDurationSeconds", t.submitted_at AS "submittedAt", t.not_before AS "notBefore",
  (SELECT count(*) FROM task_dependencies o JOIN tasks x ON x.id = o.dependent_task_id
    WHERE o.prerequisite_task_id = t.id AND o.resolved_at IS NULL AND x.status IN ${OPEN})::integer AS "openDependents",
  t.ancestor_gated AS "ancestorGated",
  EXISTS (SELECT 1 FROM task_dependencies u WHERE u.dependent_task_id = t.id AND u.resolved_at IS NULL) AS "hasUnresolved",
  EXISTS (SELECT 1 FROM tasks c WHERE c.parent_task_id = t.id) AS "hasChildren"`

const EDGE_COLUMNS = `dependent_task_id AS "dependentTaskId", prerequisite_task_id AS "prerequisiteTaskId",
  dependency_type AS "dependencyType", on_failure AS "onFailure", resolved_at AS "resolvedAt"`

const AUDIT_COLUMNS = `task_id AS "taskId", from_status AS "fromStatus", to_status AS "toStatus", at, actor, reason`

const neighbourSql = (near: "dependent_task_id" | "prerequisite_task_id", far: "dependent_task_id" | "prerequisite_task_id") =>
  `SELECT d.${far} AS "taskId", d.dependency_type AS "dependencyType", d.on_failure AS "onFailure", d.resolved_at AS "resolvedAt",
     t.status AS status, t.dependency_depth AS depth, t.subtree_open AS "subtreeOpen",
     t.subtree_failed + t.subtree_cancelled AS "subtreeBad"
   FROM task_dependencies d JOIN tasks t ON t.id = d.${far}
   WHERE d.${near} = $1 ORDER BY d.created_at, d.seq`

/** Classifies a PostgreSQL constraint error as the SQLite repository does, or returns null. */
export const classifyPgConstraint = (error: unknown): ConstraintViolation | null => {
  if (!(error instanceof Error)) return null
  const { code, constraint } = error as { code?: unknown; constraint?: unknown }
  const kind =
    code === "23503"
      ? "missing-task"
      : code === "23505"
        ? constraint === "task_dependencies_pair"
          ? "duplicate-dependency"
          : "duplicate-task"
        : code === "23514"
          ? constraint === "task_dependencies_not_self"
            ? "self-dependency"
            : "check"
          : null
  return kind === null ? null : new ConstraintViolation({ kind, message: error.message })
}

/**
 * The task repository over one PostgreSQL connection, as store steps: each method is a generator
 * that yields the driver's query promises and returns what the SQLite repository's method of the
 * same name returns (same arguments, same models). Build one per transaction (it holds the
 * transaction's client); the driver (Transaction.ts) runs the rule that uses it.
 */
export class PgTaskRepository implements StoreSteps {
  constructor(readonly client: Queryable) {}

  /** The rows of one statement. */
  *rows<R>(sql: string, params: ReadonlyArray<unknown> = []): Step<Array<R>> {
    const res = (yield this.client.query(sql, params as Array<unknown>)) as QueryResult
    return res.rows as Array<R>
  }

  *one<R>(sql: string, params: ReadonlyArray<unknown> = []): Step<R | undefined> {
    return (yield* this.rows<R>(sql, params))[0]
  }

  *run(sql: string, params: ReadonlyArray<unknown> = []): Step<number> {
    const res = (yield this.client.query(sql, params as Array<unknown>)) as QueryResult
    return res.rowCount ?? 0
  }

  /** A statement whose constraint errors become ConstraintViolation. */
  *guarded(sql: string, params: ReadonlyArray<unknown>): Step<void> {
    try {
      yield this.client.query(sql, params as Array<unknown>)
    } catch (error) {
      throw classifyPgConstraint(error) ?? error
    }
  }

  *ids(sql: string, params: ReadonlyArray<unknown> = []): Step<Array<string>> {
    return (yield* this.rows<{ id: string }>(sql, params)).map((r) => r.id)
  }

  // ---- tasks -------------------------------------------------------------------------------

  *insertTask(task: StoredTask): Step<void> {
    yield* this.insertTasks([task])
  }

  /** Inserts many tasks (parents before children) in one statement. */
  *insertTasks(tasks: ReadonlyArray<StoredTask>): Step<void> {
    if (tasks.length === 0) return
    yield* this.guarded(`INSERT INTO tasks (${TASK_COLUMNS}) SELECT ${TASK_COLUMNS} FROM json_populate_recordset(NULL::tasks, $1::json)`, [
      JSON.stringify(tasks.map(taskToPgRow))
    ])
  }

  *getTask(id: string): Step<StoredTask | null> {
    const row = yield* this.one<PgTaskRow>("SELECT * FROM tasks WHERE id = $1", [id])
    return row === undefined ? null : pgRowToTask(row)
  }

  /** Tasks whose id starts with `prefix`, at most `limit`, by id: a range over the primary key. */
  *idsWithPrefix(prefix: string, limit: number): Step<Array<{ id: string; summary: string }>> {
    const successor = prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1)
    return yield* this.rows<{ id: string; summary: string }>("SELECT id, summary FROM tasks WHERE id >= $1 AND id < $2 ORDER BY id LIMIT $3", [
      prefix,
      successor,
      limit
    ])
  }

  *getTasks(ids: ReadonlyArray<string>): Step<Array<StoredTask>> {
    if (ids.length === 0) return []
    return (yield* this.rows<PgTaskRow>("SELECT * FROM tasks WHERE id = ANY($1::text[])", [ids])).map(pgRowToTask)
  }

  /** Sets the given fields of a task. */
  *updateTask(id: string, patch: TaskPatch): Step<void> {
    const keys = Object.keys(patch).sort() as Array<keyof TaskPatch>
    if (keys.length === 0) return
    const sql = `UPDATE tasks SET ${keys.map((k, i) => `${TaskColumns[k]} = $${i + 1}`).join(", ")} WHERE id = $${keys.length + 1}`
    const values = keys.map((k) => {
      const v = patch[k]
      if (k === "resultData") return v === null || v === undefined ? null : JSON.stringify(v)
      return v
    })
    yield* this.run(sql, [...values, id])
  }

  *deleteTasks(ids: ReadonlyArray<string>): Step<number> {
    if (ids.length === 0) return 0
    return yield* this.run("DELETE FROM tasks WHERE id = ANY($1::text[])", [ids])
  }

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

  /** Tasks whose stored priority is due for a refresh at `at` (the earliest `limit`), with their stored rank. */
  *dueForRefresh(at: string, limit?: number): Step<Array<DueRefresh>> {
    return yield* this.rows<DueRefresh>(
      `SELECT id, status, priority, source, deadline, estimated_duration_seconds AS "estimatedDurationSeconds",
         submitted_at AS "submittedAt", not_before AS "notBefore", priority_rank AS rank, priority_starved AS starved
       FROM tasks WHERE priority_refresh_at <= $1 ORDER BY priority_refresh_at LIMIT $2`,
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

  *idsWithStatus(status: TaskStatus): Step<Array<string>> {
    return yield* this.ids("SELECT id FROM tasks WHERE status = $1 ORDER BY submitted_at, seq", [status])
  }

  /** Every open task, for the execution plan. */
  *openTaskIds(): Step<Array<string>> {
    return yield* this.ids(`SELECT id FROM tasks WHERE status IN ${OPEN} ORDER BY submitted_at, seq`)
  }

  *listTasks(filter: ListFilter): Step<Array<StoredTask>> {
    const where: Array<string> = []
    const params: Array<unknown> = []
    const p = (v: unknown) => {
      params.push(v)
      return `$${params.length}`
    }
    if (filter.statuses && filter.statuses.length > 0) where.push(`status = ANY(${p(filter.statuses)}::text[])`)
    if (filter.excludeStatuses && filter.excludeStatuses.length > 0) where.push(`status <> ALL(${p(filter.excludeStatuses)}::text[])`)
    if (filter.source !== undefined) where.push(`source = ${p(filter.source)}`)
    if (filter.parentTaskId !== undefined) where.push(`parent_task_id = ${p(filter.parentTaskId)}`)
    if (filter.text !== undefined) {
      const escaped = filter.text.replace(/[\\%_]/g, (c) => `\\${c}`)
      const contains = p(`%${escaped}%`)
      where.push(`(prompt ILIKE ${contains} OR summary ILIKE ${contains} OR id LIKE ${p(`${escaped.toLowerCase()}%`)})`)
    }
    const filtered = where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""
    const order = "ORDER BY calculated_priority DESC, submitted_at ASC, seq ASC"
    const page = filter.limit === undefined && filter.offset === undefined ? "" : `LIMIT ${p(filter.limit ?? null)} OFFSET ${p(filter.offset ?? 0)}`
    return (yield* this.rows<PgTaskRow>(`SELECT * FROM tasks ${filtered} ${order} ${page}`, params)).map(pgRowToTask)
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
      `SELECT ${AUDIT_COLUMNS} FROM task_audit WHERE at >= $1
         AND (to_status = 'failed' OR (from_status = 'running' AND to_status = 'ready' AND reason LIKE 'attempt failed%'))
       ORDER BY id DESC LIMIT $2`,
      [since, limit]
    )
  }

  /** Counts and sums per status (kept by triggers), deepest open task, oldest waiting task. */
  *statusCounts(): Step<StatusCounts> {
    const rows = yield* this.rows<{ status: TaskStatus; n: number; p: number }>(
      "SELECT status, sum(task_count)::integer AS n, sum(priority_sum)::double precision AS p FROM task_stats GROUP BY status"
    )
    const byStatus = { pending: 0, blocked: 0, ready: 0, running: 0, completed: 0, failed: 0, cancelled: 0 }
    const prioritySum = { ...byStatus }
    for (const r of rows) {
      byStatus[r.status] = r.n
      prioritySum[r.status] = r.p
    }
    const facts = yield* this.one<{ d: number | null; oldest: string | null }>(
      `SELECT (SELECT max(dependency_depth) FROM tasks WHERE status IN ${OPEN}) AS d,
         least((SELECT min(submitted_at) FROM tasks WHERE status = 'ready'),
           (SELECT min(submitted_at) FROM tasks WHERE status = 'blocked')) AS oldest`
    )
    return { byStatus, prioritySum, maxOpenDepth: facts?.d ?? null, oldestWaitingAt: facts?.oldest ?? null }
  }

  // ---- hierarchy ---------------------------------------------------------------------------

  *childIds(parentId: string): Step<Array<string>> {
    return yield* this.ids("SELECT id FROM tasks WHERE parent_task_id = $1 ORDER BY submitted_at, seq", [parentId])
  }

  *countChildren(parentId: string): Step<number> {
    return (yield* this.one<{ n: number }>("SELECT count(*)::integer AS n FROM tasks WHERE parent_task_id = $1", [parentId]))!.n
  }

  *rootIds(): Step<Array<string>> {
    return yield* this.ids("SELECT id FROM tasks WHERE parent_task_id IS NULL ORDER BY submitted_at, seq")
  }

  /** Parent-child pairs whose parent is one of `ids`. */
  *childrenOfMany(ids: ReadonlyArray<string>): Step<Array<{ id: string; parentId: string }>> {
    return yield* this.rows<{ id: string; parentId: string }>(
      `SELECT id, parent_task_id AS "parentId" FROM tasks WHERE parent_task_id = ANY($1::text[])`,
      [ids]
    )
  }

  // ---- dependencies ------------------------------------------------------------------------

  *insertDependency(dep: TaskDependency): Step<void> {
    yield* this.insertDependencies([dep])
  }

  /** Inserts many dependencies in one statement. */
  *insertDependencies(deps: ReadonlyArray<TaskDependency>): Step<void> {
    if (deps.length === 0) return
    const cols = "id, dependent_task_id, prerequisite_task_id, dependency_type, created_at, resolved_at, on_failure"
    yield* this.guarded(`INSERT INTO task_dependencies (${cols}) SELECT ${cols} FROM json_populate_recordset(NULL::task_dependencies, $1::json)`, [
      JSON.stringify(
        deps.map((d) => ({
          id: d.id,
          dependent_task_id: d.dependentTaskId,
          prerequisite_task_id: d.prerequisiteTaskId,
          dependency_type: d.dependencyType,
          created_at: d.createdAt,
          resolved_at: d.resolvedAt,
          on_failure: d.onFailure
        }))
      )
    ])
  }

  *hasDependency(dependentId: string, prerequisiteId: string): Step<boolean> {
    const row = yield* this.one("SELECT 1 FROM task_dependencies WHERE dependent_task_id = $1 AND prerequisite_task_id = $2", [
      dependentId,
      prerequisiteId
    ])
    return row !== undefined
  }

  /** Resolves the open edges on a prerequisite (only its `ignore` edges with `ignoreOnly`); returns their dependents (in insertion order, as SQLite). */
  *resolveEdges(prerequisiteId: string, at: string, ignoreOnly: boolean): Step<Array<string>> {
    return yield* this.ids(
      `WITH u AS (
         UPDATE task_dependencies SET resolved_at = $1 WHERE prerequisite_task_id = $2 AND resolved_at IS NULL
         ${ignoreOnly ? "AND on_failure = 'ignore'" : ""} RETURNING dependent_task_id, seq
       ) SELECT dependent_task_id AS id FROM u ORDER BY seq`,
      [at, prerequisiteId]
    )
  }

  /** Opens again the resolved edges on a prerequisite whose dependents have not started; returns those dependents. */
  *unresolveEdges(prerequisiteId: string): Step<Array<string>> {
    return yield* this.ids(
      `WITH u AS (
         UPDATE task_dependencies d SET resolved_at = NULL FROM tasks t
         WHERE t.id = d.dependent_task_id AND d.prerequisite_task_id = $1 AND d.resolved_at IS NOT NULL
           AND t.status IN ('pending', 'blocked', 'ready')
         RETURNING d.dependent_task_id, d.seq
       ) SELECT dependent_task_id AS id FROM u ORDER BY seq`,
      [prerequisiteId]
    )
  }

  /** Sets one edge's resolution time (null: open). */
  *setEdgeResolved(dependentId: string, prerequisiteId: string, resolvedAt: string | null): Step<void> {
    yield* this.run("UPDATE task_dependencies SET resolved_at = $1 WHERE dependent_task_id = $2 AND prerequisite_task_id = $3", [
      resolvedAt,
      dependentId,
      prerequisiteId
    ])
  }

  /** Deletes the edge `dependent -> prerequisite`; returns it, or null when there was none. */
  *deleteDependency(dependentId: string, prerequisiteId: string): Step<{ resolvedAt: string | null } | null> {
    return (
      (yield* this.one<{ resolvedAt: string | null }>(
        `DELETE FROM task_dependencies WHERE dependent_task_id = $1 AND prerequisite_task_id = $2 RETURNING resolved_at AS "resolvedAt"`,
        [dependentId, prerequisiteId]
      )) ?? null
    )
  }

  /** The task has an unresolved prerequisite edge. */
  *hasUnresolved(taskId: string): Step<boolean> {
    const row = yield* this.one("SELECT 1 FROM task_dependencies WHERE dependent_task_id = $1 AND resolved_at IS NULL LIMIT 1", [taskId])
    return row !== undefined
  }

  /** How many unresolved prerequisite edges the task has. */
  *countUnresolved(taskId: string): Step<number> {
    return (yield* this.one<{ n: number }>(
      "SELECT count(*)::integer AS n FROM task_dependencies WHERE dependent_task_id = $1 AND resolved_at IS NULL",
      [taskId]
    ))!.n
  }

  /** What the readiness gate of these tasks needs, with their facts for a score (one query). */
  *gateFacts(ids: ReadonlyArray<string>): Step<Array<GateFacts>> {
    if (ids.length === 0) return []
    return yield* this.rows<GateFacts>(`SELECT ${GATE_COLUMNS} FROM tasks t WHERE t.id = ANY($1::text[])`, [ids])
  }

  /** Sets `ancestor_gated` of a task's children and returns them with what their own gate needs. */
  *gateChildren(parentId: string, gated: boolean): Step<Array<GateFacts>> {
    yield* this.run("UPDATE tasks SET ancestor_gated = $1 WHERE parent_task_id = $2", [gated, parentId])
    return yield* this.rows<GateFacts>(`SELECT ${GATE_COLUMNS} FROM tasks t WHERE t.parent_task_id = $1 ORDER BY t.submitted_at, t.seq`, [parentId])
  }

  /**
   * Adds `delta` to the subtree counters of a task and each of its ancestors (a parent link cycle
   * in legacy data is walked once); returns their rows after the change, the task first.
   */
  *adjustSubtree(fromId: string, delta: SubtreeCounts): Step<Array<SubtreeRow>> {
    const rows = yield* this.rows<{ id: string; status: TaskStatus; o: number; c: number; f: number; x: number }>(
      `WITH RECURSIVE anc(id, d) AS (
         SELECT $1::text COLLATE "C", 0
         UNION ALL
         SELECT t.parent_task_id, anc.d + 1 FROM anc JOIN tasks t ON t.id = anc.id WHERE t.parent_task_id IS NOT NULL
       ) CYCLE id SET looped USING path,
       chain AS (SELECT id, min(d) AS d FROM anc WHERE NOT looped GROUP BY id),
       upd AS (
         UPDATE tasks SET subtree_open = subtree_open + $2, subtree_completed = subtree_completed + $3,
           subtree_failed = subtree_failed + $4, subtree_cancelled = subtree_cancelled + $5
         FROM chain WHERE tasks.id = chain.id
         RETURNING tasks.id, tasks.status, subtree_open AS o, subtree_completed AS c, subtree_failed AS f, subtree_cancelled AS x, chain.d
       )
       SELECT id, status, o, c, f, x FROM upd ORDER BY d`,
      [fromId, delta.open, delta.completed, delta.failed, delta.cancelled]
    )
    return rows.map((r) => ({ id: r.id, status: r.status, subtree: { open: r.o, completed: r.c, failed: r.f, cancelled: r.x } }))
  }

  /** Children of a task with their status and open descendants (for cascades). */
  *childStates(parentId: string): Step<Array<{ id: string; status: TaskStatus; subtreeOpen: number }>> {
    return yield* this.rows<{ id: string; status: TaskStatus; subtreeOpen: number }>(
      `SELECT id, status, subtree_open AS "subtreeOpen" FROM tasks WHERE parent_task_id = $1 ORDER BY submitted_at, seq`,
      [parentId]
    )
  }

  /** CANCELLED tasks whose cancellation this task's failure or cancellation caused. */
  *cancelledBy(causeId: string): Step<Array<string>> {
    return yield* this.ids("SELECT id FROM tasks WHERE cancelled_by = $1 AND status = 'cancelled' ORDER BY last_updated_at, seq", [causeId])
  }

  /** The task submitted with this idempotency key, if any. */
  *taskByIdempotencyKey(key: string): Step<StoredTask | null> {
    const row = yield* this.one<PgTaskRow>("SELECT * FROM tasks WHERE idempotency_key = $1", [key])
    return row === undefined ? null : pgRowToTask(row)
  }

  /** Which of these idempotency keys name a task already (key -> task id). */
  *idempotencyKeysTaken(keys: ReadonlyArray<string>): Step<Map<string, string>> {
    if (keys.length === 0) return new Map()
    const rows = yield* this.rows<{ k: string; id: string }>("SELECT idempotency_key AS k, id FROM tasks WHERE idempotency_key = ANY($1::text[])", [
      keys
    ])
    return new Map(rows.map((r) => [r.k, r.id]))
  }

  *getPlanSubmission(key: string): Step<PlanSubmission | null> {
    const row = yield* this.one<{ fingerprint: string; task_keys: string }>(
      "SELECT fingerprint, task_keys FROM plan_submissions WHERE idempotency_key = $1",
      [key]
    )
    return row === undefined ? null : { fingerprint: row.fingerprint, taskKeys: JSON.parse(row.task_keys) as Record<string, string> }
  }

  *insertPlanSubmission(key: string, submission: PlanSubmission, at: string): Step<void> {
    yield* this.guarded("INSERT INTO plan_submissions (idempotency_key, fingerprint, task_keys, created_at) VALUES ($1, $2, $3, $4)", [
      key,
      submission.fingerprint,
      JSON.stringify(submission.taskKeys),
      at
    ])
  }

  /** A task's prerequisites with their state. */
  *prerequisitesOf(taskId: string): Step<Array<Neighbour>> {
    return yield* this.rows<Neighbour>(neighbourSql("dependent_task_id", "prerequisite_task_id"), [taskId])
  }

  /** A task's dependents with their state. */
  *dependentsOf(taskId: string): Step<Array<Neighbour>> {
    return yield* this.rows<Neighbour>(neighbourSql("prerequisite_task_id", "dependent_task_id"), [taskId])
  }

  /** Ids and depths of a task's prerequisites (for the cycle check). */
  *prerequisiteDepths(taskId: string): Step<Array<{ id: string; depth: number }>> {
    return yield* this.rows<{ id: string; depth: number }>(
      `SELECT d.prerequisite_task_id AS id, t.dependency_depth AS depth FROM task_dependencies d
       JOIN tasks t ON t.id = d.prerequisite_task_id WHERE d.dependent_task_id = $1`,
      [taskId]
    )
  }

  *countPrerequisites(dependentId: string): Step<number> {
    return (yield* this.one<{ n: number }>("SELECT count(*)::integer AS n FROM task_dependencies WHERE dependent_task_id = $1", [dependentId]))!.n
  }

  /** Open tasks that directly wait on this one (the priority's dependency factor). */
  *countOpenDependents(prerequisiteId: string): Step<number> {
    return (yield* this.one<{ n: number }>(
      `SELECT count(*)::integer AS n FROM task_dependencies d JOIN tasks t ON t.id = d.dependent_task_id
       WHERE d.prerequisite_task_id = $1 AND d.resolved_at IS NULL AND t.status IN ${OPEN}`,
      [prerequisiteId]
    ))!.n
  }

  /** Every edge whose both ends are among `ids`. */
  *edgesAmong(ids: ReadonlyArray<string>): Step<Array<Edge>> {
    if (ids.length === 0) return []
    return yield* this.rows<Edge>(
      `SELECT ${EDGE_COLUMNS} FROM task_dependencies
       WHERE dependent_task_id = ANY($1::text[]) AND prerequisite_task_id = ANY($1::text[])`,
      [ids]
    )
  }

  /** Whether any subtask is not COMPLETED (as the SQLite repository's `anyLiveSubtask`). */
  *anyLiveSubtask(): Step<boolean> {
    const rows = yield* this.rows<{ n: boolean }>(
      "SELECT EXISTS (SELECT 1 FROM tasks WHERE parent_task_id IS NOT NULL AND status <> 'completed') AS n",
      []
    )
    return rows[0]?.n === true
  }

  /** The unresolved edges (`declared`: all the edges) whose dependent is one of these tasks. */
  *waitEdgesOf(ids: ReadonlyArray<string>, declared: boolean): Step<Array<{ dependentId: string; prerequisiteId: string }>> {
    if (ids.length === 0) return []
    return yield* this.rows<{ dependentId: string; prerequisiteId: string }>(
      `SELECT dependent_task_id AS "dependentId", prerequisite_task_id AS "prerequisiteId" FROM task_dependencies
       WHERE dependent_task_id = ANY($1::text[])${declared ? "" : " AND resolved_at IS NULL"}`,
      [ids]
    )
  }

  /**
   * Every task the waits-for graph reaches from the gates of `gateIds`, with its facts (as the
   * SQLite repository's `waitRegion`, `declared` included): one recursive query, its steps in a
   * LATERAL union.
   */
  *waitRegion(gateIds: ReadonlyArray<string>, declared: boolean): Step<Array<WaitRegionRow>> {
    if (gateIds.length === 0) return []
    const live = (t: string) => (declared ? `${t}.status <> 'completed'` : `${t}.status IN ${OPEN}`)
    const below = (t: string) => (declared ? `(${t}.subtree_open + ${t}.subtree_failed + ${t}.subtree_cancelled)` : `${t}.subtree_open`)
    return yield* this.rows<WaitRegionRow>(
      `WITH RECURSIVE r(k, id) AS (
         SELECT 'g'::text, g COLLATE "C" FROM unnest($1::text[]) AS g
         UNION
         SELECT s.k, s.id FROM r JOIN tasks t ON t.id = r.id, LATERAL (
           SELECT 'g'::text AS k, t.parent_task_id AS id WHERE r.k = 'g' AND t.parent_task_id IS NOT NULL
           UNION ALL
           SELECT 'd', d.prerequisite_task_id FROM task_dependencies d
             WHERE r.k = 'g' AND ${live("t")} AND d.dependent_task_id = r.id${declared ? "" : " AND d.resolved_at IS NULL"}
           UNION ALL
           SELECT 'g', r.id WHERE r.k = 'd' AND ${live("t")}
           UNION ALL
           SELECT 'd', c.id FROM tasks c
             WHERE r.k = 'd' AND ${below("t")} > 0 AND c.parent_task_id = r.id AND (${live("c")} OR ${below("c")} > 0)
         ) s
       )
       SELECT t.id, t.parent_task_id AS "parentId", (${live("t")})::int AS open, ${below("t")} AS "subtreeOpen", x.waited
       FROM (SELECT id, max((k = 'd')::int) AS waited FROM r GROUP BY id) x JOIN tasks t ON t.id = x.id`,
      [gateIds]
    )
  }

  /** Dependents (through any edge) of these tasks. */
  *dependentsOfMany(ids: ReadonlyArray<string>): Step<Array<Edge>> {
    if (ids.length === 0) return []
    return yield* this.rows<Edge>(`SELECT ${EDGE_COLUMNS} FROM task_dependencies WHERE prerequisite_task_id = ANY($1::text[])`, [ids])
  }

  // ---- audit -------------------------------------------------------------------------------

  /** Records many entries in one statement, in order. */
  *insertAudits(entries: ReadonlyArray<AuditEntry>): Step<void> {
    if (entries.length === 0) return
    const cols = "task_id, from_status, to_status, at, actor, reason"
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
    yield* this.run("INSERT INTO task_audit (task_id, from_status, to_status, at, actor, reason) VALUES ($1, $2, $3, $4, $5, $6)", [
      entry.taskId,
      entry.fromStatus,
      entry.toStatus,
      entry.at,
      entry.actor,
      entry.reason
    ])
  }

  *auditOf(taskId: string): Step<Array<AuditEntry>> {
    return yield* this.rows<AuditEntry>(`SELECT ${AUDIT_COLUMNS} FROM task_audit WHERE task_id = $1 ORDER BY id`, [taskId])
  }

  // ---- pruning -----------------------------------------------------------------------------

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
