import {
  AddDependencyInput,
  ClaimInput,
  CompleteInput,
  documentedJsonSchema,
  withFieldDocs,
  ExecutionPlanInput,
  FailInput,
  HeartbeatInput,
  ListTasksInput,
  PlanInput,
  ReleaseInput,
  SubmitTaskInput,
  TaskId,
  TaskStatus
} from "@abathur/domain"
import { TaskQueue, type TaskQueueService, ValidationError } from "@abathur/queue"
import { Effect, type Scope } from "effect"
import * as z from "zod"

/** Arguments of a tool call, as the client sent them (validated by the queue, not here). */
export type ToolArguments = Readonly<Record<string, unknown>>

/**
 * What a waiting `task_claim` waits on between attempts. `next` is taken *before* each claim
 * attempt; when the attempt finds nothing, the claim waits on what it returned for at most
 * `millis`, so that a task made ready between the attempt and the wait is not missed. The wait
 * answers `false` to stop waiting early (the host is shutting down): the claim then returns no task.
 */
export interface WorkSignal {
  readonly next: Effect.Effect<(millis: number) => Effect.Effect<boolean>>
}

/**
 * Opens a work signal for one waiting claim, in the scope of that claim (held until it ends): a
 * host that knows when work arrives (the HTTP server's wake-ups) passes its own; the default,
 * `pollForWork()`, sleeps 250 ms between attempts.
 */
export type WaitForWork = Effect.Effect<WorkSignal, never, Scope.Scope>

/** The fallback: retry every `intervalMillis` (stdio `abathur mcp` has no wake-ups of its own). */
export const pollForWork = (intervalMillis = 250): WaitForWork =>
  Effect.succeed({
    next: Effect.succeed((millis: number) => Effect.as(Effect.sleep(Math.min(intervalMillis, Math.max(1, millis))), true))
  })

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
      "{\"id\", \"onFailure\": \"cancel\"|\"ignore\"}), each with all of its subtasks; `parentTaskId` makes it a subtask " +
      "(it also waits for what its parent waits for); `source` says who submits (default agent_planner through MCP). " +
      "`notBefore` delays the start; `idempotencyKey` makes a retried call return the first task instead of a duplicate. " +
      "Returns the Task (status ready or blocked).",
    schema: SubmitTaskInput,
    schemaName: "SubmitTaskInput",
    readOnly: false,
    call: (q, args) => q.submit(args, mcpSubmit)
  },
  {
    name: "task_plan_submit",
    title: "Submit a plan of tasks",
    description:
      "Submit a whole plan at once, all or nothing: `tasks` is a list of nodes with the submit fields plus a `key` " +
      "unique in the plan, `dependsOn` (keys of the plan or existing task ids, or {\"key\"|\"id\", \"onFailure\"}) and nested " +
      "`children` (subtasks, which wait for their parent's prerequisites). Only top-level nodes may set `parentTaskId`. " +
      "A top-level `idempotencyKey` makes a retried call return the same tasks. Returns {\"tasks\": {KEY: Task}}.",
    schema: PlanInput,
    schemaName: "PlanInput",
    readOnly: false,
    call: (q, args) => q.submitPlan(args, mcpSubmit)
  },
  {
    name: "task_get",
    title: "Get a task",
    description:
      "A task with its prerequisites, dependents, children and the priority breakdown (factor scores).",
    schema: z.strictObject({ taskId: TaskId }),
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
      "`offset` (paging). A RUNNING task carries `worker` and `leaseExpiresAt`. Returns {\"tasks\": [Task]}.",
    schemaName: "ListTasksInput",
    schema: ListTasksInput.extend({
      status: z.array(TaskStatus).optional(),
      excludeStatus: z.array(TaskStatus).optional()
    }),
    readOnly: true,
    call: (q, args) => Effect.map(q.list(args), (tasks) => ({ tasks }))
  },
  {
    name: "task_claim",
    title: "Claim the next task",
    description:
      "Claim the most important ready task (optionally only of `agentType`) and lease it for `leaseSeconds` " +
      "(default: the task's timeout). `waitSeconds` (0..60) waits for work to become ready. Returns " +
      "{\"task\": Task|null}; the task carries `leaseToken` and `leaseExpiresAt`: pass the token to task_complete " +
      "or task_fail. With `limit` (1..100), claims up to that many tasks in one transaction and returns " +
      "{\"tasks\": [Task]} (empty when none is ready).",
    schema: ClaimInput,
    schemaName: "ClaimInput",
    readOnly: false,
    call: (q, args, context) => claimWaiting(q, args, context.waitForWork)
  },
  {
    name: "task_complete",
    title: "Complete a task",
    description:
      "Complete a running task with an optional JSON `result`. Pass the `leaseToken` from the claim: if the task " +
      "was reclaimed meanwhile, or no token is given, the result is refused (LeaseMismatch); `force: true` lets an " +
      "operator complete it without the token. Returns {\"task\", \"unblocked\": [id]}. With `next` " +
      "({worker?, leaseSeconds?, agentType?}), the same transaction claims the next task and the answer adds " +
      "\"next\": Task|null.",
    schema: withTaskId(CompleteInput),
    schemaName: "CompleteInput",
    readOnly: false,
    call: (q, args) => Effect.flatMap(taskIdOf(args), (id) => q.complete(id, rest(args), { actor: "mcp" }))
  },
  {
    name: "task_fail",
    title: "Fail a task",
    description:
      "Report that a running task's attempt failed, with an `error` text. It is retried while retries remain; " +
      "otherwise it fails and its dependents are cancelled. Pass the `leaseToken` from the claim (or `force: true` " +
      "as an operator). Returns {\"task\", \"retried\", \"cancelled\": [id]}.",
    schema: withTaskId(FailInput),
    schemaName: "FailInput",
    readOnly: false,
    call: (q, args) => Effect.flatMap(taskIdOf(args), (id) => q.fail(id, rest(args), { actor: "mcp" }))
  },
  {
    name: "task_cancel",
    title: "Cancel a task",
    description:
      "Cancel a task that is not finished; its open dependents and subtasks are cancelled too. Returns " +
      "{\"task\", \"cancelled\": [id]} (the ids cancelled besides the task).",
    schema: z.strictObject({ taskId: TaskId }),
    readOnly: false,
    call: (q, args) =>
      Effect.flatMap(taskIdOf(args), (id) =>
        Object.keys(rest(args)).length > 0
          ? Effect.fail(new ValidationError({ message: `unknown fields ${Object.keys(rest(args)).map((k) => JSON.stringify(k)).join(", ")}: task_cancel takes only taskId` }))
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
    readOnly: false,
    call: (q, args) => Effect.flatMap(taskIdOf(args), (id) => q.release(id, rest(args), { actor: "mcp" }))
  },
  {
    name: "task_retry",
    title: "Retry a failed task",
    description:
      "Put a failed task back to ready with its retries reset; the dependents its failure cancelled come back " +
      "unless another failed or cancelled prerequisite still dooms them. Returns {\"task\", \"revived\": [id]}.",
    schema: z.strictObject({ taskId: TaskId }),
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
      "Counts by status, the average priority and largest dependency depth of open tasks, and the submission " +
      "time of the oldest waiting task.",
    schema: z.strictObject({}),
    readOnly: true,
    call: (q) => q.status()
  },
  {
    name: "task_execution_plan",
    title: "Execution plan",
    description:
      "Open tasks (or the named `taskIds` with their open prerequisites) in batches that can run in parallel, " +
      "in dependency order. Returns {\"batches\": [[id]], \"totalBatches\", \"maxParallelism\"}.",
    schema: ExecutionPlanInput,
    schemaName: "ExecutionPlanInput",
    readOnly: true,
    call: (q, args) => q.executionPlan(args)
  }
]

/** A claim that waits up to `waitSeconds` for a task to become ready, woken by `waitForWork`. */
const claimWaiting = (q: TaskQueueService, args: ToolArguments, waitForWork: WaitForWork): Effect.Effect<object, unknown> =>
  Effect.gen(function* () {
    const waitSeconds = typeof args["waitSeconds"] === "number" ? args["waitSeconds"] : 0
    // With `limit`: up to that many tasks in one transaction, answered as {"tasks": [...]}.
    const many = args["limit"] !== undefined
    const claimNow = many
      ? Effect.map(q.claimMany(args), (tasks) => ({ found: tasks.length > 0, answer: { tasks } }))
      : Effect.map(q.claim(args), (task) => ({ found: task !== null, answer: { task } }))
    const none = many ? { tasks: [] } : { task: null }
    if (!(waitSeconds > 0)) return (yield* claimNow).answer
    const deadline = Date.now() + Math.min(waitSeconds, 60) * 1000
    const signal = yield* waitForWork
    for (;;) {
      const wait = yield* signal.next
      const claimed = yield* claimNow
      const left = deadline - Date.now()
      if (claimed.found || left <= 0) return claimed.answer
      if (!(yield* wait(left))) return none
    }
  }).pipe(Effect.scoped)

/**
 * The JSON Schema a client sees for a tool: the domain schema's input side, every property with its
 * field's description (FieldDocs), recursive parts under readable names (PlanNode, JsonValue).
 */
export const jsonSchemaOf = (schema: z.ZodType, schemaName?: string): Record<string, unknown> => {
  const json = documentedJsonSchema(schema, schemaName === undefined ? {} : { name: schemaName })
  describeSubmitFields(json)
  // The edge objects describeSubmitFields writes get their properties' descriptions too.
  return withFieldDocs(json, schemaName)
}

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

const uuidJson = { type: "string", pattern: "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$" }
const edgeJson = {
  onFailure: { type: "string", enum: ["cancel", "ignore"], description: onFailureDoc },
  dependencyType: { type: "string", enum: ["sequential", "parallel"], description: "This edge's type (default: the task's dependencyType)." }
}
const submitFieldDocs: Readonly<Record<string, string>> = {
  notBefore: "ISO-8601 time: the task is not claimed before it (it waits as ready). Omit to start as soon as it is ready.",
  idempotencyKey:
    "1..200 characters, unique per piece of work: calling again with the same key and fields returns the first result and creates nothing; " +
    "the same key with other fields is IdempotencyConflict (with taskId).",
  retryBackoffSeconds: "Base of the exponential wait (with jitter) before a failed attempt is retried; 0 retries at once; default 5."
}

/**
 * Fills in what zod cannot write for the submit fields: a `dependsOn` item is an id (or a plan
 * key) or an edge object (the domain parses it with a transform, seen as `{}`); the fields of
 * delayed starts, idempotency and backoff get their descriptions. Walks nested definitions (plan nodes).
 */
const describeSubmitFields = (node: unknown): void => {
  if (typeof node !== "object" || node === null) return
  if (Array.isArray(node)) {
    for (const n of node) describeSubmitFields(n)
    return
  }
  const o = node as Record<string, unknown>
  const props = o["properties"]
  if (typeof props === "object" && props !== null && !Array.isArray(props)) {
    const p = props as Record<string, Record<string, unknown>>
    const plan = "key" in p && "children" in p
    const dependsOn = p["dependsOn"]
    if (dependsOn !== undefined && typeof dependsOn["items"] === "object" && Object.keys(dependsOn["items"] as object).length === 0) {
      p["dependsOn"] = {
        ...dependsOn,
        description: typeof dependsOn["description"] === "string" ? dependsOn["description"] : plan
          ? "Prerequisites: keys of this plan or existing task ids (a key wins), or {\"key\"|\"id\": ..., \"onFailure\"?, \"dependencyType\"?}. Each waits with all of its subtasks."
          : "Prerequisites: existing task ids, or {\"id\", \"onFailure\"?, \"dependencyType\"?}. Each waits with all of its subtasks.",
        items: plan
          ? { anyOf: [{ type: "string" }, { type: "object", properties: { key: { type: "string" }, id: uuidJson, ...edgeJson }, additionalProperties: false }] }
          : { anyOf: [uuidJson, { type: "object", properties: { id: uuidJson, ...edgeJson }, required: ["id"], additionalProperties: false }] }
      }
    }
    for (const [name, description] of Object.entries(submitFieldDocs)) {
      const field = p[name]
      if (field !== undefined && field["description"] === undefined) p[name] = { ...field, description }
    }
    if ("tasks" in p && p["idempotencyKey"] !== undefined) {
      p["idempotencyKey"] = {
        ...p["idempotencyKey"],
        description: "1..200 characters: calling again with the same key and plan returns the same tasks and creates nothing; another plan with it is IdempotencyConflict."
      }
    }
  }
  for (const [k, v] of Object.entries(o)) if (k !== "properties") describeSubmitFields(v)
  if (typeof props === "object" && props !== null) for (const v of Object.values(props)) describeSubmitFields(v)
}

/**
 * The schema registered with the SDK: it advertises the domain schema's JSON Schema but accepts any
 * object, so that the queue validates the arguments with the same domain schema and a bad argument
 * comes back as the contract's ValidationError (the SDK's own check would answer in its own words).
 */
export const advertisedSchema = (schema: z.ZodType, schemaName?: string) => z.looseObject({}).meta(jsonSchemaOf(schema, schemaName))

/** Runs a tool's operation against the queue service. */
export const callTool = (tool: ToolDefinition, args: ToolArguments, context: ToolContext = defaultContext) =>
  Effect.zipRight(knownArguments(tool, args), Effect.flatMap(TaskQueue, (queue) => tool.call(queue, args, context)))
