import {
  AddDependencyInput,
  documentedJsonSchemas,
  AuditEntry,
  CancelResult,
  ClaimedTask,
  ClaimedTasks,
  ClaimInput,
  CompleteInput,
  CompleteResult,
  DependencyLink,
  DependencyType,
  ErrorBody,
  ExecutionPlan,
  FailInput,
  FailResult,
  GraphDocument,
  GraphFormat,
  HeartbeatInput,
  JsonTree,
  OnFailure,
  PlanInput,
  PlanNode,
  PlanResult,
  PriorityBreakdown,
  PriorityExplanation,
  QueueStatus,
  ReleaseInput,
  RetryResult,
  SubmitTaskInput,
  SubtreeProgress,
  Task,
  TaskChange,
  TaskDetail,
  TaskSource,
  TaskStatus,
  TreeNode
} from "@abathur/domain"
import * as z from "zod"

/**
 * Schemas of the HTTP API. Request bodies and answers are the domain's own zod schemas (the queue
 * validates with the same inputs and answers the same outputs); the server adds the few bodies it
 * parses itself (cancel, retry). The OpenAPI document is generated from this registry.
 */

/** `POST /v1/tasks/{id}/cancel`: an optional reason, kept in the audit trail. */
export const CancelInput = z.strictObject({
  reason: z.string({ error: "reason must be a string" }).optional()
})

/** `POST /v1/tasks/{id}/retry` takes no fields. */
export const RetryInput = z.strictObject({})

export const Health = z.object({ status: z.literal("ok") })

/** Every named schema of the API document, by component name. */
export const components: ReadonlyArray<readonly [string, z.ZodType]> = [
  ["Task", Task],
  ["ClaimedTask", ClaimedTask],
  ["TaskDetail", TaskDetail],
  ["TaskStatus", TaskStatus],
  ["TaskSource", TaskSource],
  ["DependencyType", DependencyType],
  ["DependencyLink", DependencyLink],
  ["OnFailure", OnFailure],
  ["SubtreeProgress", SubtreeProgress],
  ["PriorityBreakdown", PriorityBreakdown],
  ["PriorityExplanation", PriorityExplanation],
  // The shape (JsonValue itself checks depth and text first, then parses with it).
  ["JsonValue", JsonTree],
  ["SubmitTaskInput", SubmitTaskInput],
  ["PlanInput", PlanInput],
  ["PlanNode", PlanNode],
  ["AddDependencyInput", AddDependencyInput],
  ["ClaimInput", ClaimInput],
  ["HeartbeatInput", HeartbeatInput],
  ["CompleteInput", CompleteInput],
  ["FailInput", FailInput],
  ["ReleaseInput", ReleaseInput],
  ["CancelInput", CancelInput],
  ["RetryInput", RetryInput],
  ["PlanResult", PlanResult],
  ["CompleteResult", CompleteResult],
  ["ClaimedTasks", ClaimedTasks],
  ["FailResult", FailResult],
  ["CancelResult", CancelResult],
  ["RetryResult", RetryResult],
  ["QueueStatus", QueueStatus],
  ["ExecutionPlan", ExecutionPlan],
  ["GraphFormat", GraphFormat],
  ["GraphDocument", GraphDocument],
  ["TreeNode", TreeNode],
  ["AuditEntry", AuditEntry],
  ["TaskChange", TaskChange],
  ["Error", ErrorBody],
  ["Health", Health]
]

/** Request bodies (and their parts) are documented as inputs; everything else is an answer. */
const isInput = (id: string): boolean => id.endsWith("Input") || id === "PlanNode" || id === "JsonValue"

/**
 * The components of the API document, generated from the zod schemas the way every face documents
 * them (domain `documentedJsonSchemas`): requests read as clients write them, answers list every
 * field of a task as present.
 */
export const jsonSchemas = (): Record<string, Record<string, unknown>> =>
  documentedJsonSchemas(components, { uri: (id) => `#/components/schemas/${id}`, answers: (id) => !isInput(id) })
