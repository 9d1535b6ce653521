import { migrate, MigrationError as SchemaMigrationError, type MigrationResult } from "@abathur/schema"
import BetterSqlite3 from "better-sqlite3"
import { Context, Effect, Layer } from "effect"
import { mkdirSync } from "node:fs"
import { dirname } from "node:path"
import {
  type BackgroundCheckpointer,
  type BackgroundCheckpointOptions,
  DEFAULT_MAX_WAL_BYTES,
  startCheckpointer
} from "./Checkpointer.js"
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
  /**
   * Checkpoint the WAL on a background thread instead of inside the commits that fill it (file
   * databases in WAL mode): `true` (the default), `false` (SQLite's automatic checkpoints every
   * 1000 pages), or settings. See Checkpointer.ts. Processes sharing the file may differ.
   */
  readonly backgroundCheckpoint?: boolean | BackgroundCheckpointOptions
}

/** An open, migrated SQLite database. */
export interface DatabaseHandle {
  readonly db: BetterSqlite3.Database
  readonly filename: string
  /** What opening the database migrated. */
  readonly migration: MigrationResult
  /** The background checkpointer, or null (in-memory, turned off, or it could not start). */
  readonly checkpointer: BackgroundCheckpointer | null
  /**
   * Stops the background checkpointer, checkpoints what is left and closes the connection.
   * Idempotent; `db.close()` does the same.
   */
  readonly close: () => void
}

/** SQLite's default `wal_autocheckpoint`, in pages. */
const DEFAULT_AUTOCHECKPOINT = 1000

/**
 * Starts the background checkpointer on a file connection in WAL mode, unless turned off. The
 * connection's own automatic checkpoint moves to `maxWalBytes` (see Checkpointer.ts) and back to
 * SQLite's default should the worker die; `db.close()` stops the worker first.
 */
const withCheckpointer = (
  db: BetterSqlite3.Database,
  options: DatabaseOptions
): { checkpointer: BackgroundCheckpointer | null; close: () => void } => {
  const setting = options.backgroundCheckpoint ?? true
  const plain = { checkpointer: null, close: () => db.close() }
  if (setting === false || db.memory || db.pragma("journal_mode", { simple: true }) !== "wal") return plain
  const settings = setting === true ? {} : setting
  const autocheckpoint = (pages: number) => db.pragma(`wal_autocheckpoint = ${pages}`)
  const pageSize = db.pragma("page_size", { simple: true }) as number
  autocheckpoint(Math.max(1, Math.ceil((settings.maxWalBytes ?? DEFAULT_MAX_WAL_BYTES) / pageSize)))
  let checkpointer: BackgroundCheckpointer
  try {
    checkpointer = startCheckpointer(options.filename, {
      ...settings,
      synchronous: options.synchronous ?? "NORMAL",
      onUnexpectedExit: () => {
        try {
          if (db.open) autocheckpoint(DEFAULT_AUTOCHECKPOINT)
        } catch {
          // Runs from an event: never throw there.
        }
      }
    })
  } catch {
    autocheckpoint(DEFAULT_AUTOCHECKPOINT)
    return plain
  }
  const closeConnection = db.close.bind(db)
  const close = () => {
    checkpointer.stop()
    if (!db.open) return
    // What the worker had not copied yet: when this is not the file's last connection (another
    // process has it open), closing would leave it in the WAL. Best effort.
    try {
      if (!db.inTransaction) db.pragma("wal_checkpoint(PASSIVE)")
    } catch {
      // An I/O error: closing reports what matters.
    }
    closeConnection()
  }
  db.close = () => {
    close()
    return db
  }
  return { checkpointer, close }
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
    return { db, filename, migration, ...withCheckpointer(db, options) }
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
        (handle) => Effect.sync(() => handle.close())
      )
    )
}
