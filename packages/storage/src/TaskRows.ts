import type {
  AuditEntry,
  DependencyType,
  JsonObject,
  JsonValue,
  OnFailure,
  SubtreeCounts,
  Task,
  TaskDependency,
  TaskSource,
  TaskStatus
} from "@abathur/domain"

/** A row of `tasks` as better-sqlite3 returns it. */
export interface TaskRow {
  readonly id: string
  readonly prompt: string
  readonly summary: string
  readonly agent_type: string
  readonly priority: number
  readonly status: string
  readonly input_data: string | null
  readonly result_data: string | null
  readonly error_message: string | null
  readonly retry_count: number
  readonly max_retries: number
  readonly max_execution_timeout_seconds: number
  readonly submitted_at: string
  readonly started_at: string | null
  readonly completed_at: string | null
  readonly last_updated_at: string
  readonly created_by: string | null
  readonly parent_task_id: string | null
  readonly session_id: string | null
  readonly source: string
  readonly dependency_type: string
  readonly calculated_priority: number
  readonly deadline: string | null
  readonly estimated_duration_seconds: number | null
  readonly dependency_depth: number
  readonly lease_token: string | null
  readonly lease_expires_at: string | null
  readonly worker_id: string | null
  readonly priority_refresh_at: string | null
  readonly cancelled_by: string | null
  readonly priority_rank: number | null
  readonly priority_starved: number
  readonly not_before: string | null
  readonly idempotency_key: string | null
  readonly idempotency_fingerprint: string | null
  readonly stall_count: number
  readonly retry_backoff_seconds: number | null
  readonly subtree_open: number
  readonly subtree_completed: number
  readonly subtree_failed: number
  readonly subtree_cancelled: number
  readonly ancestor_gated: number
}

/** A task with the bookkeeping the queue keeps beside the public model. */
export interface StoredTask extends Task {
  readonly leaseToken: string | null
  readonly leaseExpiresAt: string | null
  readonly workerId: string | null
  /** When the stored priority must next be recomputed (null: never, or not waiting). */
  readonly priorityRefreshAt: string | null
  /** Place in the claim order (see the domain's `priorityRank`); null until first ranked. */
  readonly priorityRank: number | null
  /** Past the starvation horizon: ranked by score rather than by score less shared growth. */
  readonly priorityStarved: boolean
  /** The task whose failure or cancellation cancelled this one, when a cascade did. */
  readonly cancelledBy: string | null
  /** A hash of the submit fields, when submitted with an idempotency key. */
  readonly idempotencyFingerprint: string | null
  /** Counts of the strict descendants by outcome (kept along the ancestor chain). */
  readonly subtree: SubtreeCounts
  /** Some ancestor has an unresolved prerequisite edge. */
  readonly ancestorGated: boolean
}

/** A row of `task_dependencies`. */
export interface TaskDependencyRow {
  readonly id: string
  readonly dependent_task_id: string
  readonly prerequisite_task_id: string
  readonly dependency_type: string
  readonly created_at: string
  readonly resolved_at: string | null
  readonly on_failure: string
}

const parseJson = (text: string | null): JsonValue | null => {
  if (text === null || text === "") return null
  try {
    return JSON.parse(text) as JsonValue
  } catch {
    // Legacy rows may hold plain text: keep it as a string value.
    return text
  }
}

const parseObject = (text: string | null): JsonObject => {
  const value = parseJson(text)
  return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as JsonObject) : {}
}

/**
 * Every column of `tasks`, in the order of a row read by position: reads of whole tasks select
 * these and take each row as an array (better-sqlite3's raw mode), which costs about half of a
 * row as an object with 42 named properties.
 */
export const TASK_COLUMNS = [
  "id",
  "prompt",
  "summary",
  "agent_type",
  "priority",
  "status",
  "source",
  "dependency_type",
  "calculated_priority",
  "deadline",
  "estimated_duration_seconds",
  "dependency_depth",
  "parent_task_id",
  "session_id",
  "input_data",
  "result_data",
  "error_message",
  "retry_count",
  "max_retries",
  "max_execution_timeout_seconds",
  "submitted_at",
  "started_at",
  "completed_at",
  "last_updated_at",
  "created_by",
  "lease_token",
  "lease_expires_at",
  "worker_id",
  "priority_refresh_at",
  "cancelled_by",
  "priority_rank",
  "priority_starved",
  "not_before",
  "idempotency_key",
  "idempotency_fingerprint",
  "stall_count",
  "retry_backoff_seconds",
  "subtree_open",
  "subtree_completed",
  "subtree_failed",
  "subtree_cancelled",
  "ancestor_gated"
] as const satisfies ReadonlyArray<keyof TaskRow>

/** The position of each column in a row read as TASK_COLUMNS. */
const col = Object.fromEntries(TASK_COLUMNS.map((c, i) => [c, i])) as Record<(typeof TASK_COLUMNS)[number], number>

/** Maps a `tasks` row read by position (the values of TASK_COLUMNS, in that order) to the model. */
export const valuesToTask = (v: ReadonlyArray<unknown>): StoredTask => ({
  id: v[col.id] as string,
  prompt: v[col.prompt] as string,
  summary: v[col.summary] as string,
  agentType: v[col.agent_type] as string,
  priority: v[col.priority] as number,
  status: v[col.status] as TaskStatus,
  source: v[col.source] as TaskSource,
  dependencyType: v[col.dependency_type] as DependencyType,
  calculatedPriority: v[col.calculated_priority] as number,
  deadline: v[col.deadline] as string | null,
  estimatedDurationSeconds: v[col.estimated_duration_seconds] as number | null,
  dependencyDepth: v[col.dependency_depth] as number,
  parentTaskId: v[col.parent_task_id] as string | null,
  sessionId: v[col.session_id] as string | null,
  inputData: parseObject(v[col.input_data] as string | null),
  resultData: parseJson(v[col.result_data] as string | null),
  errorMessage: v[col.error_message] as string | null,
  retryCount: v[col.retry_count] as number,
  maxRetries: v[col.max_retries] as number,
  maxExecutionTimeoutSeconds: v[col.max_execution_timeout_seconds] as number,
  submittedAt: v[col.submitted_at] as string,
  startedAt: v[col.started_at] as string | null,
  completedAt: v[col.completed_at] as string | null,
  lastUpdatedAt: v[col.last_updated_at] as string,
  createdBy: v[col.created_by] as string | null,
  leaseToken: v[col.lease_token] as string | null,
  leaseExpiresAt: v[col.lease_expires_at] as string | null,
  workerId: v[col.worker_id] as string | null,
  priorityRefreshAt: v[col.priority_refresh_at] as string | null,
  cancelledBy: v[col.cancelled_by] as string | null,
  priorityRank: v[col.priority_rank] as number | null,
  priorityStarved: v[col.priority_starved] === 1,
  notBefore: v[col.not_before] as string | null,
  idempotencyKey: v[col.idempotency_key] as string | null,
  idempotencyFingerprint: v[col.idempotency_fingerprint] as string | null,
  stallCount: v[col.stall_count] as number,
  retryBackoffSeconds: v[col.retry_backoff_seconds] as number | null,
  subtree: {
    open: v[col.subtree_open] as number,
    completed: v[col.subtree_completed] as number,
    failed: v[col.subtree_failed] as number,
    cancelled: v[col.subtree_cancelled] as number
  },
  ancestorGated: v[col.ancestor_gated] === 1
})

/** Maps a `tasks` row to the model. */
export const rowToTask = (row: TaskRow): StoredTask => valuesToTask(TASK_COLUMNS.map((c) => row[c]))

/** Maps a model to the column values of a `tasks` row (named parameters). */
export const taskToRow = (task: StoredTask): TaskRow => ({
  id: task.id,
  prompt: task.prompt,
  summary: task.summary,
  agent_type: task.agentType,
  priority: task.priority,
  status: task.status,
  input_data: JSON.stringify(task.inputData),
  result_data: task.resultData === null ? null : JSON.stringify(task.resultData),
  error_message: task.errorMessage,
  retry_count: task.retryCount,
  max_retries: task.maxRetries,
  max_execution_timeout_seconds: task.maxExecutionTimeoutSeconds,
  submitted_at: task.submittedAt,
  started_at: task.startedAt,
  completed_at: task.completedAt,
  last_updated_at: task.lastUpdatedAt,
  created_by: task.createdBy,
  parent_task_id: task.parentTaskId,
  session_id: task.sessionId,
  source: task.source,
  dependency_type: task.dependencyType,
  calculated_priority: task.calculatedPriority,
  deadline: task.deadline,
  estimated_duration_seconds: task.estimatedDurationSeconds,
  dependency_depth: task.dependencyDepth,
  lease_token: task.leaseToken,
  lease_expires_at: task.leaseExpiresAt,
  worker_id: task.workerId,
  priority_refresh_at: task.priorityRefreshAt,
  cancelled_by: task.cancelledBy,
  priority_rank: task.priorityRank,
  priority_starved: task.priorityStarved ? 1 : 0,
  not_before: task.notBefore,
  idempotency_key: task.idempotencyKey,
  idempotency_fingerprint: task.idempotencyFingerprint,
  stall_count: task.stallCount,
  retry_backoff_seconds: task.retryBackoffSeconds,
  subtree_open: task.subtree.open,
  subtree_completed: task.subtree.completed,
  subtree_failed: task.subtree.failed,
  subtree_cancelled: task.subtree.cancelled,
  ancestor_gated: task.ancestorGated ? 1 : 0
})

/**
 * Appends a task's column values to `into` in `TASK_COLUMNS` order (what `taskToRow` maps,
 * without the intermediate row object: the insert path of a plan runs it per task).
 */
export const taskValues = (task: StoredTask, into: Array<unknown>): void => {
  into.push(
    task.id,
    task.prompt,
    task.summary,
    task.agentType,
    task.priority,
    task.status,
    task.source,
    task.dependencyType,
    task.calculatedPriority,
    task.deadline,
    task.estimatedDurationSeconds,
    task.dependencyDepth,
    task.parentTaskId,
    task.sessionId,
    JSON.stringify(task.inputData),
    task.resultData === null ? null : JSON.stringify(task.resultData),
    task.errorMessage,
    task.retryCount,
    task.maxRetries,
    task.maxExecutionTimeoutSeconds,
    task.submittedAt,
    task.startedAt,
    task.completedAt,
    task.lastUpdatedAt,
    task.createdBy,
    task.leaseToken,
    task.leaseExpiresAt,
    task.workerId,
    task.priorityRefreshAt,
    task.cancelledBy,
    task.priorityRank,
    task.priorityStarved ? 1 : 0,
    task.notBefore,
    task.idempotencyKey,
    task.idempotencyFingerprint,
    task.stallCount,
    task.retryBackoffSeconds,
    task.subtree.open,
    task.subtree.completed,
    task.subtree.failed,
    task.subtree.cancelled,
    task.ancestorGated ? 1 : 0
  )
}

/** Maps a `task_dependencies` row to the model. */
export const rowToTaskDependency = (row: TaskDependencyRow): TaskDependency => ({
  id: row.id,
  dependentTaskId: row.dependent_task_id,
  prerequisiteTaskId: row.prerequisite_task_id,
  dependencyType: row.dependency_type as DependencyType,
  createdAt: row.created_at,
  resolvedAt: row.resolved_at,
  onFailure: row.on_failure as OnFailure
})

/** Column names of the model's fields, for updates. */
export const TaskColumns = {
  summary: "summary",
  status: "status",
  resultData: "result_data",
  errorMessage: "error_message",
  retryCount: "retry_count",
  maxExecutionTimeoutSeconds: "max_execution_timeout_seconds",
  startedAt: "started_at",
  completedAt: "completed_at",
  lastUpdatedAt: "last_updated_at",
  calculatedPriority: "calculated_priority",
  dependencyDepth: "dependency_depth",
  leaseToken: "lease_token",
  leaseExpiresAt: "lease_expires_at",
  workerId: "worker_id",
  priorityRefreshAt: "priority_refresh_at",
  cancelledBy: "cancelled_by",
  priorityRank: "priority_rank",
  priorityStarved: "priority_starved",
  notBefore: "not_before",
  stallCount: "stall_count",
  ancestorGated: "ancestor_gated"
} as const satisfies Partial<Record<keyof StoredTask, keyof TaskRow>>

/** The fields of a task the queue may change after submission. */
export type TaskPatch = { -readonly [K in keyof typeof TaskColumns]?: StoredTask[K] }

/**
 * `task_audit` as an `AuditEntry`, for both stores: the columns an insert names, an entry's values
 * in that order, and the select list that reads a row back as an entry (aliases quoted: PostgreSQL
 * folds unquoted names to lower case).
 */
export const AUDIT_INSERT_COLUMNS = "task_id, from_status, to_status, at, actor, reason"
export const auditValues = (e: AuditEntry): [string, string | null, string, string, string | null, string | null] => [
  e.taskId,
  e.fromStatus,
  e.toStatus,
  e.at,
  e.actor,
  e.reason
]
export const AUDIT_ENTRY_COLUMNS = `task_id AS "taskId", from_status AS "fromStatus", to_status AS "toStatus", at, actor, reason`
