import { TaskQueue, ValidationError } from "@abathur/queue"
import type { DatabaseOpenError, MigrationError } from "@abathur/storage"
import type { PostgresOpenError } from "@abathur/postgres"
import { Options } from "@effect/cli"
import { Effect, type Layer, Option } from "effect"
import { mkdirSync } from "node:fs"
import { hostname } from "node:os"
import { resolve } from "node:path"
import type { Terminal } from "../Terminal.js"
import { displayDb, OpenStore } from "../Store.js"
import { localBackend, type WorkBackend, type WorkError } from "./Backend.js"
import { parseCommand, resolveProgram } from "./Exec.js"
import { httpBackend, parseServerUrl } from "./HttpBackend.js"
import { postgresBackend } from "./PostgresBackend.js"
import { makeStatusLine, type StatusLine, type StatusSnapshot } from "./StatusLine.js"
import { taskLogDir, taskLogPath } from "./TaskLog.js"
import { type LogLevel, runPool, type WorkSummary } from "./WorkerPool.js"

/**
 * `abathur work --exec CMD`: the command-line face of the worker pool. The flags are parsed
 * here; `commands/AgentCommands.ts` registers the command (with the global options).
 */

const text = (name: string, pseudo: string, description: string) =>
  Options.text(name).pipe(Options.withPseudoName(pseudo), Options.withDescription(description), Options.optional)

/** The flags of `abathur work` (the global options come from commands/App.ts). */
export const workOptions = {
  exec: text(
    "exec",
    "CMD",
    "The command to run once per task (required). It is split into words and run without a shell; the task arrives on stdin as JSON and in ABATHUR_TASK_ID, ABATHUR_TASK_PROMPT, ABATHUR_DB."
  ),
  concurrency: text("concurrency", "N", "How many tasks run at once (default 1).").pipe(Options.withAlias("n")),
  shell: Options.boolean("shell").pipe(Options.withDescription("Run CMD with /bin/sh -c (pipes, &&, $ABATHUR_TASK_ID...).")),
  agentType: text("agent-type", "TYPE", "Only claim tasks for this kind of agent."),
  lease: text("lease", "SECONDS", "Lease length in seconds (default: each task's timeout); renewed while the command runs."),
  untilEmpty: Options.boolean("until-empty").pipe(Options.withDescription("Exit once no task is ready or running, instead of waiting for more.")),
  maxTasks: text("max-tasks", "N", "Exit after running N tasks."),
  worker: text("worker", "NAME", "The worker's name in the audit trail (default host:pid)."),
  server: text("server", "URL", "Work for an abathur-server instead of the database file (token from ABATHUR_TOKEN).")
}

export interface WorkFlags {
  readonly exec: Option.Option<string>
  readonly concurrency: Option.Option<string>
  readonly shell: boolean
  readonly agentType: Option.Option<string>
  readonly lease: Option.Option<string>
  readonly untilEmpty: boolean
  readonly maxTasks: Option.Option<string>
  readonly worker: Option.Option<string>
  readonly server: Option.Option<string>
}

/** What `work` needs from the app (a subset of the commands' context, commands/Command.ts). */
export interface WorkContext {
  readonly app: {
    readonly env: Readonly<Record<string, string | undefined>>
    readonly terminal: Terminal
    readonly layer: (settings: {
      readonly filename: string
    }) => Layer.Layer<TaskQueue | OpenStore, MigrationError | DatabaseOpenError | PostgresOpenError | ValidationError, never>
  }
  readonly json: boolean
  readonly db: string
}

const wholeNumber = (flag: string, raw: Option.Option<string>, min: number, max: number): number | undefined => {
  if (Option.isNone(raw)) return undefined
  const t = raw.value.trim()
  const n = /^\d+$/.test(t) ? Number(t) : Number.NaN
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new ValidationError({ message: `${flag} must be a whole number from ${min} to ${max}, not ${JSON.stringify(raw.value)}` })
  }
  return n
}

const nonEmpty = (flag: string, raw: Option.Option<string>): string | undefined => {
  if (Option.isNone(raw)) return undefined
  if (raw.value.trim() === "") throw new ValidationError({ message: `${flag} must not be empty` })
  return raw.value
}

interface Plan {
  readonly file: string
  readonly argv: Array<string>
  readonly command: string
  readonly concurrency: number
  readonly leaseSeconds: number | undefined
  readonly maxTasks: number | undefined
  readonly agentType: string | undefined
  readonly worker: string
  readonly server: string | undefined
}

const plan = (o: WorkFlags, env: WorkContext["app"]["env"], cwd: string): Plan => {
  if (Option.isNone(o.exec)) {
    throw new ValidationError({ message: `work needs --exec CMD: the command to run per task, e.g. abathur work --exec "node agent.mjs" -n 4` })
  }
  const server = nonEmpty("--server", o.server)
  if (server !== undefined && parseServerUrl(server) === null) {
    throw new ValidationError({ message: `--server ${JSON.stringify(server)} is not an http(s) URL, e.g. http://127.0.0.1:7420` })
  }
  const argv = parseCommand(o.exec.value, o.shell, env)
  return {
    file: o.shell ? argv[0]! : resolveProgram(argv[0]!, cwd, env),
    argv,
    command: o.exec.value,
    concurrency: wholeNumber("-n", o.concurrency, 1, 1024) ?? 1,
    leaseSeconds: wholeNumber("--lease", o.lease, 1, 31_536_000),
    maxTasks: wholeNumber("--max-tasks", o.maxTasks, 1, Number.MAX_SAFE_INTEGER),
    agentType: nonEmpty("--agent-type", o.agentType),
    worker: nonEmpty("--worker", o.worker) ?? `${hostname()}:${process.pid}`,
    server
  }
}

const summaryText = (s: WorkSummary, ms: number): string =>
  `work done in ${(ms / 1000).toFixed(1)} s: ${s.completed} completed, ${s.failed} failed, ${s.retried} retried, ${s.timedOut} timed out`

/** Runs `abathur work`. */
export const runWork = (o: WorkFlags, ctx: WorkContext): Effect.Effect<void, WorkError | MigrationError | DatabaseOpenError | PostgresOpenError> =>
  Effect.gen(function* () {
    const cwd = process.cwd()
    const p = yield* Effect.try({ try: () => plan(o, ctx.app.env, cwd), catch: (e) => e as ValidationError })
    const dbPath = resolve(ctx.db)
    const logDir = taskLogDir(ctx.db)
    const terminal = ctx.app.terminal
    let status: StatusLine | null = null
    let snapshot: (() => StatusSnapshot) | null = null
    const levels: Record<LogLevel, (message: string) => Effect.Effect<void>> = {
      debug: (m) => Effect.logDebug(m),
      info: (m) => Effect.logInfo(m),
      warning: (m) => Effect.logWarning(m),
      error: (m) => Effect.logError(m)
    }
    const io = {
      log: (level: LogLevel, message: string) =>
        Effect.sync(() => status?.clear()).pipe(Effect.zipRight(levels[level](message)), Effect.zipRight(Effect.sync(() => status?.draw()))),
      onSignal: (handler: (signal: string) => void) => {
        const onInt = () => handler("SIGINT")
        const onTerm = () => handler("SIGTERM")
        process.on("SIGINT", onInt)
        process.on("SIGTERM", onTerm)
        return () => {
          process.off("SIGINT", onInt)
          process.off("SIGTERM", onTerm)
        }
      },
      attach: (s: () => StatusSnapshot) => {
        snapshot = s
        status = makeStatusLine(terminal.stderr, terminal.err, () => snapshot!())
      },
      changed: () => status?.changed()
    }

    const work = (backend: WorkBackend) =>
      Effect.gen(function* () {
        yield* Effect.sync(() => mkdirSync(logDir, { recursive: true }))
        yield* Effect.logDebug(`working for ${backend.label}: ${p.command} (${p.concurrency} at a time; logs in ${logDir})`)
        const startedAt = Date.now()
        const summary = yield* runPool(
          backend,
          {
            file: p.file,
            argv: p.argv,
            command: p.command,
            concurrency: p.concurrency,
            worker: p.worker,
            agentType: p.agentType,
            leaseSeconds: p.leaseSeconds,
            untilEmpty: o.untilEmpty,
            maxTasks: p.maxTasks,
            env: ctx.app.env,
            cwd,
            logPath: (id) => taskLogPath(ctx.db, id)
          },
          io
        ).pipe(Effect.ensuring(Effect.sync(() => status?.stop())))
        yield* Effect.sync(() => {
          const out = terminal.stdout
          if (ctx.json) out.write(`${JSON.stringify(summary)}\n`)
          else out.write(`${summaryText(summary, Date.now() - startedAt)}\n`)
        })
      })

    if (p.server !== undefined) {
      return yield* work(httpBackend({ server: p.server, token: ctx.app.env["ABATHUR_TOKEN"] }))
    }
    const local = Effect.gen(function* () {
      const db = yield* OpenStore
      const m = db.migration
      if (m.applied.length > 0 && m.fromVersion > 0) {
        yield* Effect.logInfo(
          `migrated ${displayDb(ctx.db)} from schema version ${m.fromVersion} to ${m.toVersion}; backup at ${m.backup ?? "(none)"}`
        )
      }
      const queue = yield* TaskQueue
      yield* work(db.listenReady === null ? localBackend(queue, dbPath) : postgresBackend(queue, ctx.db, db.listenReady))
    })
    return yield* Effect.provide(local, ctx.app.layer({ filename: ctx.db }))
  })
