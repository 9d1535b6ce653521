import {
  AddDependencyInput,
  CancelResult,
  ClaimAnswer,
  ClaimedTask,
  ClaimedTasks,
  CompleteResult,
  ExecutionPlan,
  FailResult,
  PlanResult,
  QueueStatus,
  RetryResult,
  Task,
  TaskDetail,
  TaskList,
  ClaimInput,
  CompleteInput,
  documentedJsonSchema,
  ExecutionPlanInput,
  FailInput,
  HeartbeatInput,
  MAX_CLAIM_WAIT_SECONDS,
  ListTasksInput,
  PlanInput,
  ReleaseInput,
  SubmitTaskInput,
  TaskId,
  TaskStatus
} from "@abathur/domain"
import { pollForWork, TaskQueue, type TaskQueueService, ValidationError, type WaitForWork } from "@abathur/queue"
import { Effect } from "effect"
import * as z from "zod"

/** Arguments of a tool call, as the client sent them (validated by the queue, not here). */
export type ToolArguments = Readonly<Record<string, unknown>>

/** How a waiting `task_claim` waits (the queue's; re-exported for hosts that pass their own). */
export { pollForWork, type WaitForWork, type WorkSignal } from "@abathur/queue"

/** What a tool may use besides the queue. */
export interface ToolContext {
  readonly waitForWork: WaitForWork
}

const defaultContext: ToolContext = { waitForWork: pollForWork() }

/** One MCP tool: its name, description, the domain schema it advertises and what it does. */
export interface ToolDefinition {
  readonly name: string
  readonly title: string
  readonly description: string
  /** The domain schema the arguments follow (advertised as the tool's JSON Schema). */
  readonly schema: z.ZodType
  /** The domain schema's name, where a field means something more specific (FieldDocsIn). */
  readonly schemaName?: string
  /** The domain schema of the result (advertised as the tool's output JSON Schema). */
  readonly output: z.ZodType
  readonly readOnly: boolean
  readonly call: (queue: TaskQueueService, args: ToolArguments, context: ToolContext) => Effect.Effect<object, unknown>
}

/** `taskId` of a tool that acts on one task; a missing one is a ValidationError. */
const taskIdOf = (args: ToolArguments): Effect.Effect<string, ValidationError> => {
  const id = args["taskId"]
  return typeof id === "string"
    ? Effect.succeed(id)
    : Effect.fail(new ValidationError({ message: "taskId is required: the id of the task to act on (a UUID)" }))
}

/** The arguments without `taskId`, passed to the queue as the operation's input. */
const rest = (args: ToolArguments): Record<string, unknown> => {
  const { taskId: _id, ...others } = args
  return others
}

const withTaskId = <S extends z.ZodObject>(schema: S) => schema.extend({ taskId: TaskId })

/** Agents submit through MCP: a task that names no source is `agent_planner` (it never outranks people by omission). */
const mcpSubmit = { actor: "mcp", defaultSource: "agent_planner" } as const

const onFailureDoc =
  "cancel (default): when the prerequisite or any of its subtasks ends failed or cancelled, this task is cancelled too " +
  "(task_retry of the failed task revives it); ignore: this task runs once the prerequisite's whole subtree has finished, whatever the outcome."

/** `task_dependency_add`: the edge and its options, on the dependent `taskId`. */
const DependencyAddArgs = z.strictObject({
  taskId: TaskId.describe("The dependent: the task that will wait (pending, blocked or ready)."),
  prerequisiteId: TaskId.describe("The task to wait for, with all of its subtasks."),
  dependencyType: AddDependencyInput.shape.dependencyType.describe("sequential or parallel (default: the dependent's own dependencyType)."),
  onFailure: AddDependencyInput.shape.onFailure.describe(onFailureDoc)
})

/** `task_dependency_remove`: the edge `taskId -> prerequisiteId`. */
const DependencyRemoveArgs = z.strictObject({
  taskId: TaskId.describe("The dependent (pending, blocked or ready) that should stop waiting."),
  prerequisiteId: TaskId.describe("The prerequisite it should no longer wait for.")
})

/** The contract's tools, over the queue service. Results are the CLI's `--json` documents. */
export const toolDefinitions: ReadonlyArray<ToolDefinition> = [
  {
    name: "task_enqueue",
    title: "Enqueue a task",
    description:
      "Submit one task to the queue. `prompt` is required; `dependsOn` lists existing tasks it waits for (ids, or " +
      '{"id", "onFailure": "cancel"|"ignore"}), each with all of its subtasks; `parentTaskId` makes it a subtask ' +
      "(it also waits for what its parent waits for); `source` says who submits (default agent_planner through MCP). " +
      "`notBefore` delays the start; `idempotencyKey` makes a retried call return the first task instead of a duplicate. " +
      "Returns the Task (status ready or blocked).",
    schema: SubmitTaskInput,
    schemaName: "SubmitTaskInput",
    output: Task,
    readOnly: false,
    call: (q, args) => q.submit(args, mcpSubmit)
  },
  {
    name: "task_plan_submit",
    title: "Submit a plan of tasks",
    description:
      "Submit a whole plan at once, all or nothing: `tasks` is a list of nodes with the submit fields plus a `key` " +
      'unique in the plan, `dependsOn` (keys of the plan or existing task ids, or {"key"|"id", "onFailure"}) and nested ' +
      "`children` (subtasks, which wait for their parent's prerequisites). Only top-level nodes may set `parentTaskId`. " +
      'A top-level `idempotencyKey` makes a retried call return the same tasks. Returns {"tasks": {KEY: Task}}.',
    schema: PlanInput,
    schemaName: "PlanInput",
    output: PlanResult,
    readOnly: false,
    call: (q, args) => q.submitPlan(args, mcpSubmit)
  },
  {
    name: "task_get",
    title: "Get a task",
    description: "A task with its prerequisites, dependents, children and the priority breakdown (factor scores).",
    schema: z.strictObject({ taskId: TaskId }),
    output: TaskDetail,
    readOnly: true,
    call: (q, args) => Effect.flatMap(taskIdOf(args), (id) => q.get(id))
  },
  {
    name: "task_list",
    title: "List tasks",
    description:
      "Tasks by calculated priority (highest first), then submission time (oldest first). Filter with `status` " +
      "and `excludeStatus` (lists of pending, blocked, ready, running, completed, failed, cancelled), `source`, " +
      "`parentTaskId`, `text` (prompt or summary contains it, any case, or the id starts with it), `limit` and " +
      '`offset` (paging). A RUNNING task carries `worker` and `leaseExpiresAt`. Returns {"tasks": [Task]}.',
    schemaName: "ListTasksInput",
    schema: ListTasksInput.extend({
      status: z.array(TaskStatus).optional(),
      excludeStatus: z.array(TaskStatus).optional()
    }),
    output: TaskList,
    readOnly: true,
    call: (q, args) => Effect.map(q.list(args), (tasks) => ({ tasks }))
  },
  {
    name: "task_claim",
    title: "Claim the next task",
    description:
      "Claim the most important ready task (optionally only of `agentType`) and lease it for `leaseSeconds` " +
      `(default: the task's timeout). \`waitSeconds\` (0..${MAX_CLAIM_WAIT_SECONDS}) waits for work to become ready. Returns ` +
      '{"task": Task|null}; the task carries `leaseToken` and `leaseExpiresAt`: pass the token to task_complete ' +
      "or task_fail. With `limit` (1..100), claims up to that many tasks in one transaction and returns " +
      '{"tasks": [Task]} (empty when none is ready).',
    schema: ClaimInput,
    schemaName: "ClaimInput",
    output: z.union([ClaimAnswer, ClaimedTasks]),
    readOnly: false,
    call: (q, args, context) => claimTool(q, args, context.waitForWork)
  },
  {
    name: "task_complete",
    title: "Complete a task",
    description:
      "Complete a running task with an optional JSON `result`. Pass the `leaseToken` from the claim: if the task " +
      "was reclaimed meanwhile, or no token is given, the result is refused (LeaseMismatch); `force: true` lets an " +
      'operator complete it without the token. Returns {"task", "unblocked": [id]}. With `next` ' +
      "({worker?, leaseSeconds?, agentType?}), the same transaction claims the next task and the answer adds " +
      '"next": Task|null.',
    schema: withTaskId(CompleteInput),
    schemaName: "CompleteInput",
    output: CompleteResult,
    readOnly: false,
    call: (q, args) => Effect.flatMap(taskIdOf(args), (id) => q.complete(id, rest(args), { actor: "mcp" }))
  },
  {
    name: "task_fail",
    title: "Fail a task",
    description:
      "Report that a running task's attempt failed, with an `error` text. It is retried while retries remain; " +
      "otherwise it fails and its dependents are cancelled. Pass the `leaseToken` from the claim (or `force: true` " +
      'as an operator). Returns {"task", "retried", "cancelled": [id]}.',
    schema: withTaskId(FailInput),
    schemaName: "FailInput",
    output: FailResult,
    readOnly: false,
    call: (q, args) => Effect.flatMap(taskIdOf(args), (id) => q.fail(id, rest(args), { actor: "mcp" }))
  },
  {
    name: "task_cancel",
    title: "Cancel a task",
    description:
      "Cancel a task that is not finished; its open dependents and subtasks are cancelled too. Returns " +
      '{"task", "cancelled": [id]} (the ids cancelled besides the task).',
    schema: z.strictObject({ taskId: TaskId }),
    output: CancelResult,
    readOnly: false,
    call: (q, args) =>
      Effect.flatMap(taskIdOf(args), (id) =>
        Object.keys(rest(args)).length > 0
          ? Effect.fail(
              new ValidationError({
                message: `unknown fields ${Object.keys(rest(args))
                  .map((k) => JSON.stringify(k))
                  .join(", ")}: task_cancel takes only taskId`
              })
            )
          : q.cancel(id, { actor: "mcp" })
      )
  },
  {
    name: "task_heartbeat",
    title: "Renew a lease",
    description:
      "Renew the lease of a running task you claimed, for `leaseSeconds` from now (default: the task's timeout). Pass " +
      "the `leaseToken` from the claim: if the task was claimed again meanwhile, the renewal is refused (LeaseMismatch). " +
      "Returns the Task with its `leaseToken` and new `leaseExpiresAt`.",
    schema: withTaskId(HeartbeatInput),
    schemaName: "HeartbeatInput",
    output: ClaimedTask,
    readOnly: false,
    call: (q, args) => Effect.flatMap(taskIdOf(args), (id) => q.heartbeat(id, rest(args)))
  },
  {
    name: "task_release",
    title: "Release a task",
    description:
      "Give a running task back: it returns to ready without spending a retry (e.g. when you stop before finishing). " +
      "Pass the `leaseToken` from the claim. Returns the Task.",
    schema: withTaskId(ReleaseInput),
    schemaName: "ReleaseInput",
    output: Task,
    readOnly: false,
    call: (q, args) => Effect.flatMap(taskIdOf(args), (id) => q.release(id, rest(args), { actor: "mcp" }))
  },
  {
    name: "task_retry",
    title: "Retry a failed task",
    description:
      "Put a failed task back to ready with its retries reset; the dependents its failure cancelled come back " +
      'unless another failed or cancelled prerequisite still dooms them. Returns {"task", "revived": [id]}.',
    schema: z.strictObject({ taskId: TaskId }),
    output: RetryResult,
    readOnly: false,
    call: (q, args) => Effect.flatMap(taskIdOf(args), (id) => q.retry(id, { actor: "mcp" }))
  },
  {
    name: "task_dependency_add",
    title: "Add a prerequisite",
    description:
      "Make the task `taskId` (pending, blocked or ready) wait for `prerequisiteId` and all of its subtasks. `onFailure`: " +
      "cancel (default) or ignore. A cycle is refused (DependencyCycle with its path); an existing edge changes nothing. " +
      "Returns the dependent task in detail.",
    schema: DependencyAddArgs,
    output: TaskDetail,
    readOnly: false,
    call: (q, args) => Effect.flatMap(taskIdOf(args), (id) => q.addDependency(id, rest(args), { actor: "mcp" }))
  },
  {
    name: "task_dependency_remove",
    title: "Remove a prerequisite",
    description:
      "The task `taskId` (pending, blocked or ready) stops waiting for `prerequisiteId`; it becomes ready when that was its " +
      "last open edge and its parent waits for nothing. TaskNotFound when there is no such edge. Returns the dependent task in detail.",
    schema: DependencyRemoveArgs,
    output: TaskDetail,
    readOnly: false,
    call: (q, args) =>
      Effect.flatMap(taskIdOf(args), (id) =>
        q.removeDependency(id, typeof args["prerequisiteId"] === "string" ? args["prerequisiteId"] : "", { actor: "mcp" })
      )
  },
  {
    name: "task_queue_status",
    title: "Queue status",
    description:
      "Counts by status, the average priority and largest dependency depth of open tasks, and the submission " + "time of the oldest waiting task.",
    schema: z.strictObject({}),
    output: QueueStatus,
    readOnly: true,
    call: (q) => q.status()
  },
  {
    name: "task_execution_plan",
    title: "Execution plan",
    description:
      "Open tasks (or the named `taskIds` with their open prerequisites) in batches that can run in parallel, " +
      'in dependency order. Returns {"batches": [[id]], "totalBatches", "maxParallelism"}.',
    schema: ExecutionPlanInput,
    schemaName: "ExecutionPlanInput",
    output: ExecutionPlan,
    readOnly: true,
    call: (q, args) => q.executionPlan(args)
  }
]

/** `task_claim`: `{"task": Task|null}`, or `{"tasks": [Task]}` with `limit`, after waiting up to `waitSeconds`. */
const claimTool = (q: TaskQueueService, args: ToolArguments, waitForWork: WaitForWork): Effect.Effect<object, unknown> =>
  Effect.map(q.claimWaiting(args, { waitForWork }), (tasks) => (args["limit"] !== undefined ? { tasks } : { task: tasks[0] ?? null }))

/**
 * The JSON Schema a client sees for a tool: the domain schema's input side, every property with its
 * field's description (FieldDocs), recursive parts under readable names (PlanNode, JsonValue).
 */
export const jsonSchemaOf = (schema: z.ZodType, schemaName?: string): Record<string, unknown> =>
  documentedJsonSchema(schema, schemaName === undefined ? {} : { name: schemaName })

/** The argument names a tool accepts (the properties of its JSON Schema). */
export const acceptedArguments = (tool: ToolDefinition): ReadonlyArray<string> => {
  let accepted = acceptedByTool.get(tool)
  if (accepted === undefined) {
    const properties = jsonSchemaOf(tool.schema)["properties"]
    accepted = typeof properties === "object" && properties !== null ? Object.keys(properties) : []
    acceptedByTool.set(tool, accepted)
  }
  return accepted
}
const acceptedByTool = new WeakMap<ToolDefinition, ReadonlyArray<string>>()

/** Unknown arguments are a ValidationError that lists the accepted ones (as HTTP does for query parameters). */
const knownArguments = (tool: ToolDefinition, args: ToolArguments): Effect.Effect<void, ValidationError> => {
  const accepted = acceptedArguments(tool)
  const unknown = Object.keys(args).filter((k) => !accepted.includes(k))
  return unknown.length === 0
    ? Effect.void
    : Effect.fail(
        new ValidationError({
          message:
            `unknown argument${unknown.length === 1 ? "" : "s"} ${unknown.map((k) => JSON.stringify(k)).join(", ")} for ${tool.name}: ` +
            `remove ${unknown.length === 1 ? "it" : "them"} or fix the spelling (accepted: ${accepted.join(", ") || "none"})`
        })
      )
}

/**
 * The schema registered with the SDK: it advertises the domain schema's JSON Schema but accepts any
 * object, so that the queue validates the arguments with the same domain schema and a bad argument
 * comes back as the contract's ValidationError (the SDK's own check would answer in its own words).
 */
export const advertisedSchema = (schema: z.ZodType, schemaName?: string) => advertised(schema, () => jsonSchemaOf(schema, schemaName), schemaName)

/**
 * A tool's output schema as registered: it advertises the domain's output schema (an answer: every
 * field of a task present); the results are the queue's own answers, not checked again.
 */
export const advertisedOutput = (schema: z.ZodType) => advertised(schema, () => documentedJsonSchema(schema, { answer: true }), "answer")

/**
 * Built once per schema: the HTTP server makes an MCP server per request (stateless), and
 * generating fifteen tools' JSON Schemas again for each would cost every request.
 */
const anyObject = () => z.looseObject({})
const advertisedCache = new WeakMap<z.ZodType, Map<string, ReturnType<typeof anyObject>>>()
const advertised = (schema: z.ZodType, json: () => Record<string, unknown>, variant = ""): ReturnType<typeof anyObject> => {
  let byVariant = advertisedCache.get(schema)
  if (byVariant === undefined) advertisedCache.set(schema, (byVariant = new Map()))
  let found = byVariant.get(variant)
  if (found === undefined) byVariant.set(variant, (found = anyObject().meta(json())))
  return found
}

/** Runs a tool's operation against the queue service. */
export const callTool = (tool: ToolDefinition, args: ToolArguments, context: ToolContext = defaultContext) =>
  Effect.zipRight(
    knownArguments(tool, args),
    Effect.flatMap(TaskQueue, (queue) => tool.call(queue, args, context))
  )
