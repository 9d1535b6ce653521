import {
  AddDependencyInput,
  ClaimInput,
  CompleteInput,
  DependencyLink,
  DependencyType,
  ErrorBody,
  FailInput,
  GraphFormat,
  HeartbeatInput,
  JsonTree,
  OnFailure,
  PlanInput,
  PlanNode,
  ReleaseInput,
  SubmitTaskInput,
  Task,
  TaskId,
  TaskSource,
  TaskStatus,
  withFieldDocs
} from "@abathur/domain"
import * as z from "zod"

/**
 * Schemas of the HTTP API. Request bodies are the domain's own zod schemas (the queue validates
 * with the same ones); the server adds the few bodies it parses itself (cancel, retry) and
 * zod descriptions of the answers it prints, built on the domain's Task. The OpenAPI document is
 * generated from this registry.
 */

/** `POST /v1/tasks/{id}/cancel`: an optional reason, kept in the audit trail. */
export const CancelInput = z.strictObject({
  reason: z.string({ error: "reason must be a string" }).optional()
})

/** `POST /v1/tasks/{id}/retry` takes no fields. */
export const RetryInput = z.strictObject({})

const Timestamp = z.string().meta({ format: "date-time", description: "ISO-8601 UTC" })
const Ids = z.array(TaskId)

export const ClaimedTask = z
  .intersection(Task, z.object({ leaseToken: z.string(), leaseExpiresAt: Timestamp }))
  .meta({ description: "A claimed task carries its lease: pass leaseToken to heartbeat, complete and fail." })

export const PriorityBreakdown = z
  .object({ base: z.number(), urgency: z.number(), dependency: z.number(), starvation: z.number(), source: z.number() })
  .meta({ description: "The factor scores (0..100) whose weighted mean is calculatedPriority." })

export const SubtreeProgress = z
  .object({ total: z.number().int(), completed: z.number().int(), open: z.number().int(), failed: z.number().int(), cancelled: z.number().int() })
  .meta({
    description:
      "Counts over the task's descendants (not the task itself). Its dependents wait until open is 0; a failed or cancelled descendant cancels them (edges with onFailure cancel)."
  })

export const TaskDetail = z.intersection(
  Task,
  z.object({
    prerequisites: z.array(DependencyLink),
    dependents: z.array(DependencyLink),
    children: Ids,
    subtree: SubtreeProgress,
    priorityBreakdown: PriorityBreakdown
  })
)

export const PlanResult = z.object({ tasks: z.record(z.string(), Task) }).meta({ description: "The new tasks by plan key." })
export const CompleteResult = z.object({ task: Task, unblocked: Ids, next: ClaimedTask.nullable().optional() }).meta({
  description:
    "The completed task, and the dependents that became ready; with `next` in the request, the task claimed in the same transaction (null when none was ready)."
})
export const ClaimedTasks = z.object({ tasks: z.array(ClaimedTask) }).meta({
  description: "The tasks claimed in one transaction (`limit`), best first."
})
export const FailResult = z.object({ task: Task, retried: z.boolean(), cancelled: Ids }).meta({
  description: "retried: the task went back to READY (retries remain); otherwise it FAILED and `cancelled` lists its cancelled dependents."
})
export const CancelResult = z.object({ task: Task, cancelled: Ids }).meta({
  description: "The cancelled task, and the ids cancelled with it (transitive dependents and subtasks)."
})
export const RetryResult = z.object({ task: Task, revived: Ids }).meta({
  description: "The task back to READY, and the dependents its failure had cancelled that came back."
})
export const QueueStatus = z.object({
  total: z.number().int(),
  byStatus: z.object(Object.fromEntries(TaskStatus.options.map((s) => [s, z.number().int()])) as Record<TaskStatus, z.ZodNumber>),
  avgPriority: z.number().nullable().meta({ description: "Over open tasks; null when none." }),
  maxDepth: z.number().int().nullable().meta({ description: "Largest dependency depth of open tasks; null when none." }),
  oldestWaitingAt: Timestamp.nullable().meta({ description: "Earliest submittedAt among READY and BLOCKED tasks." })
})
export const ExecutionPlan = z.object({
  batches: z.array(Ids).meta({ description: "Layers of open tasks: each batch can run in parallel once the previous ones are done." }),
  totalBatches: z.number().int(),
  maxParallelism: z.number().int()
})
export const GraphDocument = z.object({ format: GraphFormat, text: z.string() })
export interface TreeNodeDoc {
  readonly task: z.input<typeof Task>
  readonly subtree: z.input<typeof SubtreeProgress>
  readonly children: ReadonlyArray<TreeNodeDoc>
}
export const TreeNode: z.ZodType<TreeNodeDoc> = z.lazy(() => z.object({ task: Task, subtree: SubtreeProgress, children: z.array(TreeNode) }))
export const AuditEntry = z.object({
  taskId: TaskId,
  fromStatus: TaskStatus.nullable(),
  toStatus: TaskStatus,
  at: Timestamp,
  actor: z.string().nullable(),
  reason: z.string().nullable()
})
export const TaskChange = z
  .object({ taskId: TaskId, from: TaskStatus.nullable(), to: TaskStatus, at: Timestamp })
  .meta({ description: "The data of an `event: task` on GET /v1/events." })
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
