import { exitCodeFor } from "@abathur/domain"
import { causeErrorBody, type ErrorDocument, type FaceHints, toErrorBody, ValidationError } from "@abathur/queue"
import { CliConfig, Command, HelpDoc, ValidationError as CliValidationError } from "@effect/cli"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import * as NodeTerminal from "@effect/platform-node/NodeTerminal"
import { Cause, Console, Effect, Exit, Layer, Logger, LogLevel, Option } from "effect"
import { abathur, App, type AppContext, type Env, type MainLayer, overview, VERSION } from "./Cli.js"
import { commandHelp } from "./Help.js"
import { makeTerminal, type Terminal } from "./Terminal.js"

const LogLevels = ["all", "trace", "debug", "info", "warning", "error", "fatal", "none"] as const

const levelNamed = (text: string): LogLevel.LogLevel | undefined => {
  const raw = text.trim().toLowerCase()
  const name = raw === "warn" ? "warning" : raw === "off" ? "none" : raw
  return LogLevel.allLevels.find((l) => l._tag.toLowerCase() === name)
}

/** The log level of ABATHUR_LOG_LEVEL (default info); `--log-level` overrides it. */
const logLevelFrom = (env: Env): LogLevel.LogLevel => {
  const raw = env["ABATHUR_LOG_LEVEL"] ?? ""
  if (raw.trim() === "") return LogLevel.Info
  const level = levelNamed(raw)
  if (level === undefined) {
    throw new ValidationError({
      message: `ABATHUR_LOG_LEVEL=${JSON.stringify(env["ABATHUR_LOG_LEVEL"])} is not a log level: use one of ${LogLevels.join(", ")}`
    })
  }
  return level
}

/**
 * Takes `--log-level LEVEL` (or `--log-level=LEVEL`) out of the arguments, wherever it stands:
 * @effect/cli's own flag of that name is not found after other global options before the command.
 */
const takeLogLevel = (args: ReadonlyArray<string>): { level: LogLevel.LogLevel | null; rest: Array<string> } => {
  let level: LogLevel.LogLevel | null = null
  const rest: Array<string> = []
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!
    const inline = a.startsWith("--log-level=")
    if (a !== "--log-level" && !inline) {
      rest.push(a)
      continue
    }
    const value = inline ? a.slice("--log-level=".length) : args[++i]
    const found = value === undefined ? undefined : levelNamed(value)
    if (found === undefined) {
      throw new ValidationError({
        message: `--log-level ${value === undefined ? "needs a value" : `${JSON.stringify(value)} is not a log level`}: use one of ${LogLevels.join(", ")}`
      })
    }
    level = found
  }
  return { level, rest }
}

/** Logs go to stderr only, one line each. */
const stderrLogger = (terminal: Terminal) =>
  Logger.make(({ logLevel, message }) => {
    const c = terminal.err
    const text = (Array.isArray(message) ? message : [message]).map((m) => (typeof m === "string" ? m : JSON.stringify(m))).join(" ")
    const level = logLevel._tag.toLowerCase()
    const tint = logLevel._tag === "Error" || logLevel._tag === "Fatal" ? c.red : logLevel._tag === "Warning" ? c.yellow : c.dim
    terminal.stderr.write(`${c.dim("abathur")} ${tint(level)} ${text}\n`)
  })

const stripAnsi = (s: string) => s.replace(/\u001b\[[0-9;]*m/g, "")

const CommandNames = [
  "submit",
  "show",
  "list",
  "next",
  "heartbeat",
  "complete",
  "fail",
  "cancel",
  "retry",
  "release",
  "deps",
  "status",
  "plan",
  "tree",
  "graph",
  "recover",
  "prune",
  "db",
  "mcp",
  "work"
]

/** What the CLI adds to the queue's messages: the command that helps. */
const CliHints: FaceHints = {
  TaskNotFound: "check the id with `abathur list`"
}

/** A document with the exit code of its tag. */
const withExitCode = (body: ErrorDocument): { body: ErrorDocument; code: number } => ({ body, code: exitCodeFor(String(body.error["_tag"])) })

/** The contract's error document and exit code for whatever stopped a command. */
export const describeFailure = (error: unknown, args: ReadonlyArray<string>): { body: ErrorDocument; code: number } => {
  if (CliValidationError.isValidationError(error)) {
    const text = stripAnsi(HelpDoc.toAnsiText(error.error))
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l.length > 0)
      .join("; ")
    const cmd = args.find((a) => CommandNames.includes(a))
    const hint = `run \`abathur${cmd === undefined ? "" : ` ${cmd}`} --help\` for usage`
    return { body: { error: { _tag: "ValidationError", message: `${text || "invalid command line"} (${hint})` } }, code: 2 }
  }
  if (typeof error === "object" && error !== null && "_tag" in error && error._tag === "DatabaseOpenError") {
    const { message, filename } = error as { message?: unknown; filename?: unknown }
    const text = typeof message === "string" ? message : `cannot open database ${String(filename)}`
    return {
      body: {
        error: {
          _tag: "ValidationError",
          message: `${text} (check --db or ABATHUR_DB: it must name an SQLite database file or a new file in a writable folder)`,
          path: filename
        }
      },
      code: 2
    }
  }
  return withExitCode(toErrorBody(error, CliHints))
}

/** Prints a failure: the Error JSON with `--json`, else one line for people. */
const report = (terminal: Terminal, json: boolean, failure: { body: ErrorDocument; code: number }) => {
  if (json) {
    terminal.stderr.write(`${JSON.stringify(failure.body)}\n`)
  } else {
    const c = terminal.err
    const e = failure.body.error
    const cycle = Array.isArray(e["cycle"]) ? ` [${(e["cycle"] as Array<unknown>).join(" -> ")}]` : ""
    terminal.stderr.write(
      `${c.red(c.bold("error"))} ${c.dim(String(e["_tag"]))}: ${String(e["message"])}${e["_tag"] === "DependencyCycle" && !String(e["message"]).includes(" -> ") ? cycle : ""}\n`
    )
  }
  return failure.code
}

/**
 * @effect/cli prints its own parse errors (the app prints them in the contract's shape instead)
 * and its help in colour (plain when stdout is not a terminal).
 */
const cliConsole =
  (terminal: Terminal) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    Effect.flatMap(Console.consoleWith(Effect.succeed), (console) => {
      const log = (...args: ReadonlyArray<unknown>) => {
        const text = args.map(String).join(" ")
        terminal.stdout.write(`${terminal.out.isColorSupported ? text : stripAnsi(text)}\n`)
      }
      return Console.withConsole(effect, {
        ...console,
        log: (...args) => Effect.sync(() => log(...args)),
        error: () => Effect.void,
        unsafe: { ...console.unsafe, log, error: () => {} }
      })
    })

/** The arguments without the global options: what tells `abathur --help` from `abathur submit --help`. */
const withoutGlobals = (args: ReadonlyArray<string>): Array<string> => {
  const rest: Array<string> = []
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!
    if (a === "--db") i++
    else if (a !== "--json" && !a.startsWith("--db=")) rest.push(a)
  }
  return rest
}

/** Runs the command line; resolves to the exit code. */
export const runCli = async (argv: ReadonlyArray<string>, env: Env, layer: MainLayer): Promise<number> => {
  // `abathur list | head`: the reader left; stop quietly, as other command-line tools do.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code !== "EPIPE") throw error
      process.exit(typeof process.exitCode === "number" ? process.exitCode : 0)
    })
  }
  const terminal = makeTerminal(env)
  const args = argv.slice(2)
  const app: AppContext = { env, terminal, layer, json: undefined, exitCode: 0 }
  const wantsJson = () => app.json ?? args.includes("--json")
  let level: LogLevel.LogLevel
  let cliArgs: Array<string>
  try {
    const taken = takeLogLevel(args)
    level = taken.level ?? logLevelFrom(env)
    cliArgs = taken.rest
  } catch (error) {
    return report(terminal, wantsJson(), describeFailure(error, args))
  }
  const rest = withoutGlobals(cliArgs)
  if (rest.length === 1 && (rest[0] === "--help" || rest[0] === "-h")) {
    terminal.stdout.write(`${overview(terminal.out)}\n`)
    return 0
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    const help = commandHelp(
      abathur,
      rest.slice(
        0,
        rest.findIndex((a) => a === "--help" || a === "-h")
      ),
      terminal.out,
      Math.min(terminal.width ?? 100, 120)
    )
    if (help !== undefined) {
      terminal.stdout.write(`${help}\n`)
      return 0
    }
  }
  const cli = Command.run(abathur, { name: "abathur", version: VERSION })
  const program = Effect.suspend(() => cli([...argv.slice(0, 2), ...cliArgs])).pipe(
    cliConsole(terminal),
    Effect.provide(CliConfig.layer({ showBuiltIns: false })),
    Effect.provideService(App, app),
    Effect.provide(Layer.mergeAll(NodeFileSystem.layer, NodePath.layer, NodeTerminal.layer)),
    Logger.withMinimumLogLevel(level),
    Effect.provide(Logger.replace(Logger.defaultLogger, stderrLogger(terminal)))
  )
  const exit = await Effect.runPromiseExit(program)
  if (Exit.isSuccess(exit)) return app.exitCode
  const failure = Cause.failureOption(exit.cause)
  if (Option.isSome(failure)) return report(terminal, wantsJson(), describeFailure(failure.value, args))
  return report(terminal, wantsJson(), withExitCode(causeErrorBody(exit.cause, CliHints)))
}
