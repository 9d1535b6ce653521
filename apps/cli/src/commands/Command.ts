/**
 * How a command is made: the global options merged into its own, the effective context (`Ctx`) its
 * handler receives, its help (`describe`), its output (`emit`) and its database (`withQueue`).
 */
import { TaskQueue, type TaskQueueService, ValidationError } from "@abathur/queue"
import { Args, Command, HelpDoc, Options } from "@effect/cli"
import * as Span from "@effect/cli/HelpDoc/Span"
import { Effect, Option } from "effect"
import { makeCliQueue } from "../CliQueue.js"
import { displayDb, OpenStore } from "../Store.js"
import { type Colors, makeProgress } from "../Terminal.js"
import { App, type AppContext, DEFAULT_DB, type GlobalFlags, globalOptions, type QueueServices } from "./App.js"
import { root } from "./Root.js"

export interface Ctx {
  readonly app: AppContext
  readonly json: boolean
  readonly db: string
  readonly c: Colors
  readonly now: number
}

/** What a command prints: the JSON document with `--json`, else text for people. */
export const emit = (ctx: Ctx, doc: unknown, human: () => string): Effect.Effect<void> =>
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
export const withQueue = <A, E>(
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

/** A command's help: what it does, then examples. */
export const describe = (text: string, ...examples: Array<string>): HelpDoc.HelpDoc =>
  HelpDoc.blocks([
    ...text.split("\n\n").map((para) => HelpDoc.p(para.replace(/\s*\n\s*/g, " "))),
    HelpDoc.p(Span.strong(examples.length === 1 ? "Example:" : "Examples:")),
    ...examples.map((e) => HelpDoc.p(Span.code(`  $ ${e}`))),
    HelpDoc.p(Span.weak("Global options, before or after the command name: --db PATH, --json, --log-level LEVEL."))
  ])

export const taskIdArg = (name = "ID") =>
  Args.text({ name }).pipe(Args.withDescription("A task id, or its first hex digits (at least 4) when they name one task."))

export const text = (name: string, pseudo: string, description: string) =>
  Options.text(name).pipe(Options.withPseudoName(pseudo), Options.withDescription(description), Options.optional)
export const repeatedText = (name: string, pseudo: string, description: string) =>
  Options.text(name).pipe(Options.withPseudoName(pseudo), Options.withDescription(description), Options.repeated)

export const missingSubcommand = (group: string, usage: string) =>
  Effect.fail(new ValidationError({ message: `\`abathur ${group}\` needs a subcommand: ${usage} (see \`abathur ${group} --help\`)` }))

/** The effective global options: after the command name, else before it, else the environment. */
export const context = (sub: GlobalFlags): Effect.Effect<Ctx, never, App | Command.Command.Context<"abathur">> =>
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
export const command = <Name extends string, const Config extends Command.Command.Config, E, R>(
  name: Name,
  config: Config,
  help: HelpDoc.HelpDoc,
  handler: (args: Command.Command.ParseConfig<Config>, ctx: Ctx) => Effect.Effect<void, E, R>
) =>
  Command.make(name, { ...globalOptions, ...config }, (all) =>
    Effect.flatMap(context(all as unknown as GlobalFlags), (ctx) => handler(all as unknown as Command.Command.ParseConfig<Config>, ctx))
  ).pipe(Command.withDescription(help))

/** `withQueue` for the common case: `f` with the queue (task ids may be short, see CliQueue). */
export const withTaskQueue = <A, E>(ctx: Ctx, f: (q: TaskQueueService) => Effect.Effect<A, E, QueueServices>) =>
  withQueue(ctx, Effect.flatMap(TaskQueue, f))
