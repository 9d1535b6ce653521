import { isPostgresUrl, postgresUrlProblem } from "@abathur/postgres/url"
import { isIP } from "node:net"

// This module is loaded before anything else (the server itself is imported only once the
// command line is valid), so it imports nothing heavy.

/** The server's settings, from flags (first) and the environment. */
export interface ServerConfig {
  readonly port: number
  readonly host: string
  readonly db: string
  readonly logLevel: LogLevelName
  readonly logFormat: "logfmt" | "json"
  /** The bearer token every route but /healthz needs; null = no authentication. */
  readonly token: string | null
  /** Serve a database file that `PRAGMA quick_check` finds damaged (logged as a warning). */
  readonly allowDamaged: boolean
  /** The environment, for the queue's limits (ABATHUR_MAX_*), read when the queue starts. */
  readonly env: Env
}

export type Env = Readonly<Record<string, string | undefined>>

/** What the command line asked for. */
export type Command = { readonly _tag: "Serve"; readonly config: ServerConfig } | { readonly _tag: "Help" } | { readonly _tag: "Version" }

/** A bad flag or environment value: the server does not start (exit 2). */
export class ConfigError extends Error {
  readonly _tag = "ValidationError"
}

export const DEFAULT_PORT = 7420
export const DEFAULT_HOST = "127.0.0.1"
export const DEFAULT_DB = "./.abathur/abathur.db"

export const LogLevelNames = ["all", "trace", "debug", "info", "warning", "error", "fatal", "none"] as const
export type LogLevelName = (typeof LogLevelNames)[number]

export const usage = `abathur-server: the Abathur task queue over HTTP

Usage: abathur-server [--port N] [--host ADDRESS] [--db PATH|URL] [--log-level LEVEL] [--log-format logfmt|json] [--allow-damaged]

Options (flags win over the environment):
  --port N            ABATHUR_PORT       port to listen on (default ${DEFAULT_PORT}; 0 picks a free port)
  --host ADDRESS      ABATHUR_HOST       address to bind (default ${DEFAULT_HOST}); a non-loopback
                                         address needs ABATHUR_TOKEN
  --db PATH|URL       ABATHUR_DB         SQLite database (default ${DEFAULT_DB}; folder created),
                                         or a postgres://USER:PASSWORD@HOST:PORT/DATABASE URL
                                         (PostgreSQL 15+; several servers may share it)
  --log-level LEVEL   ABATHUR_LOG_LEVEL  ${LogLevelNames.join(", ")} (default info)
  --log-format FMT    ABATHUR_LOG_FORMAT logfmt (default) or json, one line per record on stderr
  --allow-damaged     ABATHUR_ALLOW_DAMAGED=1
                                         start even when PRAGMA quick_check finds the database
                                         damaged (by default the server refuses it, exit 1)
                      ABATHUR_TOKEN      bearer token required by every route but /healthz
                                         (empty = none)
                      ABATHUR_MAX_DEPENDENCIES, ABATHUR_MAX_DEPTH, ABATHUR_MAX_SUBTASKS: limits
  -h, --help          this text
  --version           the version

Routes: GET / (dashboard), /docs (API reference), /openapi.json, /healthz, /metrics, /v1/..., POST /mcp.
The bound address is logged as "listening on http://HOST:PORT" (at every level but none).
SIGTERM or SIGINT stops the server gracefully (exit 0).`

const levelNamed = (text: string): LogLevelName | undefined => {
  const raw = text.trim().toLowerCase()
  const name = raw === "warn" ? "warning" : raw === "off" ? "none" : raw
  return LogLevelNames.find((l) => l === name)
}

const parsePort = (raw: string, where: string): number => {
  const s = raw.trim()
  if (!/^\d+$/.test(s) || Number(s) > 65535) {
    throw new ConfigError(`${where} ${JSON.stringify(raw)} is not a port: use a whole number from 0 to 65535 (0 picks a free port)`)
  }
  return Number(s)
}

const parseLogLevel = (raw: string, where: string): LogLevelName => {
  const level = levelNamed(raw)
  if (level === undefined) {
    throw new ConfigError(`${where} ${JSON.stringify(raw)} is not a log level: use one of ${LogLevelNames.join(", ")}`)
  }
  return level
}

const parseLogFormat = (raw: string, where: string): "logfmt" | "json" => {
  const s = raw.trim().toLowerCase()
  if (s !== "logfmt" && s !== "json") throw new ConfigError(`${where} ${JSON.stringify(raw)} is not a log format: use logfmt or json`)
  return s
}

/** True for addresses that only this machine can reach. */
export const isLoopback = (host: string): boolean => {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[(.*)\]$/, "$1")
  if (h === "localhost" || h.endsWith(".localhost")) return true
  if (isIP(h) === 4) return h.startsWith("127.")
  if (h === "::1" || h === "0:0:0:0:0:0:0:1") return true
  if (h.startsWith("::ffff:")) return isLoopback(h.slice("::ffff:".length))
  return false
}

/** An on/off setting: `1`, `true`, `yes`, `on` or `0`, `false`, `no`, `off` (unset or empty = off). */
const parseSwitch = (raw: string | undefined, where: string): boolean => {
  const s = raw?.trim().toLowerCase() ?? ""
  if (s === "" || s === "0" || s === "false" || s === "no" || s === "off") return false
  if (s === "1" || s === "true" || s === "yes" || s === "on") return true
  throw new ConfigError(`${where}${JSON.stringify(raw)} is not on or off: use 1 or 0`)
}

const nonEmpty = (v: string | undefined): string | undefined => (v === undefined || v.trim() === "" ? undefined : v)

/** Reads the command line (without `node` and the script) and the environment. Throws ConfigError. */
export const parseCommand = (args: ReadonlyArray<string>, env: Env): Command => {
  const flags = new Map<string, string>()
  const valued = ["--port", "--host", "--db", "--log-level", "--log-format"]
  let allowDamagedFlag = false
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!
    if (a === "-h" || a === "--help") return { _tag: "Help" }
    if (a === "--version" || a === "-v") return { _tag: "Version" }
    if (a === "--allow-damaged") {
      allowDamagedFlag = true
      continue
    }
    const eq = a.indexOf("=")
    const name = a.startsWith("--") && eq > 0 ? a.slice(0, eq) : a
    if (!valued.includes(name)) {
      throw new ConfigError(`unknown ${a.startsWith("-") ? "option" : "argument"} ${JSON.stringify(a)}: run abathur-server --help for usage`)
    }
    const value = eq > 0 && a.startsWith("--") ? a.slice(eq + 1) : args[++i]
    if (value === undefined) throw new ConfigError(`${name} needs a value: run abathur-server --help for usage`)
    flags.set(name, value)
  }
  const pick = (flag: string, variable: string): { value: string; where: string } | undefined => {
    const f = flags.get(flag)
    if (f !== undefined) return { value: f, where: flag }
    const e = nonEmpty(env[variable])
    return e === undefined ? undefined : { value: e, where: `${variable}=` }
  }
  const port = pick("--port", "ABATHUR_PORT")
  const host = pick("--host", "ABATHUR_HOST")
  const db = pick("--db", "ABATHUR_DB")
  const level = pick("--log-level", "ABATHUR_LOG_LEVEL")
  const format = pick("--log-format", "ABATHUR_LOG_FORMAT")
  const token = nonEmpty(env["ABATHUR_TOKEN"])?.trim() ?? null
  const allowDamaged = allowDamagedFlag || parseSwitch(env["ABATHUR_ALLOW_DAMAGED"], "ABATHUR_ALLOW_DAMAGED=")
  if (db !== undefined && db.value.trim() === "") throw new ConfigError(`${db.where} must not be empty`)
  const urlProblem = db !== undefined && isPostgresUrl(db.value) ? postgresUrlProblem(db.value) : null
  if (urlProblem !== null) throw new ConfigError(`${db!.where} ${urlProblem}`)
  const config: ServerConfig = {
    port: port === undefined ? DEFAULT_PORT : parsePort(port.value, port.where),
    host: host === undefined ? DEFAULT_HOST : host.value.trim(),
    db: db?.value ?? DEFAULT_DB,
    logLevel: level === undefined ? "info" : parseLogLevel(level.value, level.where),
    logFormat: format === undefined ? "logfmt" : parseLogFormat(format.value, format.where),
    token,
    allowDamaged,
    env
  }
  if (config.host === "") throw new ConfigError("the host must not be empty")
  if (!isLoopback(config.host) && config.token === null) {
    throw new ConfigError(
      `refusing to listen on ${config.host}: it is not a loopback address, so anyone who can reach it could use the queue. ` +
        "Set ABATHUR_TOKEN to a secret (clients then send Authorization: Bearer <token>), or bind 127.0.0.1"
    )
  }
  return { _tag: "Serve", config }
}
