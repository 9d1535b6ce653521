import {
  AddDependencyInput,
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
  TreeNode,
  withFieldDocs
} from "@abathur/domain"
import { z } from "zod"

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

type Json = Record<string, unknown>

const uuid = { type: "string", format: "uuid" }
const edgeOptions = {
  onFailure: {
    $ref: "#/components/schemas/OnFailure",
    description: "cancel (default): a FAILED or CANCELLED task in the prerequisite's subtree cancels this task; ignore: run once that subtree has finished, whatever the outcome."
  },
  dependencyType: { $ref: "#/components/schemas/DependencyType", description: "This edge's type (default: the task's dependencyType)." }
}

/**
 * The JSON Schemas zod cannot write itself: a `dependsOn` item is a string or an edge object
 * (the domain parses it with a transform), and the fields added in December 2026 get a description.
 */
const dependsOnItems: Readonly<Record<string, Json>> = {
  SubmitTaskInput: {
    description: "A prerequisite: its id, or an edge object.",
    oneOf: [uuid, { type: "object", properties: { id: uuid, ...edgeOptions }, required: ["id"], additionalProperties: false }]
  },
  PlanNode: {
    description: "A prerequisite: a key of the plan or a task id (a key wins), or an edge object naming exactly one of `key` or `id`.",
    oneOf: [
      { type: "string" },
      {
        type: "object",
        properties: { key: { type: "string", description: "A key of this plan." }, id: { ...uuid, description: "An existing task's id." }, ...edgeOptions },
        additionalProperties: false
      }
    ]
  }
}
const addedFields: Readonly<Record<string, string>> = {
  notBefore: "ISO-8601 UTC: the task is not claimed before this instant (it is READY, waiting for it).",
  idempotencyKey: "1..200 characters: a submit with a key that names an existing task returns that task and creates nothing (200); other fields with the same key: 409 IdempotencyConflict.",
  retryBackoffSeconds: "Base of the exponential wait (with jitter) before a failed attempt is retried; 0 retries at once; default ABATHUR_RETRY_BACKOFF (5)."
}

const describeAdded = (id: string, schema: Json): void => {
  const properties = schema["properties"]
  if (typeof properties !== "object" || properties === null) return
  const props = properties as Record<string, Json>
  const items = dependsOnItems[id]
  if (items !== undefined && props["dependsOn"] !== undefined) props["dependsOn"] = { ...props["dependsOn"], items }
  for (const [name, description] of Object.entries(addedFields)) {
    const p = props[name]
    if (p !== undefined && p["description"] === undefined) props[name] = { ...p, description }
  }
  if (id === "PlanInput" && props["idempotencyKey"] !== undefined) {
    props["idempotencyKey"] = {
      ...props["idempotencyKey"],
      description: "1..200 characters: posting the plan again with this key returns the same tasks (200) and creates nothing; another plan with it: 409 IdempotencyConflict."
    }
  }
}

/** Objects whose every property is always present in answers (defaults filled in). */
const complete = new Set(["Task"])

/**
 * The components of the API document, generated from the zod schemas (input side, so that
 * requests read as clients write them; the Task model lists every field as required because
 * answers always carry them).
 */
export const jsonSchemas = (): Record<string, Json> => {
  const registry = z.registry<{ id: string }>()
  for (const [id, schema] of components) registry.add(schema, { id })
  const generated = z.toJSONSchema(registry, {
    io: "input",
    unrepresentable: "any",
    uri: (id) => `#/components/schemas/${id}`
  }) as { schemas: Record<string, Json> }
  const out: Record<string, Json> = {}
  for (const [id, schema] of Object.entries(generated.schemas)) {
    const { $schema: _s, $id: _i, ...rest } = schema
    if (complete.has(id) && typeof rest["properties"] === "object" && rest["properties"] !== null) {
      const properties = rest["properties"] as Record<string, Json>
      rest["required"] = Object.keys(properties)
      for (const p of Object.values(properties)) delete p["default"]
    }
    // Request bodies: every property says what it means, in the words of the CLI and MCP (FieldDocs).
    out[id] = id.endsWith("Input") || id === "PlanNode" ? withFieldDocs(rest, id) : rest
    describeAdded(id, out[id]!)
  }
  return out
}
