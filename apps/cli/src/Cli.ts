import { describeField, FieldDocs, type Task, type TaskStatus } from "@abathur/domain"
import { type TaskDetail, TaskQueue, type TreeNode, ValidationError } from "@abathur/queue"
import { checkDatabaseFile, DatabaseOpenError } from "@abathur/storage"
import { Args, Command, HelpDoc, Options } from "@effect/cli"
import * as Span from "@effect/cli/HelpDoc/Span"
import { Context, Effect, type Layer, Option, Runtime } from "effect"
import { makeCliQueue } from "./CliQueue.js"
import * as Render from "./Render.js"
import { defined, optionalNumeric, parseJson, readPlanFile } from "./Input.js"
import { type Colors, makeProgress, type Terminal } from "./Terminal.js"
import { runWork, workOptions } from "./work/Work.js"
import { taskLogPath } from "./work/TaskLog.js"
import { VERSION } from "./Version.js"
import { existsSync } from "node:fs"
import { displayDb, isPostgresUrl, OpenStore, type StoreError } from "./Store.js"

export type Env = Readonly<Record<string, string | undefined>>

/** The services a command runs against: the queue over one open database (SQLite or PostgreSQL). */
export type QueueServices = TaskQueue | OpenStore

export interface DatabaseSettings {
  readonly filename: string
  readonly onMigrationProgress?: (event: { version: number; name: string; done: number; total: number }) => void
  /**
   * The command keeps the database open for long (`mcp`): checkpoint the WAL on a background
   * thread. A short command does not pay for starting one; `work` waits on the -wal file
   * itself and keeps SQLite's own checkpoints.
   */
  readonly longRunning?: boolean
}

/** Builds the layers for one database (composed in main.ts). */
export type MainLayer = (settings: DatabaseSettings) => Layer.Layer<QueueServices, StoreError>

/** What the app gives the commands. */
export interface AppContext {
  readonly env: Env
  readonly terminal: Terminal
  readonly layer: MainLayer
  /** Set once the global options are known (errors then follow `--json`). */
  json: boolean | undefined
  /** The exit code of a command that succeeded but has news (e.g. `db check` found problems). */
  exitCode: number
}

export class App extends Context.Tag("@abathur/cli/App")<App, AppContext>() {}

export const DEFAULT_DB = "./.abathur/abathur.db"

// ---- global options --------------------------------------------------------------------------

/** Global options: accepted before the command name and after it (the latter wins). */
const globalOptions = {
  db: Options.text("db").pipe(
    Options.withPseudoName("PATH|URL"),
    Options.withDescription(
      `The database file (env ABATHUR_DB; default ${DEFAULT_DB}, its folder is created), or a postgres://USER:PASSWORD@HOST:PORT/DATABASE URL (PostgreSQL 15+, shared by many processes and machines).`
    ),
    Options.optional
  ),
  json: Options.boolean("json").pipe(Options.withDescription("Print exactly one JSON document on stdout; errors go to stderr as JSON."))
}

interface GlobalFlags {
  readonly db: Option.Option<string>
  readonly json: boolean
}

interface Ctx {
  readonly app: AppContext
  readonly json: boolean
  readonly db: string
  readonly c: Colors
  readonly now: number
}

/** What a command prints: the JSON document with `--json`, else text for people. */
const emit = (ctx: Ctx, doc: unknown, human: () => string): Effect.Effect<void> =>
  Effect.sync(() => {
    const out = ctx.app.terminal.stdout
    if (ctx.json) out.write(`${JSON.stringify(doc, null, out.isTTY ? 2 : undefined)}\n`)
    else out.write(`${human()}\n`)
  })

/**
 * Runs `effect` against the queue over the command's database; closes the database after. The
 * queue takes id prefixes and names listed tasks for people (CliQueue), except for `serve` effects
 * (`abathur mcp`: agents pass whole ids, as over HTTP).
 */
const withQueue = <A, E>(
  ctx: Ctx,
  effect: Effect.Effect<A, E, QueueServices>,
  options: { readonly longRunning?: boolean; readonly serve?: boolean } = {}
) =>
  Effect.suspend(() => {
    const progress = makeProgress(ctx.app.terminal, "migrating")
    const layer = ctx.app.layer({
      filename: ctx.db,
      onMigrationProgress: (e) => progress.update(e.done, e.total, `v${e.version} ${e.name}`),
      longRunning: options.longRunning === true
    })
    const logged = Effect.flatMap(OpenStore, (db) => {
      progress.finish()
      const m = db.migration
      return Effect.zipRight(
        m.applied.length > 0 && m.fromVersion > 0
          ? Effect.logInfo(`migrated ${displayDb(ctx.db)} from schema version ${m.fromVersion} to ${m.toVersion}; backup at ${m.backup ?? "(none)"}`)
          : Effect.logDebug(`opened ${displayDb(ctx.db)} (schema version ${m.toVersion})`),
        options.serve === true
          ? effect
          : Effect.flatMap(TaskQueue, (q) => Effect.provideService(effect, TaskQueue, makeCliQueue(q, { forPeople: !ctx.json })))
      )
    })
    return Effect.provide(logged, layer).pipe(Effect.ensuring(Effect.sync(() => progress.finish())))
  })

// ---- help --------------------------------------------------------------------------------------

/** A command's help: what it does, then examples. */
const describe = (text: string, ...examples: Array<string>): HelpDoc.HelpDoc =>
  HelpDoc.blocks([
    ...text.split("\n\n").map((para) => HelpDoc.p(para.replace(/\s*\n\s*/g, " "))),
    HelpDoc.p(Span.strong(examples.length === 1 ? "Example:" : "Examples:")),
    ...examples.map((e) => HelpDoc.p(Span.code(`  $ ${e}`))),
    HelpDoc.p(Span.weak("Global options, before or after the command name: --db PATH, --json, --log-level LEVEL."))
  ])

const taskIdArg = (name = "ID") =>
  Args.text({ name }).pipe(Args.withDescription("A task id, or its first hex digits (at least 4) when they name one task."))

const text = (name: string, pseudo: string, description: string) =>
  Options.text(name).pipe(Options.withPseudoName(pseudo), Options.withDescription(description), Options.optional)
const repeatedText = (name: string, pseudo: string, description: string) =>
  Options.text(name).pipe(Options.withPseudoName(pseudo), Options.withDescription(description), Options.repeated)

// ---- the root command ---------------------------------------------------------------------------

const commandSummaries: ReadonlyArray<readonly [string, string]> = [
  ["submit PROMPT [flags]", "submit a task"],
  ["submit --file PLAN.json", "submit a plan of tasks, all or nothing (- reads stdin)"],
  ["show ID", "a task with its links and its priority explained"],
  ["list [--status S]...", "tasks, most important first"],
  ["next [--worker NAME] [--limit N]", "claim the most important ready task (or up to N)"],
  ["heartbeat ID", "renew a running task's lease"],
  ["complete ID --lease-token T [--result JSON] [--next]", "complete a running task (and claim the next)"],
  ["fail ID --error TEXT", "fail a running task's attempt (retries apply)"],
  ["cancel ID", "cancel a task, its dependents and subtasks"],
  ["retry ID", "retry a failed task"],
  ["release ID", "give a running task back to the queue"],
  ["deps add DEPENDENT PREREQUISITE", "make a task wait for another"],
  ["deps remove DEPENDENT PREREQ", "stop a task waiting for another"],
  ["status", "the queue at a glance"],
  ["plan [ID]...", "open tasks in batches that can run in parallel"],
  ["tree [ID]", "the hierarchy of tasks and subtasks"],
  ["graph [ID] [--format dot]", "the dependency graph as Mermaid or DOT"],
  ["recover", "return tasks whose lease expired to the queue"],
  ["prune [--older-than 30d]", "delete old finished tasks"],
  ["db migrate | db check", "migrate or check the database file"],
  ["mcp", "serve the MCP tools on stdio for agents"],
  ["work --exec CMD [-n N]", "run ready tasks through a command, N at a time"]
]

/** `abathur` and `abathur --help`: the commands at a glance. */
export const overview = (c: Colors): string =>
  [
    `${c.bold("abathur")} ${VERSION}: a task queue for swarms of AI agents, on one SQLite file.`,
    "",
    `${c.bold("Usage")}: abathur [--db PATH|URL] [--json] [--log-level LEVEL] COMMAND [ARGS] [FLAGS]`,
    "",
    c.bold("Commands"),
    ...commandSummaries.map(([usage, what]) => `  ${usage.padEnd(34)}${c.dim(what)}`),
    "",
    c.bold("Global options") + c.dim(" (before or after the command name)"),
    `  ${"--db PATH|URL".padEnd(34)}${c.dim(`the database file (env ABATHUR_DB; default ${DEFAULT_DB}), or a postgres:// URL`)}`,
    `  ${"--json".padEnd(34)}${c.dim("one JSON document on stdout; errors as JSON on stderr")}`,
    `  ${"--log-level LEVEL".padEnd(34)}${c.dim("trace, debug, info (default; env ABATHUR_LOG_LEVEL), warning, error, none")}`,
    "",
    c.bold("Examples"),
    `  abathur submit "Design the schema" --priority 8`,
    `  abathur next --worker coder-1 --json`,
    `  abathur status`,
    "",
    c.dim("Run `abathur COMMAND --help` for a command's flags and examples.")
  ].join("\n")

const root = Command.make("abathur", globalOptions, () =>
  Effect.flatMap(App, (app) =>
    Effect.sync(() => {
      app.terminal.stdout.write(`${overview(app.terminal.out)}\n`)
    })
  )
)

/** The effective global options: after the command name, else before it, else the environment. */
const context = (sub: GlobalFlags): Effect.Effect<Ctx, never, App | Command.Command.Context<"abathur">> =>
  Effect.gen(function* () {
    const top = yield* root
    const app = yield* App
    const json = sub.json || top.json
    app.json = json
    const db = Option.getOrElse(
      Option.orElse(sub.db, () => top.db),
      () => app.env["ABATHUR_DB"] || DEFAULT_DB
    )
    return { app, json, db, c: app.terminal.out, now: Date.now() }
  })

/** A command with the global options, whose handler receives the effective context. */
const command = <Name extends string, const Config extends Command.Command.Config, E, R>(
  name: Name,
  config: Config,
  help: HelpDoc.HelpDoc,
  handler: (args: Command.Command.ParseConfig<Config>, ctx: Ctx) => Effect.Effect<void, E, R>
) =>
  Command.make(name, { ...globalOptions, ...config }, (all) =>
    Effect.flatMap(context(all as unknown as GlobalFlags), (ctx) => handler(all as unknown as Command.Command.ParseConfig<Config>, ctx))
  ).pipe(Command.withDescription(help))

// ---- commands ----------------------------------------------------------------------------------

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

const submit = command(
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
        const result = yield* withQueue(
          ctx,
          Effect.flatMap(TaskQueue, (q) => q.submitPlanWithOutcome(withKey, { onProgress: (d, t) => progress.update(d, t) }))
        ).pipe(Effect.ensuring(Effect.sync(() => progress.finish())))
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
      const r = yield* withQueue(
        ctx,
        Effect.flatMap(TaskQueue, (q) => q.submitWithOutcome(input))
      )
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

const show = command(
  "show",
  { id: taskIdArg() },
  describe(
    "Show a task: its fields, prerequisites, dependents, subtasks, and its priority explained factor by factor.",
    "abathur show 3f2b8c1e-9d4a-4f6b-8e2a-1c5d7e9f0a2b"
  ),
  (o, ctx) =>
    Effect.gen(function* () {
      const d = yield* withQueue(
        ctx,
        Effect.flatMap(TaskQueue, (q) => q.get(o.id))
      )
      const log = taskLogPath(ctx.db, d.id)
      yield* emit(ctx, d, () => Render.detail(ctx.c, d, ctx.now) + (existsSync(log) ? `\n${ctx.c.dim("log")}  ${log}` : ""))
    })
)

const list = command(
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
      const tasks = yield* withQueue(
        ctx,
        Effect.flatMap(TaskQueue, (q) => q.list(input))
      )
      yield* emit(ctx, tasks, () => Render.taskTable(ctx.c, tasks, ctx.now, ctx.app.terminal.width))
    })
)

const next = command(
  "next",
  {
    worker: text("worker", "NAME", FieldDocs.worker),
    lease: text("lease", "SECONDS", FieldDocs.leaseSeconds),
    agentType: text("agent-type", "TYPE", describeField("agentType", "ClaimInput")!),
    limit: text("limit", "N", describeField("limit", "ClaimInput")!)
  },
  describe(
    `Claim the most important ready task. It becomes running under a lease: report with complete or
    fail (passing the lease token) before the lease expires, or renew it with heartbeat. Prints null
    (with --json) when nothing is ready. With --limit N, claims up to N tasks at once, best first,
    and prints a list ([] when nothing is ready).`,
    "abathur next --worker coder-1 --lease 600 --json"
  ),
  (o, ctx) =>
    Effect.gen(function* () {
      const input = defined({
        worker: Option.getOrUndefined(o.worker),
        leaseSeconds: optionalNumeric(o.lease),
        agentType: Option.getOrUndefined(o.agentType)
      })
      if (Option.isSome(o.limit)) {
        const limited: unknown = { ...input, limit: optionalNumeric(o.limit) } // validated by the queue
        const tasks = yield* withQueue(
          ctx,
          Effect.flatMap(TaskQueue, (q) => q.claimMany(limited))
        )
        return yield* emit(ctx, tasks, () => Render.claimedMany(ctx.c, tasks))
      }
      const task = yield* withQueue(
        ctx,
        Effect.flatMap(TaskQueue, (q) => q.claim(input))
      )
      yield* emit(ctx, task, () => Render.claimed(ctx.c, task))
    })
)

const leaseToken = text("lease-token", "TOKEN", FieldDocs.leaseToken)
const force = Options.boolean("force").pipe(Options.withDescription(FieldDocs.force))

const heartbeat = command(
  "heartbeat",
  { id: taskIdArg(), leaseToken, lease: text("lease", "SECONDS", describeField("leaseSeconds", "HeartbeatInput")!) },
  describe("Renew the lease of a running task.", "abathur heartbeat 3f2b8c1e-9d4a-4f6b-8e2a-1c5d7e9f0a2b --lease-token 9b1d... --lease 600"),
  (o, ctx) =>
    Effect.gen(function* () {
      const input = defined({ leaseToken: Option.getOrUndefined(o.leaseToken), leaseSeconds: optionalNumeric(o.lease) })
      const task = yield* withQueue(
        ctx,
        Effect.flatMap(TaskQueue, (q) => q.heartbeat(o.id, input))
      )
      yield* emit(ctx, task, () => Render.heartbeat(ctx.c, task))
    })
)

const complete = command(
  "complete",
  {
    id: taskIdArg(),
    result: text("result", "JSON", FieldDocs.result),
    leaseToken,
    force,
    next: Options.boolean("next").pipe(Options.withDescription("Claim the next task in the same transaction (prints it as next).")),
    worker: text("worker", "NAME", `With --next: ${FieldDocs.worker}`),
    lease: text("lease", "SECONDS", `With --next: ${FieldDocs.leaseSeconds}`),
    agentType: text("agent-type", "TYPE", `With --next: ${describeField("agentType", "ClaimInput")!}`)
  },
  describe(
    `Complete a running task. Dependents whose last open prerequisite it was become ready. Without
    --lease-token the task is refused (LeaseMismatch) unless --force. With --next, the same transaction
    claims the next task and prints it as next (null when nothing is ready).`,
    `abathur complete 3f2b8c1e-9d4a-4f6b-8e2a-1c5d7e9f0a2b --lease-token 9b1d... --result '{"pr": 42}' --next --worker coder-1`
  ),
  (o, ctx) =>
    Effect.gen(function* () {
      const result = Option.isSome(o.result) ? yield* parseJson("--result", o.result.value) : undefined
      const claimFlags = [o.worker, o.lease, o.agentType].some(Option.isSome)
      if (claimFlags && !o.next) {
        return yield* Effect.fail(new ValidationError({ message: "--worker, --lease and --agent-type go with --next (the claim of the next task)" }))
      }
      const next = o.next
        ? defined({ worker: Option.getOrUndefined(o.worker), leaseSeconds: optionalNumeric(o.lease), agentType: Option.getOrUndefined(o.agentType) })
        : undefined
      const input = defined({ result, leaseToken: Option.getOrUndefined(o.leaseToken), force: o.force ? true : undefined, next })
      const r = yield* withQueue(
        ctx,
        Effect.flatMap(TaskQueue, (q) => q.complete(o.id, input))
      )
      yield* emit(ctx, r, () => Render.completed(ctx.c, r))
    })
)

const fail = command(
  "fail",
  { id: taskIdArg(), error: text("error", "TEXT", FieldDocs.error), leaseToken, force },
  describe(
    `Fail a running task's attempt. It goes back to ready while retries remain; otherwise it fails and
    its dependents are cancelled. Without --lease-token the task is refused unless --force.`,
    `abathur fail 3f2b8c1e-9d4a-4f6b-8e2a-1c5d7e9f0a2b --error "tests do not pass" --lease-token 9b1d...`
  ),
  (o, ctx) =>
    Effect.gen(function* () {
      const input = defined({
        error: Option.getOrUndefined(o.error),
        leaseToken: Option.getOrUndefined(o.leaseToken),
        force: o.force ? true : undefined
      })
      const r = yield* withQueue(
        ctx,
        Effect.flatMap(TaskQueue, (q) => q.fail(o.id, input))
      )
      yield* emit(ctx, r, () => Render.failed(ctx.c, r))
    })
)

const cancel = command(
  "cancel",
  { id: taskIdArg() },
  describe(
    "Cancel a task that has not finished, with its open dependents and the open subtasks below it.",
    "abathur cancel 3f2b8c1e-9d4a-4f6b-8e2a-1c5d7e9f0a2b"
  ),
  (o, ctx) =>
    Effect.gen(function* () {
      const r = yield* withQueue(
        ctx,
        Effect.flatMap(TaskQueue, (q) => q.cancel(o.id, {}))
      )
      yield* emit(ctx, r, () => Render.cancelled(ctx.c, r))
    })
)

const retry = command(
  "retry",
  { id: taskIdArg() },
  describe(
    "Retry a failed task: back to ready with its retries reset; the dependents its failure cancelled come back.",
    "abathur retry 3f2b8c1e-9d4a-4f6b-8e2a-1c5d7e9f0a2b"
  ),
  (o, ctx) =>
    Effect.gen(function* () {
      const r = yield* withQueue(
        ctx,
        Effect.flatMap(TaskQueue, (q) => q.retry(o.id))
      )
      yield* emit(ctx, r, () => Render.retried(ctx.c, r))
    })
)

const release = command(
  "release",
  { id: taskIdArg(), leaseToken },
  describe(
    "Give a running task back: it returns to ready without spending a retry (e.g. a worker shutting down).",
    "abathur release 3f2b8c1e --lease-token 9b1d..."
  ),
  (o, ctx) =>
    Effect.gen(function* () {
      const input = defined({ leaseToken: Option.getOrUndefined(o.leaseToken) })
      const task = yield* withQueue(
        ctx,
        Effect.flatMap(TaskQueue, (q) => q.release(o.id, input))
      )
      yield* emit(ctx, task, () => Render.released(ctx.c, task))
    })
)

const depsAdd = command(
  "add",
  {
    dependent: taskIdArg("DEPENDENT"),
    prerequisite: taskIdArg("PREREQUISITE"),
    type: text("type", "TYPE", describeField("dependencyType", "AddDependencyInput")!),
    onFailure: text("on-failure", "POLICY", FieldDocs.onFailure)
  },
  describe(
    `Make DEPENDENT wait for PREREQUISITE. Refused when it would close a cycle (the cycle is shown) or
    go over the limits; adding an edge that exists changes nothing.`,
    "abathur deps add 3f2b8c1e-9d4a-4f6b-8e2a-1c5d7e9f0a2b 7c0e5d2a-1b3f-4e6a-9c8d-2f4b6a8c0e1d --type parallel"
  ),
  (o, ctx) =>
    Effect.gen(function* () {
      const input = defined({
        prerequisiteId: o.prerequisite,
        dependencyType: Option.getOrUndefined(o.type),
        onFailure: Option.getOrUndefined(o.onFailure)
      })
      const d = yield* withQueue(
        ctx,
        Effect.flatMap(TaskQueue, (q) => q.addDependency(o.dependent, input))
      )
      yield* emit(ctx, d, () => Render.dependencyAdded(ctx.c, d, o.prerequisite))
    })
)

const depsRemove = command(
  "remove",
  { dependent: taskIdArg("DEPENDENT"), prerequisite: taskIdArg("PREREQUISITE") },
  describe(
    `Stop DEPENDENT waiting for PREREQUISITE: the edge is removed. DEPENDENT (pending, blocked or ready)
    becomes ready when that was its last open edge and its parent waits for nothing. Removing an edge
    that does not exist is TaskNotFound.`,
    "abathur deps remove 3f2b8c1e-9d4a-4f6b-8e2a-1c5d7e9f0a2b 7c0e5d2a-1b3f-4e6a-9c8d-2f4b6a8c0e1d --json"
  ),
  (o, ctx) =>
    Effect.gen(function* () {
      const d = yield* withQueue(
        ctx,
        Effect.flatMap(TaskQueue, (q) => q.removeDependency(o.dependent, o.prerequisite))
      )
      yield* emit(ctx, d, () => Render.dependencyRemoved(ctx.c, d, o.prerequisite))
    })
)

const missingSubcommand = (group: string, usage: string) =>
  Effect.fail(new ValidationError({ message: `\`abathur ${group}\` needs a subcommand: ${usage} (see \`abathur ${group} --help\`)` }))

const deps = Command.make("deps", {}, () =>
  missingSubcommand("deps", "abathur deps add DEPENDENT PREREQUISITE, or abathur deps remove DEPENDENT PREREQUISITE")
).pipe(
  Command.withDescription(
    describe("Manage dependencies between existing tasks.", "abathur deps add DEPENDENT PREREQUISITE", "abathur deps remove DEPENDENT PREREQUISITE")
  ),
  Command.withSubcommands([depsAdd, depsRemove])
)

const status = command(
  "status",
  {},
  describe("The queue at a glance: tasks by status, average priority, depth, the oldest waiting task.", "abathur status --json"),
  (_, ctx) =>
    Effect.gen(function* () {
      const s = yield* withQueue(
        ctx,
        Effect.flatMap(TaskQueue, (q) => q.status())
      )
      yield* emit(ctx, s, () => Render.dashboard(ctx.c, s, displayDb(ctx.db), ctx.now, ctx.app.terminal.width))
    })
)

const OpenStatuses: ReadonlyArray<TaskStatus> = ["pending", "blocked", "ready", "running"]

const plan = command(
  "plan",
  {
    ids: Args.text({ name: "ID" }).pipe(
      Args.withDescription("Tasks to plan for, by id or unique id prefix (default: every open task)."),
      Args.repeated
    )
  },
  describe(
    `The execution plan: open tasks in batches, each batch runs in parallel once the batches before it
    are done. With ids: those tasks and their open prerequisites.`,
    "abathur plan",
    "abathur plan 3f2b8c1e-9d4a-4f6b-8e2a-1c5d7e9f0a2b --json"
  ),
  (o, ctx) =>
    Effect.gen(function* () {
      const [p, tasks] = yield* withQueue(
        ctx,
        Effect.flatMap(TaskQueue, (q) =>
          Effect.flatMap(q.executionPlan(o.ids.length > 0 ? { taskIds: o.ids } : {}), (p) =>
            ctx.json ? Effect.succeed([p, [] as Array<Task>] as const) : Effect.map(q.list({ status: [...OpenStatuses] }), (ts) => [p, ts] as const)
          )
        )
      )
      yield* emit(ctx, p, () => Render.plan(ctx.c, p, new Map(tasks.map((t) => [t.id, t])), ctx.app.terminal.width))
    })
)

const tree = command(
  "tree",
  { id: taskIdArg().pipe(Args.withDescription("The root task (default: every task without a parent)."), Args.optional) },
  describe("The hierarchy of tasks and subtasks, drawn as a tree.", "abathur tree", "abathur tree 3f2b8c1e-9d4a-4f6b-8e2a-1c5d7e9f0a2b --json"),
  (o, ctx) =>
    Effect.gen(function* () {
      const t = yield* withQueue(
        ctx,
        Effect.flatMap(TaskQueue, (q) => q.tree(Option.getOrUndefined(o.id)))
      )
      const roots: ReadonlyArray<TreeNode> = Array.isArray(t) ? t : [t as TreeNode]
      yield* emit(ctx, t, () => Render.tree(ctx.c, roots))
    })
)

const graph = command(
  "graph",
  {
    id: taskIdArg().pipe(Args.withDescription("Only the part of the graph connected to this task."), Args.optional),
    format: text("format", "FORMAT", FieldDocs.format)
  },
  describe(
    "The dependency graph as Mermaid (renders on GitHub, mermaid.live) or Graphviz DOT text.",
    "abathur graph > graph.mmd",
    "abathur graph --format dot | dot -Tsvg > graph.svg"
  ),
  (o, ctx) =>
    Effect.gen(function* () {
      const g = yield* withQueue(
        ctx,
        Effect.flatMap(TaskQueue, (q) => q.graph(Option.getOrUndefined(o.id), Option.getOrUndefined(o.format)))
      )
      yield* emit(ctx, g, () => g.text.trimEnd())
    })
)

const recover = command(
  "recover",
  {},
  describe(
    "Put running tasks whose lease expired back to ready without spending a retry (a stall; past ABATHUR_MAX_STALLS, default 3, the task fails).",
    "abathur recover --json"
  ),
  (_, ctx) =>
    Effect.gen(function* () {
      const r = yield* withQueue(
        ctx,
        Effect.flatMap(TaskQueue, (q) => q.recover())
      )
      yield* emit(ctx, r, () => Render.recovered(ctx.c, r.recovered))
    })
)

const prune = command(
  "prune",
  {
    olderThan: text("older-than", "AGE", FieldDocs.olderThan),
    status: repeatedText("status", "STATUS", describeField("status", "PruneInput")!),
    dryRun: Options.boolean("dry-run").pipe(Options.withDescription(FieldDocs.dryRun))
  },
  describe(
    `Delete old finished tasks (completed, failed, cancelled). A task that a kept task still references
    (as parent or prerequisite) is kept.`,
    "abathur prune --older-than 7d --dry-run",
    "abathur prune --status completed --json"
  ),
  (o, ctx) =>
    Effect.gen(function* () {
      const input = defined({
        olderThan: Option.getOrUndefined(o.olderThan),
        status: o.status.length > 0 ? o.status : undefined,
        dryRun: o.dryRun
      })
      const progress = makeProgress(ctx.app.terminal, "pruning")
      const r = yield* withQueue(
        ctx,
        Effect.flatMap(TaskQueue, (q) => q.prune(input, { onProgress: (d, t) => progress.update(d, t) }))
      ).pipe(Effect.ensuring(Effect.sync(() => progress.finish())))
      yield* emit(ctx, r, () => Render.pruned(ctx.c, r, o.dryRun))
    })
)

const dbMigrate = command(
  "migrate",
  {},
  describe(
    `Bring the database to this version's schema (opening it does so too), backing it up first as
    <file>.backup-v<from>-<UTC time>.`,
    "abathur db migrate --db ./old.db"
  ),
  (_, ctx) =>
    Effect.gen(function* () {
      const m = yield* withQueue(
        ctx,
        Effect.map(OpenStore, (d) => d.migration)
      )
      yield* emit(ctx, { fromVersion: m.fromVersion, toVersion: m.toVersion, backup: m.backup }, () => Render.migrated(ctx.c, displayDb(ctx.db), m))
    })
)

const dbCheck = command(
  "check",
  {},
  describe(
    `Check the database file as it is (no migration, no write): SQLite's integrity check, foreign
    keys, schema version. Exit 1 on problems, each named: the integrity check's findings (table by
    table when SQLite cannot finish the whole file), or SQLite's error when the file cannot be read.`,
    "abathur db check --json"
  ),
  (_, ctx) =>
    Effect.gen(function* () {
      if (isPostgresUrl(ctx.db)) {
        return yield* Effect.fail(
          new ValidationError({
            message:
              "db check reads an SQLite database file; on PostgreSQL, `abathur db migrate` reports the schema version and the server's own tools (amcheck, pg_dump) check the data"
          })
        )
      }
      const r = yield* Effect.try({
        try: () => checkDatabaseFile(ctx.db),
        catch: (error) => (error instanceof DatabaseOpenError ? error : new DatabaseOpenError({ filename: ctx.db, message: String(error) }))
      })
      const doc = {
        integrity: r.integrity,
        foreignKeyViolations: r.foreignKeyViolations,
        schemaVersion: r.schemaVersion,
        // The details, when something is wrong.
        ...(!r.ok && { file: r.filename, findings: r.findings, errors: r.errors })
      }
      if (!r.ok) ctx.app.exitCode = 1
      yield* emit(ctx, doc, () => Render.checked(ctx.c, ctx.db, r))
    })
)

const db = Command.make("db", {}, () => missingSubcommand("db", "abathur db migrate, or abathur db check")).pipe(
  Command.withDescription(describe("Maintain the database file.", "abathur db check")),
  Command.withSubcommands([dbMigrate, dbCheck])
)

const mcp = command(
  "mcp",
  {},
  describe(
    `Serve the MCP tools (task_enqueue, task_plan_submit, task_get, task_list, task_claim,
    task_heartbeat, task_complete, task_fail, task_release, task_cancel, task_retry, task_queue_status,
    task_execution_plan, ...; see docs/mcp.md) on stdio, for agents. They take whole task ids. Register
    it with your MCP client as the command \`abathur --db PATH mcp\`.`,
    "abathur mcp --db ~/work/.abathur/abathur.db"
  ),
  (_, ctx) =>
    withQueue(
      ctx,
      Effect.gen(function* () {
        const { makeMcpServer, serveStdio } = yield* Effect.promise(() => import("@abathur/mcp"))
        const runtime = yield* Effect.runtime<TaskQueue>()
        const server = makeMcpServer({ run: (effect) => Runtime.runPromiseExit(runtime)(effect), version: VERSION })
        yield* Effect.logDebug(`serving MCP on stdio for ${displayDb(ctx.db)}`)
        yield* Effect.promise(() => {
          const stop = () => void server.close()
          process.once("SIGINT", stop)
          process.once("SIGTERM", stop)
          return serveStdio(server)
        })
      }),
      { longRunning: true, serve: true }
    )
)

const work = command(
  "work",
  workOptions,
  describe(
    `Run tasks through a command: claim ready tasks, most important first, and run CMD once per task,
    at most N at a time. The child reads the task as JSON on stdin and finds ABATHUR_TASK_ID,
    ABATHUR_TASK_PROMPT and ABATHUR_DB in its environment (so it can submit subtasks with --parent
    $ABATHUR_TASK_ID). Exit 0 completes the task (result: the last stdout line when it is JSON, else
    the stdout tail); another exit fails it with the stderr tail (retries apply); past the task's
    timeout its process group gets SIGTERM, then SIGKILL. Output goes to logs/<task id>.log beside
    the database (./.abathur/logs for a postgres:// --db, which the children inherit in ABATHUR_DB;
    the worker then wakes on PostgreSQL's LISTEN/NOTIFY when any process makes work ready). Ctrl-C stops claiming and lets running tasks finish; a second Ctrl-C kills them and
    returns their tasks to the queue.`,
    `abathur work --exec "node agent.mjs" -n 4`,
    `abathur work --exec "./run-task.sh" --until-empty --json`,
    `abathur work --shell --exec 'claude -p "$ABATHUR_TASK_PROMPT"' --agent-type coder`
  ),
  (o, ctx) => runWork(o, ctx)
)

export { VERSION }

/** The whole command tree. */
export const abathur = root.pipe(
  Command.withDescription(
    describe(
      `A task queue for swarms of AI agents: submit tasks with dependencies and subtasks, claim the most
      important ready one, report back. One SQLite file, no server needed (or PostgreSQL for many machines:
      --db postgres://...). Global options (--db, --json,
      --log-level) go before or after the command name.`,
      `abathur submit "Design the schema" --priority 8`,
      "abathur next --worker me --json",
      "abathur status"
    )
  ),
  Command.withSubcommands([
    submit,
    show,
    list,
    next,
    heartbeat,
    complete,
    fail,
    cancel,
    retry,
    release,
    deps,
    status,
    plan,
    tree,
    graph,
    recover,
    prune,
    db,
    mcp,
    work
  ])
)

export type { Task, TaskDetail }
