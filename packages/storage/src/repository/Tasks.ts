/**
 * Task rows: insert (one or many), read (by id, prefix, status, filter), update, delete, the
 * counts per status, and the idempotency records of tasks and plans.
 */
import type { TaskSource, TaskStatus } from "@abathur/domain"
import { classifyConstraint } from "../StorageError.js"
import { rowToTask, type StoredTask, TASK_COLUMNS, TaskColumns, type TaskPatch, type TaskRow, taskValues, valuesToTask } from "../TaskRows.js"
import { chunks, inChunks, OPEN, placeholders, rowsOf, type Sql, statusLiteral } from "./Sql.js"

/** A plan submitted with an idempotency key: its fingerprint and its tasks by key. */
export interface PlanSubmission {
  readonly fingerprint: string
  readonly taskKeys: Readonly<Record<string, string>>
}

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

/**
 * The open tasks with their submission time and rowid (`r`): READY, BLOCKED and RUNNING ones from
 * their partial indexes, PENDING ones (transient) from the table only when task_stats counts some.
 */
const openTasks = (pending: boolean) =>
  `SELECT id, submitted_at, rowid AS r FROM tasks INDEXED BY idx_tasks_ready_submitted WHERE status = 'ready'
   UNION ALL SELECT id, submitted_at, rowid FROM tasks INDEXED BY idx_tasks_blocked WHERE status = 'blocked'
   UNION ALL SELECT id, submitted_at, rowid FROM tasks INDEXED BY idx_tasks_lease_expiry WHERE status = 'running'
   ${pending ? "UNION ALL SELECT id, submitted_at, rowid FROM tasks WHERE status = 'pending'" : ""}`

/** The open tasks and the edges among them, for the execution plan. */
export interface OpenGraph {
  /** Every open task, oldest first (openTaskIds' order). */
  readonly ids: Array<string>
  /** Edge k: `ids[dependents[k]]` depends on `ids[prerequisites[k]]` (positions in `ids`), in no particular order. */
  readonly dependents: Array<number>
  readonly prerequisites: Array<number>
}

/**
 * An OpenGraph from the open tasks' ids (oldest first) and edges given by their ends' ids, each
 * edge's dependent open: edges on a prerequisite that is not open are left out. (One mapping for
 * every store.)
 */
export const openGraphOf = (ids: Array<string>, dependentIds: ReadonlyArray<string>, prerequisiteIds: ReadonlyArray<string>): OpenGraph => {
  const position = new Map<string, number>()
  for (let i = 0; i < ids.length; i++) position.set(ids[i]!, i)
  const dependents: Array<number> = []
  const prerequisites: Array<number> = []
  for (let k = 0; k < prerequisiteIds.length; k++) {
    const p = position.get(prerequisiteIds[k]!)
    const d = position.get(dependentIds[k]!)
    if (p === undefined || d === undefined) continue
    dependents.push(d)
    prerequisites.push(p)
  }
  return { ids, dependents, prerequisites }
}

const insertTaskSql = `INSERT INTO tasks (${TASK_COLUMNS.join(", ")}) VALUES (${placeholders(TASK_COLUMNS.length)})`

/** The fields updateTask sets (in the order its SQL names them), each with a bit of its own. */
const patchKeys = Object.keys(TaskColumns).sort() as Array<keyof TaskPatch>
const patchBit = new Map<string, number>(patchKeys.map((k, i) => [k, 1 << i]))

// Whole tasks are read by position (raw rows), their columns named in TASK_COLUMNS' order.
const selectedColumns = TASK_COLUMNS.join(", ")
const selectTaskById = `SELECT ${selectedColumns} FROM tasks WHERE id = ?`

export const makeTasks = (sql: Sql) => {
  const { all, get, pluck, stmt, values, valuesAll, insertMany } = sql
  // Set-based inserts (a plan): the same columns as insertTaskSql.
  const insertTaskRows = insertMany<StoredTask>(
    (n) => `INSERT INTO tasks (${TASK_COLUMNS.join(", ")}) VALUES ${rowsOf(TASK_COLUMNS.length, n)}`,
    taskValues
  )
  /** updateTask's statements, by the bit mask of the fields they set (patchBit). */
  const updates = new Map<number, { keys: ReadonlyArray<keyof TaskPatch>; statement: ReturnType<typeof stmt> }>()
  /** PENDING tasks, as task_stats counts them (its triggers run in every write's transaction). */
  const pendingCount = (): number => get<{ n: number }>("SELECT task_count AS n FROM task_stats WHERE status = 'pending'")?.n ?? 1

  return {
    insertTask: (task: StoredTask): void => {
      try {
        const values: Array<unknown> = []
        taskValues(task, values)
        stmt(insertTaskSql).run(values)
      } catch (error) {
        throw classifyConstraint(error) ?? error
      }
    },

    /** Inserts many tasks (parents before children), several rows per statement. */
    insertTasks: (tasks: ReadonlyArray<StoredTask>): void => {
      try {
        insertTaskRows(tasks)
      } catch (error) {
        throw classifyConstraint(error) ?? error
      }
    },

    getTask: (id: string): StoredTask | null => {
      const row = values(selectTaskById, id)
      return row === undefined ? null : valuesToTask(row)
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
        (ph) => `SELECT ${selectedColumns} FROM tasks WHERE id IN (${ph})`,
        (sql, part) => valuesAll(sql, ...part)
      ).map(valuesToTask),

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
      // The set of fields as a bit mask names the statement (no SQL text built per call).
      let mask = 0
      for (const k in patch) {
        const bit = patchBit.get(k)
        if (bit === undefined) throw new TypeError(`not a field updateTask sets: ${JSON.stringify(k)}`)
        mask |= bit
      }
      if (mask === 0) return
      let update = updates.get(mask)
      if (update === undefined) {
        const keys = patchKeys.filter((k) => (mask & patchBit.get(k)!) !== 0)
        const columns = keys.map((k) => `${TaskColumns[k]} = ?`).join(", ")
        update = { keys, statement: stmt(`UPDATE tasks SET ${columns} WHERE id = ?`) }
        updates.set(mask, update)
      }
      const params: Array<unknown> = []
      for (const k of update.keys) {
        const v = patch[k]
        params.push(k === "resultData" ? (v === null || v === undefined ? null : JSON.stringify(v)) : typeof v === "boolean" ? (v ? 1 : 0) : v)
      }
      params.push(id)
      update.statement.run(...params)
    },

    deleteTasks: (ids: ReadonlyArray<string>): number => {
      let n = 0
      for (const part of chunks(ids)) n += stmt(`DELETE FROM tasks WHERE id IN (${placeholders(part.length)})`).run(...part).changes
      return n
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

    /** Every open task, oldest first (see openTasks), for the execution plan under a hierarchy. */
    openTaskIds: (): Array<string> => pluck(`SELECT id FROM (${openTasks(pendingCount() > 0)}) ORDER BY submitted_at, r`),

    /**
     * The open tasks (openTaskIds' order) and the edges among them, as positions, for the
     * execution plan: the open tasks from their partial indexes, then each one's prerequisites
     * through the edges' unique index (no read of the prerequisite's row: its position says it is
     * open). Each statement brings its rows to JavaScript as JSON arrays, in one value.
     */
    openGraph: (): OpenGraph => {
      const pending = pendingCount() > 0
      const ids = values(`SELECT json_group_array(id ORDER BY submitted_at, r) FROM (${openTasks(pending)})`)![0] as string
      // One row in, one step of each aggregate: the two arrays stay aligned.
      const [dependents, prerequisites] = values(
        `SELECT json_group_array(o.id), json_group_array(d.prerequisite_task_id) FROM (${openTasks(pending)}) o
         JOIN task_dependencies d ON d.dependent_task_id = o.id`
      )! as [string, string]
      return openGraphOf(JSON.parse(ids) as Array<string>, JSON.parse(dependents) as Array<string>, JSON.parse(prerequisites) as Array<string>)
    },

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
    }
  }
}
