/** What the app gives every command: its environment, terminal and database layers; the global options. */
import type { TaskQueue } from "@abathur/queue"
import { Options } from "@effect/cli"
import { Context, type Layer, type Option } from "effect"
import type { OpenStore, StoreError } from "../Store.js"
import type { Terminal } from "../Terminal.js"

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
/** Global options: accepted before the command name and after it (the latter wins). */
export const globalOptions = {
  db: Options.text("db").pipe(
    Options.withPseudoName("PATH|URL"),
    Options.withDescription(
      `The database file (env ABATHUR_DB; default ${DEFAULT_DB}, its folder is created), or a postgres://USER:PASSWORD@HOST:PORT/DATABASE URL (PostgreSQL 15+, shared by many processes and machines).`
    ),
    Options.optional
  ),
  json: Options.boolean("json").pipe(Options.withDescription("Print exactly one JSON document on stdout; errors go to stderr as JSON."))
}

export interface GlobalFlags {
  readonly db: Option.Option<string>
  readonly json: boolean
}
