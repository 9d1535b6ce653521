import * as z from "zod"
import { DependencyType } from "./DependencyType.js"
import { SubtreeProgress } from "./Hierarchy.js"
import { GraphFormat } from "./Inputs.js"
import { TaskId } from "./Primitives.js"
import { PriorityBreakdown, PriorityExplanation } from "./Priority.js"
import { DependencyLink, OnFailure, Task } from "./Task.js"
import { TaskStatus } from "./TaskStatus.js"

/**
 * What the queue answers, as zod schemas: the types the queue's operations return are derived
 * from them, and the HTTP API's OpenAPI document and the MCP tools' `outputSchema` are generated
 * from them, so that the three say the same thing.
 */

/** A time in an answer (always ISO-8601 UTC, as the queue writes it). */
const Time = z.string().meta({ format: "date-time", description: "ISO-8601 UTC" })
const Ids = z.array(TaskId)

/** A task as a worker receives it from a claim or a heartbeat: with its lease. */
export const ClaimedTask = z
  .intersection(Task, z.object({ leaseToken: z.string(), leaseExpiresAt: Time }))
  .meta({ description: "A claimed task carries its lease: pass leaseToken to heartbeat, complete and fail." })
export type ClaimedTask = z.output<typeof ClaimedTask>

/** What a RUNNING task adds in `list` and `show`: who claimed it and when its lease ends (never the token). */
const RunningFields = {
  worker: z.string().nullable().optional().meta({ description: "A RUNNING task's worker (the claim's worker name, or null)." }),
  leaseExpiresAt: Time.nullable().optional().meta({ description: "When a RUNNING task's lease ends." })
}

/** A task as `list` and `show` give it: a RUNNING task adds `worker` and `leaseExpiresAt`. */
export const ListedTask = z.intersection(Task, z.object(RunningFields))
export type ListedTask = z.output<typeof ListedTask>

/** A task with its neighbourhood and its priority explained, as `show` prints it. */
export const TaskDetail = z.intersection(
  Task,
  z.object({
    ...RunningFields,
    prerequisites: z.array(DependencyLink),
    dependents: z.array(DependencyLink),
    children: Ids,
    subtree: SubtreeProgress,
    priorityBreakdown: PriorityBreakdown,
    priorityExplanation: PriorityExplanation
  })
)
export type TaskDetail = z.output<typeof TaskDetail>

/**
 * A node of `tree`: the task, the progress of its descendants (a COMPLETED task with
 * `subtree.open > 0` has done its own part while its subtasks still run) and its children.
 */
export interface TreeNode {
  readonly task: Task
  readonly subtree: SubtreeProgress
  readonly children: ReadonlyArray<TreeNode>
}
interface TreeNodeInput {
  readonly task: z.input<typeof Task>
  readonly subtree: z.input<typeof SubtreeProgress>
  readonly children: ReadonlyArray<TreeNodeInput>
}
export const TreeNode: z.ZodType<TreeNode, TreeNodeInput> = z.lazy(() =>
  z.object({ task: Task, subtree: SubtreeProgress, children: z.array(TreeNode) })
)

/** An edge of `graph`: a dependency (prerequisite -> dependent) or a subtask (parent -> child). */
export const GraphLink = z.object({
  from: TaskId,
  to: TaskId,
  resolved: z.boolean(),
  kind: z.enum(["dependency", "subtask"]),
  /** The dependency's type; null for a subtask link. */
  type: DependencyType.nullable(),
  /** The dependency's failure policy; null for a subtask link. */
  onFailure: OnFailure.nullable()
})
export type GraphLink = z.output<typeof GraphLink>

/** `graph --json`: the rendered text and its format. */
export const GraphDocument = z.object({ format: GraphFormat, text: z.string() })
export type GraphDocument = z.output<typeof GraphDocument>

/** A state change made by an operation (published after commit; an `event: task` on GET /v1/events). */
export const TaskChange = z
  .object({ taskId: TaskId, from: TaskStatus.nullable(), to: TaskStatus, at: Time })
  .meta({ description: "The data of an `event: task` on GET /v1/events." })
export type TaskChange = z.output<typeof TaskChange>

/** One entry of a task's audit trail. */
export const AuditEntry = z.object({
  taskId: TaskId,
  fromStatus: TaskStatus.nullable(),
  toStatus: TaskStatus,
  at: Time,
  actor: z.string().nullable(),
  reason: z.string().nullable()
})
export type AuditEntry = z.output<typeof AuditEntry>

/** Completions and failures in one minute of the audit trail. */
export const ActivityMinute = z.object({
  minute: z.string().meta({ description: "The minute, as YYYY-MM-DDTHH:MM (UTC)." }),
  completed: z.number().int(),
  retried: z.number().int().meta({ description: "Attempts that failed and will be retried." }),
  failed: z.number().int().meta({ description: "Tasks that ended FAILED." })
})
export type ActivityMinute = z.output<typeof ActivityMinute>

/** Completions and failures over a recent window, per minute, from the audit trail. */
export const Activity = z.object({
  since: Time,
  until: Time,
  minutes: z.array(ActivityMinute),
  recentFailures: z.array(AuditEntry).meta({ description: "The newest failed attempts (retried or final), newest first." })
})
export type Activity = z.output<typeof Activity>

/** The answer of `status`. */
export const QueueStatus = z.object({
  total: z.number().int(),
  byStatus: z.object(Object.fromEntries(TaskStatus.options.map((s) => [s, z.number().int()])) as Record<TaskStatus, z.ZodNumber>),
  avgPriority: z.number().nullable().meta({ description: "Over open tasks; null when none." }),
  maxDepth: z.number().int().nullable().meta({ description: "Largest dependency depth of open tasks; null when none." }),
  oldestWaitingAt: Time.nullable().meta({ description: "Earliest submittedAt among READY and BLOCKED tasks." })
})
export type QueueStatus = z.output<typeof QueueStatus>

/** The answer of `plan`: open tasks in batches that can run in parallel. */
export const ExecutionPlan = z.object({
  batches: z
    .array(Ids.readonly())
    .readonly()
    .meta({ description: "Layers of open tasks: each batch can run in parallel once the previous ones are done." }),
  totalBatches: z.number().int(),
  maxParallelism: z.number().int()
})
export type ExecutionPlan = z.output<typeof ExecutionPlan>

/** A submitted plan: the new tasks by plan key. */
export const PlanResult = z.object({ tasks: z.record(z.string(), Task) }).meta({ description: "The new tasks by plan key." })
export type PlanResult = z.output<typeof PlanResult>

/** `complete`: the task, the dependents it made ready, and with `next`, the task claimed in the same transaction. */
export const CompleteResult = z.object({ task: Task, unblocked: Ids, next: ClaimedTask.nullable().optional() }).meta({
  description:
    "The completed task, and the dependents that became ready; with `next` in the request, the task claimed in the same transaction (null when none was ready)."
})
export type CompleteResult = z.output<typeof CompleteResult>

/** `completeMany`: per task what `complete` answers, in the order given; then the tasks claimed by `next`. */
export const CompleteManyResult = z.object({ completed: z.array(CompleteResult.omit({ next: true })), next: z.array(ClaimedTask) }).meta({
  description:
    "Per task of the batch, in its order, the completed task and the dependents it made ready; then the tasks `next` claimed in the same transaction, best first ([] without `next` or when none was ready)."
})
export type CompleteManyResult = z.output<typeof CompleteManyResult>

/** A claim with `limit`: the tasks claimed in one transaction. */
export const ClaimedTasks = z.object({ tasks: z.array(ClaimedTask) }).meta({
  description: "The tasks claimed in one transaction (`limit`), best first."
})
export type ClaimedTasks = z.output<typeof ClaimedTasks>

/** MCP `task_claim` without `limit`: the claimed task or null. */
export const ClaimAnswer = z.object({ task: ClaimedTask.nullable() }).meta({
  description: "The claimed task with its lease, or null when nothing was ready (after waiting up to waitSeconds)."
})
export type ClaimAnswer = z.output<typeof ClaimAnswer>

export const FailResult = z.object({ task: Task, retried: z.boolean(), cancelled: Ids }).meta({
  description: "retried: the task went back to READY (retries remain); otherwise it FAILED and `cancelled` lists its cancelled dependents."
})
export type FailResult = z.output<typeof FailResult>

export const CancelResult = z.object({ task: Task, cancelled: Ids }).meta({
  description: "The cancelled task, and the ids cancelled with it (transitive dependents and subtasks)."
})
export type CancelResult = z.output<typeof CancelResult>

export const RetryResult = z.object({ task: Task, revived: Ids }).meta({
  description: "The task back to READY, and the dependents its failure had cancelled that came back."
})
export type RetryResult = z.output<typeof RetryResult>

/** `list` through MCP (a tool's result is an object). */
export const TaskList = z
  .object({ tasks: z.array(ListedTask) })
  .meta({ description: "Tasks by calculated priority (highest first), then submission time." })
export type TaskList = z.output<typeof TaskList>
