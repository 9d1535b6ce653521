/** Tasks: submit one or a plan, show one, list them. */
import { ValidationError } from "@abathur/queue"
import { Args } from "@effect/cli"
import { describeField, FieldDocs } from "@abathur/domain"
import { Effect, Option } from "effect"
import * as Render from "../Render.js"
import { defined, optionalNumeric, parseJson, readPlanFile } from "../Input.js"
import { makeProgress } from "../Terminal.js"
import { command, describe, emit, repeatedText, taskIdArg, text, withTaskQueue } from "./Command.js"
import { taskLogPath } from "../work/TaskLog.js"
import { existsSync } from "node:fs"

const submitFlags = {
  priority: text("priority", "N", FieldDocs.priority),
  source: text("source", "SOURCE", FieldDocs.source),
  dependsOn: repeatedText("depends-on", "ID", FieldDocs.dependsOn),
  dependencyType: text("dependency-type", "TYPE", FieldDocs.dependencyType),
  parent: text("parent", "ID", `${FieldDocs.parentTaskId} With --file: the parent of the plan's top-level tasks.`),
  deadline: text("deadline", "ISO", FieldDocs.deadline),
  estimate: text("estimate", "SECONDS", FieldDocs.estimatedDurationSeconds),
  agentType: text("agent-type", "TYPE", FieldDocs.agentType),
  maxRetries: text("max-retries", "N", FieldDocs.maxRetries),
  timeout: text("timeout", "SECONDS", FieldDocs.maxExecutionTimeoutSeconds),
  summary: text("summary", "TEXT", FieldDocs.summary),
  input: text("input", "JSON", FieldDocs.inputData),
  after: repeatedText("after", "ID", "Run after this task has finished, whatever its outcome (an edge with onFailure ignore; repeatable)."),
  notBefore: text("not-before", "ISO", FieldDocs.notBefore),
  idempotencyKey: text("idempotency-key", "KEY", `${FieldDocs.idempotencyKey} With --file: the plan's key.`),
  retryBackoff: text("retry-backoff", "SECONDS", `${FieldDocs.retryBackoffSeconds} Default ABATHUR_RETRY_BACKOFF (5).`)
}

export const submit = command(
  "submit",
  {
    prompt: Args.text({ name: "PROMPT" }).pipe(Args.withDescription(`${FieldDocs.prompt} Quote it for the shell.`), Args.optional),
    file: text("file", "PLAN.json", 'Submit a plan file instead: {"tasks": [NODE]} (`-` reads stdin). All or nothing.'),
    ...submitFlags
  },
  describe(
    `Submit a task, or a whole plan of tasks with --file. A task waits (blocked) until every task it
    depends on has completed with all of its subtasks (--after: has finished, whatever the outcome),
    and so have those its parent waits for; then it is ready to be claimed by \`abathur next\`
    (not before --not-before). Submitting an --idempotency-key again returns the first task.`,
    `abathur submit "Write the API spec" --priority 8 --source agent_requirements`,
    `abathur submit "Implement the endpoint" --depends-on 3f2b8c1e-9d4a-4f6b-8e2a-1c5d7e9f0a2b --input '{"repo": "api"}'`,
    `abathur submit --file plan.json --parent 3f2b8c1e-9d4a-4f6b-8e2a-1c5d7e9f0a2b --json`,
    `abathur submit "Write the release notes" --after 3f2b8c1e-9d4a-4f6b-8e2a-1c5d7e9f0a2b --not-before 2026-01-31T09:00:00Z --idempotency-key notes-v2`
  ),
  (o, ctx) =>
    Effect.gen(function* () {
      if (Option.isSome(o.file)) {
        const conflicting = Object.entries({
          PROMPT: Option.isSome(o.prompt),
          "--priority": Option.isSome(o.priority),
          "--source": Option.isSome(o.source),
          "--depends-on": o.dependsOn.length > 0,
          "--dependency-type": Option.isSome(o.dependencyType),
          "--deadline": Option.isSome(o.deadline),
          "--estimate": Option.isSome(o.estimate),
          "--agent-type": Option.isSome(o.agentType),
          "--max-retries": Option.isSome(o.maxRetries),
          "--timeout": Option.isSome(o.timeout),
          "--summary": Option.isSome(o.summary),
          "--input": Option.isSome(o.input),
          "--after": o.after.length > 0,
          "--not-before": Option.isSome(o.notBefore),
          "--retry-backoff": Option.isSome(o.retryBackoff)
        })
          .filter(([, given]) => given)
          .map(([flag]) => flag)
        if (conflicting.length > 0) {
          return yield* new ValidationError({
            message: `${conflicting.join(", ")} cannot be combined with --file: set these fields on the plan's nodes (only --parent and --idempotency-key apply to a plan)`
          })
        }
        const plan = yield* readPlanFile(o.file.value)
        const withParent = Option.isSome(o.parent) ? yield* planField(plan, "parentTaskId", o.parent.value, "--parent") : plan
        const withKey = Option.isSome(o.idempotencyKey)
          ? yield* planField(withParent, "idempotencyKey", o.idempotencyKey.value, "--idempotency-key")
          : withParent
        const progress = makeProgress(ctx.app.terminal, "submitting")
        const result = yield* withTaskQueue(ctx, (q) => q.submitPlanWithOutcome(withKey, { onProgress: (d, t) => progress.update(d, t) })).pipe(
          Effect.ensuring(Effect.sync(() => progress.finish()))
        )
        return yield* emit(ctx, { tasks: result.tasks }, () => Render.submittedPlan(ctx.c, result.tasks, ctx.app.terminal.width, result.created))
      }
      const inputData = Option.isSome(o.input) ? yield* parseJson("--input", o.input.value) : undefined
      const input = defined({
        prompt: Option.getOrUndefined(o.prompt),
        priority: optionalNumeric(o.priority),
        source: Option.getOrUndefined(o.source),
        dependsOn:
          o.dependsOn.length + o.after.length > 0 ? [...o.dependsOn, ...o.after.map((id) => ({ id, onFailure: "ignore" as const }))] : undefined,
        dependencyType: Option.getOrUndefined(o.dependencyType),
        parentTaskId: Option.getOrUndefined(o.parent),
        deadline: Option.getOrUndefined(o.deadline),
        estimatedDurationSeconds: optionalNumeric(o.estimate),
        agentType: Option.getOrUndefined(o.agentType),
        maxRetries: optionalNumeric(o.maxRetries),
        maxExecutionTimeoutSeconds: optionalNumeric(o.timeout),
        summary: Option.getOrUndefined(o.summary),
        inputData,
        notBefore: Option.getOrUndefined(o.notBefore),
        idempotencyKey: Option.getOrUndefined(o.idempotencyKey),
        retryBackoffSeconds: optionalNumeric(o.retryBackoff)
      })
      const r = yield* withTaskQueue(ctx, (q) => q.submitWithOutcome(input))
      yield* emit(ctx, r.task, () => Render.submitted(ctx.c, r.task, r.created))
    })
)

/**
 * `--parent` or `--idempotency-key` for a plan: its top-level field (the queue adopts the plan under
 * the parent); a file that names another value is refused.
 */
const planField = (plan: unknown, field: "parentTaskId" | "idempotencyKey", value: string, flag: string): Effect.Effect<unknown, ValidationError> => {
  if (typeof plan !== "object" || plan === null || Array.isArray(plan)) return Effect.succeed(plan)
  const own = (plan as Record<string, unknown>)[field]
  if (own !== undefined && own !== value) {
    return Effect.fail(
      new ValidationError({
        message: `${flag} ${JSON.stringify(value)} differs from the plan file's ${field} ${JSON.stringify(own)}: give one of them`
      })
    )
  }
  return Effect.succeed({ ...plan, [field]: value })
}

export const show = command(
  "show",
  { id: taskIdArg() },
  describe(
    "Show a task: its fields, prerequisites, dependents, subtasks, and its priority explained factor by factor.",
    "abathur show 3f2b8c1e-9d4a-4f6b-8e2a-1c5d7e9f0a2b"
  ),
  (o, ctx) =>
    Effect.gen(function* () {
      const d = yield* withTaskQueue(ctx, (q) => q.get(o.id))
      const log = taskLogPath(ctx.db, d.id)
      yield* emit(ctx, d, () => Render.detail(ctx.c, d, ctx.now) + (existsSync(log) ? `\n${ctx.c.dim("log")}  ${log}` : ""))
    })
)

export const list = command(
  "list",
  {
    status: repeatedText("status", "STATUS", FieldDocs.status),
    excludeStatus: repeatedText("exclude-status", "STATUS", FieldDocs.excludeStatus),
    source: text("source", "SOURCE", describeField("source", "ListTasksInput")!),
    parent: text("parent", "ID", describeField("parentTaskId", "ListTasksInput")!),
    limit: text("limit", "N", FieldDocs.limit)
  },
  describe(
    "List tasks, most important first (calculated priority, then submission time).",
    "abathur list --status ready --status blocked --limit 20",
    "abathur list --exclude-status completed --json"
  ),
  (o, ctx) =>
    Effect.gen(function* () {
      const input = defined({
        status: o.status.length > 0 ? o.status : undefined,
        excludeStatus: o.excludeStatus.length > 0 ? o.excludeStatus : undefined,
        source: Option.getOrUndefined(o.source),
        parentTaskId: Option.getOrUndefined(o.parent),
        limit: optionalNumeric(o.limit)
      })
      const tasks = yield* withTaskQueue(ctx, (q) => q.list(input))
      yield* emit(ctx, tasks, () => Render.taskTable(ctx.c, tasks, ctx.now, ctx.app.terminal.width))
    })
)
