/**
 * Task rows: insert (one or many), read (by id, prefix, status, filter), update, delete, the
 * counts per status, the cancellations a task caused, and the idempotency records of tasks and plans.
 */
import type { TaskStatus } from "@abathur/domain"
import {
  type ListFilter,
  type OpenGraph,
  openGraphOf,
  type PlanSubmission,
  type StatusCounts,
  type StoredTask,
  TaskColumns,
  type TaskPatch,
  taskToRow
} from "@abathur/storage"
import type { Step } from "../Step.js"
import { OPEN, pgRowToTask, PgSql, type PgTaskRow, TASK_ROW } from "./Sql.js"

/** The column values of a task for `json_populate_recordset` (booleans as booleans). */
const taskToPgRow = (task: StoredTask) => ({
  ...taskToRow(task),
  priority_starved: task.priorityStarved,
  ancestor_gated: task.ancestorGated
})

const TASK_COLUMNS = Object.keys(taskToRow({ subtree: {} } as StoredTask)).join(", ")

/** The tasks group of the PostgreSQL task repository (composed in ../PgTaskRepository.ts). */
export class Tasks extends PgSql {
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
    const row = this.takeLocked(id) ?? (yield* this.one<PgTaskRow>(`SELECT ${TASK_ROW} FROM tasks WHERE id = $1`, [id]))
    return row === undefined ? null : pgRowToTask(row)
  }

  /** `getTask`, the row locked until the transaction ends (a rule under the shared write lock). */
  *getTaskForUpdate(id: string): Step<StoredTask | null> {
    const row = this.takeLocked(id) ?? (yield* this.one<PgTaskRow>(`SELECT ${TASK_ROW} FROM tasks WHERE id = $1 FOR UPDATE`, [id]))
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
    return (yield* this.rows<PgTaskRow>(`SELECT ${TASK_ROW} FROM tasks WHERE id = ANY($1::text[])`, [ids])).map(pgRowToTask)
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

  *idsWithStatus(status: TaskStatus): Step<Array<string>> {
    return yield* this.ids("SELECT id FROM tasks WHERE status = $1 ORDER BY submitted_at, seq", [status])
  }

  /** Every open task, for the execution plan. */
  *openTaskIds(): Step<Array<string>> {
    return yield* this.ids(`SELECT id FROM tasks WHERE status IN ${OPEN} ORDER BY submitted_at, seq`)
  }

  /** The open tasks (openTaskIds' order) and the edges among them, as positions, for the execution plan. */
  *openGraph(): Step<OpenGraph> {
    const row = (yield* this.one<{ ids: Array<string> | null; dependents: Array<string> | null; prerequisites: Array<string> | null }>(
      `SELECT (SELECT json_agg(id ORDER BY submitted_at, seq) FROM tasks WHERE status IN ${OPEN}) AS ids,
         json_agg(d.dependent_task_id) AS dependents, json_agg(d.prerequisite_task_id) AS prerequisites
       FROM tasks o JOIN task_dependencies d ON d.dependent_task_id = o.id WHERE o.status IN ${OPEN}`
    ))!
    return openGraphOf(row.ids ?? [], row.dependents ?? [], row.prerequisites ?? [])
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
    return (yield* this.rows<PgTaskRow>(`SELECT ${TASK_ROW} FROM tasks ${filtered} ${order} ${page}`, params)).map(pgRowToTask)
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

  /** CANCELLED tasks whose cancellation this task's failure or cancellation caused. */
  *cancelledBy(causeId: string): Step<Array<string>> {
    return yield* this.ids("SELECT id FROM tasks WHERE cancelled_by = $1 AND status = 'cancelled' ORDER BY last_updated_at, seq", [causeId])
  }

  /** The task submitted with this idempotency key, if any. */
  *taskByIdempotencyKey(key: string): Step<StoredTask | null> {
    const row = yield* this.one<PgTaskRow>(`SELECT ${TASK_ROW} FROM tasks WHERE idempotency_key = $1`, [key])
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
}
