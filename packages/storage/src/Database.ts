import { migrate, MigrationError as SchemaMigrationError, type MigrationResult } from "@abathur/schema"
import BetterSqlite3 from "better-sqlite3"
import { Context, Effect, Layer } from "effect"
import { mkdirSync } from "node:fs"
import { dirname } from "node:path"
import { DatabaseOpenError, MigrationError } from "./StorageError.js"

/** How to open the database. */
export interface DatabaseOptions {
  /** The SQLite file; `:memory:` for a private in-memory database. */
  readonly filename: string
  /** How long a writer waits for another process's lock, in milliseconds (default 5000). */
  readonly busyTimeoutMs?: number
  /** `NORMAL` (default) or `FULL` (every commit reaches the disk before it returns). */
  readonly synchronous?: "NORMAL" | "FULL"
  /** Called while migrations run (for progress on a terminal). */
  readonly onMigrationProgress?: (event: { version: number; name: string; done: number; total: number }) => void
}

/** An open, migrated SQLite database. */
export interface DatabaseHandle {
  readonly db: BetterSqlite3.Database
  readonly filename: string
  /** What opening the database migrated. */
  readonly migration: MigrationResult
}

/**
 * Opens a database: creates its folder, sets WAL, foreign keys, busy timeout and
 * synchronous mode, and migrates it (backup first). Throws the storage's tagged errors.
 */
export const openDatabase = (options: DatabaseOptions): DatabaseHandle => {
  const { filename } = options
  let db: BetterSqlite3.Database
  try {
    if (filename !== ":memory:") mkdirSync(dirname(filename), { recursive: true })
    db = new BetterSqlite3(filename)
  } catch (error) {
    throw new DatabaseOpenError({ filename, message: `cannot open database ${filename}: ${(error as Error).message}` })
  }
  try {
    db.pragma(`busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000))}`)
    if (filename !== ":memory:") db.pragma("journal_mode = WAL")
    db.pragma(`synchronous = ${options.synchronous ?? "NORMAL"}`)
    db.pragma("foreign_keys = ON")
    const migration = migrate(db, options.onMigrationProgress ? { onProgress: options.onMigrationProgress } : {})
    return { db, filename, migration }
  } catch (error) {
    db.close()
    if (error instanceof SchemaMigrationError) {
      throw new MigrationError({
        reason: error.reason,
        message: error.message,
        fromVersion: error.fromVersion,
        toVersion: error.toVersion
      })
    }
    throw new DatabaseOpenError({ filename, message: `cannot open database ${filename}: ${(error as Error).message}` })
  }
}

/** The open database of this process, as an Effect service. */
export class Database extends Context.Tag("@abathur/storage/Database")<Database, DatabaseHandle>() {
  /** Opens (and migrates) the database for the layer's scope; closes it when the scope ends. */
  static readonly layer = (options: DatabaseOptions): Layer.Layer<Database, MigrationError | DatabaseOpenError> =>
    Layer.scoped(
      Database,
      Effect.acquireRelease(
        Effect.try({
          try: () => openDatabase(options),
          catch: (error) =>
            error instanceof MigrationError || error instanceof DatabaseOpenError
              ? error
              : new DatabaseOpenError({ filename: options.filename, message: String(error) })
        }),
        (handle) => Effect.sync(() => handle.db.close())
      )
    )
}
