import { exitCodeFor } from "@abathur/domain"
import { errorBody, limitsFromEnv, toErrorBody, schedulingFromEnv } from "@abathur/queue"
import { quickCheckFile } from "@abathur/storage"
import { NodeRuntime } from "@effect/platform-node"
import { Cause, Data, Effect, Exit, Layer, Logger, LogLevel, Option } from "effect"
import { isPostgresUrl } from "@abathur/postgres/url"
import { existsSync } from "node:fs"
import type { ServerConfig } from "./Config.js"
import { Metrics } from "./Metrics.js"
import { Refresher } from "./Refresher.js"
import { serve } from "./Server.js"
import { OpenStore } from "@abathur/postgres/store"
import { changeFeedOf, type QueueEnvSettings, QueueLive } from "./Store.js"
import { Shutdown, Wakeup } from "./Wakeup.js"

/** Everything the HTTP application uses. */
const AppLive = (config: ServerConfig, settings: QueueEnvSettings) =>
  Layer.mergeAll(
    Metrics.layer,
    Layer.unwrapEffect(Effect.map(OpenStore, (store) => Wakeup.layer({ feed: changeFeedOf(store) }))),
    Shutdown.layer,
    Refresher.layer()
  ).pipe(Layer.provideMerge(QueueLive(config, settings)))

/** The server: listening while the layer lives; released before the database closes. */
export const MainLive = (config: ServerConfig, settings: QueueEnvSettings) =>
  Layer.scopedDiscard(serve({ port: config.port, host: config.host, token: config.token })).pipe(Layer.provide(AppLive(config, settings)))

/** `PRAGMA quick_check` found the database file damaged (the server does not start; exit 1). */
export class DatabaseDamaged extends Data.TaggedError("DatabaseDamaged")<{
  readonly message: string
  readonly filename: string
  readonly findings: ReadonlyArray<string>
}> {}

/**
 * Checks an existing database file before anything opens (or migrates) it: `PRAGMA quick_check`,
 * timed in the log. A damaged file stops the server unless `--allow-damaged` says to serve it.
 */
export const checkDatabaseFile = (config: Pick<ServerConfig, "db" | "allowDamaged">): Effect.Effect<void, DatabaseDamaged> =>
  Effect.gen(function* () {
    if (config.db === ":memory:" || isPostgresUrl(config.db) || !existsSync(config.db)) return // a new database, or no file
    const report = quickCheckFile(config.db)
    const ms = Math.round(report.millis * 10) / 10
    if (report.ok) {
      return yield* Effect.logInfo("database checked: quick_check ok").pipe(Effect.annotateLogs({ db: config.db, ms }))
    }
    const found = `the database ${config.db} is damaged: PRAGMA quick_check found ${report.findings.join("; ")}`
    if (config.allowDamaged) {
      return yield* Effect.logWarning(`${found}. Serving it anyway (--allow-damaged): reads and writes may fail or be lost`).pipe(
        Effect.annotateLogs({ db: config.db, ms })
      )
    }
    return yield* Effect.fail(
      new DatabaseDamaged({
        message: `${found}. Restore a backup (or recover it with sqlite3's .recover), or start with --allow-damaged (ABATHUR_ALLOW_DAMAGED=1) to serve it as it is`,
        filename: config.db,
        findings: report.findings
      })
    )
  })

/** Log records, one line each on stderr (never stdout). */
const stderrLogger = (format: ServerConfig["logFormat"]) =>
  Logger.map(format === "json" ? Logger.jsonLogger : Logger.logfmtLogger, (line) => {
    process.stderr.write(`${line}\n`)
  })

const exitCodeOf = (exit: Exit.Exit<unknown, unknown>): number => {
  if (Exit.isSuccess(exit) || Cause.isInterruptedOnly(exit.cause)) return 0
  const failure = Cause.failureOption(exit.cause)
  return Option.isSome(failure) ? exitCodeFor(String(toErrorBody(failure.value).error["_tag"])) : 1
}

const levels: Record<ServerConfig["logLevel"], LogLevel.LogLevel> = {
  all: LogLevel.All,
  trace: LogLevel.Trace,
  debug: LogLevel.Debug,
  info: LogLevel.Info,
  warning: LogLevel.Warning,
  error: LogLevel.Error,
  fatal: LogLevel.Fatal,
  none: LogLevel.None
}

/** Runs the server until SIGTERM or SIGINT; sets the exit code (0 after a graceful stop). */
export const run = (config: ServerConfig): void => {
  let settings: QueueEnvSettings
  try {
    settings = { limits: limitsFromEnv(config.env), scheduling: schedulingFromEnv(config.env) }
  } catch (error) {
    const message = `bad setting in the environment (ABATHUR_MAX_DEPENDENCIES, ABATHUR_MAX_DEPTH, ABATHUR_MAX_SUBTASKS, ABATHUR_MAX_STALLS, ABATHUR_RETRY_BACKOFF, ABATHUR_RETRY_BACKOFF_MAX): ${(error as Error).message}`
    process.stderr.write(`abathur-server: ${message}\n${JSON.stringify(errorBody({ _tag: "ValidationError", message }))}\n`)
    process.exit(2)
  }
  const program = Effect.zipRight(checkDatabaseFile(config), Layer.launch(MainLive(config, settings))).pipe(
    Effect.tapErrorCause((cause) =>
      Cause.isInterruptedOnly(cause)
        ? Effect.void
        : Effect.logError(
            Option.match(Cause.failureOption(cause), {
              onNone: () => `the server stopped: ${Cause.pretty(cause)}`,
              onSome: (error) => `the server stopped: ${JSON.stringify(toErrorBody(error))}`
            })
          )
    ),
    Effect.annotateLogs({ service: "abathur-server" }),
    Logger.withMinimumLogLevel(levels[config.logLevel]),
    Effect.provide(Logger.replace(Logger.defaultLogger, stderrLogger(config.logFormat)))
  )
  NodeRuntime.runMain(program, {
    disableErrorReporting: true,
    disablePrettyLogger: true,
    teardown: (exit, onExit) => onExit(exitCodeOf(exit))
  })
}
