import * as z from "zod"
import { DependencyType } from "./DependencyType.js"
import { newTaskId } from "./Ids.js"
import { boundedSeconds, cutCharacters, illFormed, MAX_DURATION_SECONDS, MAX_ESTIMATE_SECONDS, wellFormed } from "./Bounds.js"
import { BasePriority, Instant, JsonObject, JsonValue, nonNegativeInt, positiveInt, TaskId, Timestamp } from "./Primitives.js"
import { TaskSource } from "./TaskSource.js"
import { TaskStatus } from "./TaskStatus.js"

/** Defaults shared by the model and the submission schemas. */
export const TaskDefaults = {
  agentType: "general",
  priority: 5,
  source: "human",
  dependencyType: "sequential",
  maxRetries: 3,
  maxExecutionTimeoutSeconds: 3600,
  calculatedPriority: 5
} as const

/** The longest summary derived from a prompt. */
export const SUMMARY_MAX = 140

/** `summary` defaults to the prompt's first line, cut to 140 characters (code points, never inside a pair). */
export const summarize = (prompt: string): string => {
  const firstLine = (prompt.trim().split(/\r?\n/, 1)[0] ?? "").trimEnd()
  return cutCharacters(firstLine, SUMMARY_MAX)
}

const now = () => new Date().toISOString()

/**
 * A task as stored and returned by every surface (camelCase JSON, times in ISO-8601 UTC).
 * Parsing fills defaults, so `Task.parse({ prompt: "x" })` is a new task.
 */
export const Task = z
  .object({
    id: TaskId.default(newTaskId),
    prompt: z.string(),
    summary: z.string().default(""),
    agentType: z.string().default(TaskDefaults.agentType),
    priority: BasePriority.default(TaskDefaults.priority),
    status: TaskStatus.default("pending"),
    source: TaskSource.default(TaskDefaults.source),
    dependencyType: DependencyType.default(TaskDefaults.dependencyType),
    calculatedPriority: z.number().min(0).max(100).default(TaskDefaults.calculatedPriority),
    deadline: Timestamp.nullable().default(null),
    estimatedDurationSeconds: nonNegativeInt("estimatedDurationSeconds").nullable().default(null),
    dependencyDepth: nonNegativeInt("dependencyDepth").default(0),
    parentTaskId: TaskId.nullable().default(null),
    sessionId: z.string().nullable().default(null),
    inputData: JsonObject.default({}),
    resultData: JsonValue.nullable().default(null),
    errorMessage: z.string().nullable().default(null),
    retryCount: nonNegativeInt("retryCount").default(0),
    maxRetries: nonNegativeInt("maxRetries").default(TaskDefaults.maxRetries),
    maxExecutionTimeoutSeconds: positiveInt("maxExecutionTimeoutSeconds").default(TaskDefaults.maxExecutionTimeoutSeconds),
    submittedAt: Timestamp.default(now),
    startedAt: Timestamp.nullable().default(null),
    completedAt: Timestamp.nullable().default(null),
    lastUpdatedAt: Timestamp.default(now),
    createdBy: z.string().nullable().default(null),
    notBefore: Timestamp.nullable()
      .default(null)
      .meta({ description: "ISO-8601 UTC: the task is not claimed before this instant (it is READY, waiting for it)." }),
    idempotencyKey: z
      .string()
      .nullable()
      .default(null)
      .meta({ description: "The submitter's key: a submit with the same key and fields returns this task." }),
    stallCount: nonNegativeInt("stallCount").default(0).meta({ description: "How often its lease expired without a report (no retry spent)." }),
    retryBackoffSeconds: nonNegativeInt("retryBackoffSeconds").nullable().default(null).meta({
      description:
        "Base of the exponential wait (with jitter) before a failed attempt is retried; 0 retries at once; null: ABATHUR_RETRY_BACKOFF (5)."
    })
  })
  .transform((task) => (task.summary === "" ? { ...task, summary: summarize(task.prompt) } : task))
export type Task = z.output<typeof Task>

/**
 * What an edge does when its prerequisite's subtree ends badly: `cancel` (the default) cancels
 * the dependent as soon as the prerequisite or any of its descendants ends FAILED or CANCELLED;
 * `ignore` resolves the edge once no task of that subtree is open, whatever the outcomes.
 */
export const OnFailure = z.enum(["cancel", "ignore"], {
  error: (issue) => `unknown onFailure ${JSON.stringify(issue.input)}: use cancel or ignore`
})
export type OnFailure = z.infer<typeof OnFailure>

/** An edge of the dependency graph: `dependentTaskId` waits for `prerequisiteTaskId`. */
export const TaskDependency = z
  .object({
    id: TaskId.default(() => crypto.randomUUID()),
    dependentTaskId: TaskId,
    prerequisiteTaskId: TaskId,
    dependencyType: DependencyType.default(TaskDefaults.dependencyType),
    onFailure: OnFailure.default("cancel"),
    createdAt: Timestamp.default(now),
    resolvedAt: Timestamp.nullable().default(null)
  })
  .refine((d) => d.dependentTaskId !== d.prerequisiteTaskId, {
    error: "a task cannot depend on itself",
    path: ["prerequisiteTaskId"]
  })
export type TaskDependency = z.output<typeof TaskDependency>

const prompt = z
  .string({ error: "prompt is required: describe the work as text" })
  .check(wellFormed("prompt"))
  .refine((s) => s.trim().length > 0, { error: "prompt must not be empty: describe the work to do" })

/** The longest idempotency key. */
export const IDEMPOTENCY_KEY_MAX = 200

/** A submitter's key that makes a repeated submit return the first one's task (1..200 characters). */
export const IdempotencyKey = z
  .string({ error: "idempotencyKey must be a string" })
  .check(wellFormed("idempotencyKey"))
  .min(1, { error: "idempotencyKey must not be empty" })
  .max(IDEMPOTENCY_KEY_MAX, { error: `idempotencyKey must be at most ${IDEMPOTENCY_KEY_MAX} characters` })

/** One prerequisite of a submit, normalised: the task (an id, or a key in plans) and the edge's options. */
export interface DependsOnSpec {
  readonly id: string
  readonly onFailure: OnFailure
  readonly dependencyType?: DependencyType | undefined
}

const edgeOptions = {
  onFailure: OnFailure.default("cancel"),
  dependencyType: DependencyType.optional()
}

/**
 * Reads a string with `fromString` (which reports through `ctx` and returns `z.NEVER` to refuse)
 * and an object with a schema, keeping their own messages (a plain union would only say that
 * nothing matched). Strings, the common case, take no nested parse: a 10,000-task plan's
 * prerequisites are read directly.
 */
const stringOrObject = <Out, In>(
  fromString: (value: string, ctx: z.core.$RefinementCtx) => Out,
  obj: z.ZodType<Out>,
  error: string
): z.ZodType<Out, In> =>
  z.unknown().transform((value, ctx) => {
    if (typeof value === "string") return fromString(value, ctx)
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      ctx.addIssue({ code: "custom", message: error })
      return z.NEVER
    }
    const r = obj.safeParse(value)
    if (r.success) return r.data
    for (const issue of r.error.issues) ctx.addIssue({ code: "custom", message: issue.message, path: issue.path })
    return z.NEVER
  }) as unknown as z.ZodType<Out, In>

/** A `dependsOn` item of a single submit: a task id, or `{"id", "onFailure"?, "dependencyType"?}`. */
export const DependsOnItem = stringOrObject<
  DependsOnSpec,
  string | { id: string; onFailure?: OnFailure | undefined; dependencyType?: DependencyType | undefined }
>(
  (value, ctx) => {
    const r = TaskId.safeParse(value)
    if (r.success) return { id: r.data, onFailure: "cancel" }
    for (const issue of r.error.issues) ctx.addIssue({ code: "custom", message: issue.message, path: issue.path })
    return z.NEVER
  },
  z.strictObject({ id: TaskId, ...edgeOptions }).transform(
    (o): DependsOnSpec => ({
      id: o.id,
      onFailure: o.onFailure,
      ...(o.dependencyType !== undefined && { dependencyType: o.dependencyType })
    })
  ),
  'a dependsOn item is a task id or {"id": ID, "onFailure": "cancel" | "ignore", "dependencyType"?}'
)
export type DependsOnItem = z.input<typeof DependsOnItem>

/** The fields a submitter may set (JSON bodies, MCP arguments, plan nodes share them). */
const submitFields = {
  prompt,
  priority: BasePriority.default(TaskDefaults.priority),
  /** Omitted: `human`, or `agent_planner` for a subtask or an MCP submit (the engine decides). */
  source: TaskSource.optional(),
  dependsOn: z.array(DependsOnItem, { error: "dependsOn must be a list of task ids" }).default([]),
  dependencyType: DependencyType.default(TaskDefaults.dependencyType),
  parentTaskId: TaskId.nullable().optional(),
  deadline: Instant.nullable().optional(),
  estimatedDurationSeconds: boundedSeconds("estimatedDurationSeconds", 0, MAX_ESTIMATE_SECONDS).nullable().optional(),
  agentType: z
    .string({ error: "agentType must be a string" })
    .check(wellFormed("agentType"))
    .trim()
    .min(1, { error: "agentType must not be empty" })
    .default(TaskDefaults.agentType),
  maxRetries: nonNegativeInt("maxRetries").default(TaskDefaults.maxRetries),
  maxExecutionTimeoutSeconds: boundedSeconds("maxExecutionTimeoutSeconds", 1, MAX_DURATION_SECONDS).default(TaskDefaults.maxExecutionTimeoutSeconds),
  summary: z.string({ error: "summary must be a string" }).check(wellFormed("summary")).optional(),
  inputData: JsonObject.default({}),
  sessionId: z.string({ error: "sessionId must be a string" }).check(wellFormed("sessionId")).nullable().optional(),
  createdBy: z.string({ error: "createdBy must be a string" }).check(wellFormed("createdBy")).nullable().optional(),
  /** Not claimable before this instant (the task is READY, waiting for it). */
  notBefore: Instant.nullable().optional(),
  idempotencyKey: IdempotencyKey.nullable().optional(),
  /** Base of the retry backoff (0 = retry at once); omitted: ABATHUR_RETRY_BACKOFF. */
  retryBackoffSeconds: boundedSeconds("retryBackoffSeconds", 0, MAX_DURATION_SECONDS).nullable().optional()
}

/** Names unknown fields and says what to do (zod alone says only "Unrecognized key"). */
const unknownFields = (accepted: ReadonlyArray<string>) => ({
  error: (issue: z.core.$ZodRawIssue) =>
    issue.code === "unrecognized_keys"
      ? `unknown field${issue.keys.length === 1 ? "" : "s"} ${issue.keys.map((k) => JSON.stringify(k)).join(", ")}: ` +
        `remove ${issue.keys.length === 1 ? "it" : "them"} or fix the spelling (accepted: ${accepted.join(", ")})`
      : undefined
})

/** A new task to submit. Unknown fields are rejected so that typos do not pass silently. */
export const SubmitTaskInput = z.strictObject(submitFields, unknownFields(Object.keys(submitFields)))
export type SubmitTaskInput = z.input<typeof SubmitTaskInput>
export type SubmitTask = z.output<typeof SubmitTaskInput>

/** A prerequisite of a plan node: a key of the plan or a task id (a key wins), or the same in an object. */
export type PlanDependsOnInput =
  | string
  | {
      readonly id?: string | undefined
      readonly key?: string | undefined
      readonly onFailure?: OnFailure | undefined
      readonly dependencyType?: DependencyType | undefined
    }

/** A plan node's prerequisite, normalised: `ref` is a key or an id, as `kind` says (`either`: a key wins). */
export interface PlanDependsOn {
  readonly ref: string
  readonly kind: "key" | "id" | "either"
  readonly onFailure: OnFailure
  readonly dependencyType?: DependencyType | undefined
}

const PlanDependsOnItem = stringOrObject<PlanDependsOn, PlanDependsOnInput>(
  (ref, ctx) => {
    const message = illFormed("dependsOn", ref)
    if (message === null) return { ref, kind: "either", onFailure: "cancel" }
    ctx.addIssue({ code: "custom", input: ref, message })
    return z.NEVER
  },
  z
    .strictObject({
      id: z.string().check(wellFormed("dependsOn")).optional(),
      key: z.string().check(wellFormed("dependsOn")).optional(),
      ...edgeOptions
    })
    .refine((o) => (o.id === undefined) !== (o.key === undefined), { error: 'give exactly one of "id" or "key"' })
    .transform(
      (o): PlanDependsOn => ({
        ref: o.id ?? o.key ?? "",
        kind: o.id !== undefined ? "id" : "key",
        onFailure: o.onFailure,
        ...(o.dependencyType !== undefined && { dependencyType: o.dependencyType })
      })
    ),
  'dependsOn holds keys or task ids, or {"id"|"key": ..., "onFailure"?, "dependencyType"?}'
)

/** A node of a plan: submit fields plus a local `key`, and nested `children`. */
export interface PlanNodeInput extends Omit<SubmitTaskInput, "dependsOn"> {
  readonly key: string
  readonly dependsOn?: ReadonlyArray<PlanDependsOnInput> | undefined
  readonly children?: ReadonlyArray<PlanNodeInput> | undefined
}
export interface PlanNode extends Omit<SubmitTask, "dependsOn"> {
  readonly key: string
  /** Keys of this plan, or ids of existing tasks (a key wins over an id). */
  readonly dependsOn: ReadonlyArray<PlanDependsOn>
  readonly children: ReadonlyArray<PlanNode>
}

export const PlanNode: z.ZodType<PlanNode, PlanNodeInput> = z.lazy(() =>
  z.strictObject(
    {
      ...submitFields,
      key: z
        .string({ error: "every plan node needs a key (a name unique in the plan)" })
        .check(wellFormed("key"))
        .trim()
        .min(1, { error: "a plan node's key must not be empty" }),
      dependsOn: z.array(PlanDependsOnItem, { error: "dependsOn must be a list" }).default([]),
      children: z.array(PlanNode, { error: "children must be a list of plan nodes" }).default([])
    },
    unknownFields([...Object.keys(submitFields), "key", "children"])
  )
)

/**
 * A plan file: a tree of tasks submitted all or nothing; posting it again with its `idempotencyKey`
 * returns the same tasks. A top-level `parentTaskId` adopts the plan under an existing task: it is
 * the parent of every top-level node that names none.
 */
export const PlanInput = z.strictObject(
  {
    tasks: z.array(PlanNode, { error: 'a plan needs "tasks": a list of plan nodes' }).min(1, {
      error: "a plan needs at least one task"
    }),
    idempotencyKey: IdempotencyKey.optional(),
    parentTaskId: TaskId.optional()
  },
  unknownFields(["tasks", "idempotencyKey", "parentTaskId"])
)
export type PlanInput = z.input<typeof PlanInput>
export type Plan = z.output<typeof PlanInput>

/** One edge as seen from a task: the task at the other end and the edge's state. */
export const DependencyLink = z.object({
  taskId: TaskId,
  dependencyType: DependencyType,
  onFailure: OnFailure,
  resolvedAt: Timestamp.nullable()
})
export type DependencyLink = z.output<typeof DependencyLink>
