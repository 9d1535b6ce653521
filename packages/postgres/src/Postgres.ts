import { Context, Data, Effect, Layer } from "effect"
import { MigrationError } from "@abathur/storage"
import pg from "pg"
import { migrate, type MigrationReport } from "./Migrate.js"
import { redactUrl } from "./Url.js"
import { makePostgresRunner, type PostgresRunnerOptions, type PostgresRunnerService } from "./Runner.js"

export { isPostgresUrl, postgresUrlProblem, redactUrl } from "./Url.js"

export interface PostgresOptions extends PostgresRunnerOptions {
  /** The server and database, as a `postgres://user:password@host:port/database` URL. */
  readonly url: string
  /** Connections in the pool (default 10). */
  readonly maxConnections?: number
  /**
   * The server ends a session whose transaction waits longer than this for its client (default
   * 30 s): a process that hangs inside a write cannot hold the write lock, or its rows, forever.
   */
  readonly idleInTransactionTimeoutMs?: number
  /**
   * How long opening a connection (or waiting for a free one in the pool) may take before it
   * fails (default 15 s): an unreachable server is reported rather than waited for.
   */
  readonly connectTimeoutMs?: number
}

/** An open, migrated PostgreSQL database: its pool and the runner of the queue's rules over it. */
export interface PostgresHandle {
  readonly pool: pg.Pool
  readonly runner: PostgresRunnerService
  readonly migration: MigrationReport
  readonly close: () => Promise<void>
}

/** Connects a pool, migrates the schema (idempotent; concurrent openers wait for each other) and builds the runner. */
export const openPostgres = async (options: PostgresOptions): Promise<PostgresHandle> => {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.maxConnections ?? 10,
    idle_in_transaction_session_timeout: options.idleInTransactionTimeoutMs ?? 30_000,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 15_000
  })
  // An idle client's connection error is reported by the query that next uses the pool.
  pool.on("error", () => undefined)
  try {
    const migration = await migrate(pool)
    return { pool, runner: makePostgresRunner(pool, options), migration, close: () => pool.end() }
  } catch (error) {
    await pool.end()
    throw error
  }
}

/** The database could not be reached or migrated (a MigrationError keeps its own tag). */
export class PostgresOpenError extends Data.TaggedError("PostgresOpenError")<{ readonly message: string }> {}

/** The PostgreSQL database as an Effect service (the pool closes with the layer's scope). */
export class Postgres extends Context.Tag("@abathur/postgres/Postgres")<Postgres, PostgresHandle>() {
  static readonly layer = (options: PostgresOptions): Layer.Layer<Postgres, PostgresOpenError | MigrationError> =>
    Layer.scoped(
      Postgres,
      Effect.acquireRelease(
        Effect.tryPromise({
          try: () => openPostgres(options),
          catch: (error) =>
            error instanceof MigrationError
              ? error
              : new PostgresOpenError({
                  message: `cannot open the PostgreSQL database ${redactUrl(options.url)}: ${error instanceof Error ? error.message : String(error)}`
                })
        }),
        (handle) => Effect.promise(() => handle.close())
      )
    )
}
