import { migrate, MigrationError as SchemaMigrationError, type MigrationResult, readVersion } from "@abathur/schema"
import BetterSqlite3 from "better-sqlite3"
import { Context, Effect, Layer } from "effect"
import { existsSync, mkdirSync, statSync } from "node:fs"
import { dirname } from "node:path"
import { type BackgroundCheckpointer, type BackgroundCheckpointOptions, DEFAULT_MAX_WAL_BYTES, startCheckpointer } from "./Checkpointer.js"
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

/** A row that breaks a foreign key (`PRAGMA foreign_key_check`). */
export interface ForeignKeyViolation {
  readonly table: string
  readonly rowid: number | null
  readonly parent: string
  readonly fkid: number
}

/** An error SQLite raised while the check read the file. */
export interface SqliteFailure {
  /** SQLite's code, such as `SQLITE_CORRUPT` or `SQLITE_NOTADB`. */
  readonly code: string
  readonly message: string
  /** What the check was reading. */
  readonly during: string
}

/** What `checkDatabaseFile` found. */
export interface DatabaseCheck {
  readonly filename: string
  /** `"ok"`, or the findings joined by `"; "`. */
  readonly integrity: string
  /** Each finding of `PRAGMA integrity_check` (or of the per-table checks when it cannot finish); empty when ok. */
  readonly findings: ReadonlyArray<string>
  readonly foreignKeyViolations: ReadonlyArray<ForeignKeyViolation>
  /** The file's schema version as it is (no migration), or null when it cannot be read. */
  readonly schemaVersion: number | null
  /** The errors SQLite raised while reading; the file is unreadable when one came before any table was read. */
  readonly errors: ReadonlyArray<SqliteFailure>
  /** True when nothing is wrong. */
  readonly ok: boolean
}

/** How many findings `PRAGMA integrity_check` lists at most. */
const MAX_FINDINGS = 200

const failureOf = (error: unknown, during: string): SqliteFailure => ({
  code: typeof (error as { code?: unknown }).code === "string" ? (error as { code: string }).code : "ERROR",
  message: error instanceof Error ? error.message : String(error),
  during
})

/**
 * The lines of integrity_check / quick_check rows, without SQLite's "*** in database main ***"
 * heading; "Tree N" (a b-tree by its root page) gets the name of its table or index.
 */
const findingLines = (rows: ReadonlyArray<Record<string, unknown>>, trees: ReadonlyMap<number, string>): Array<string> =>
  rows
    .flatMap((r) => String(Object.values(r)[0] ?? "").split("\n"))
    .map((l) => l.trim())
    .filter((l) => l !== "" && l !== "ok" && !/^\*\*\* in database \w+ \*\*\*$/.test(l))
    .map((l) => l.replace(/^Tree (\d+)/, (all, root: string) => (trees.has(Number(root)) ? `${all} (${trees.get(Number(root))})` : all)))

/**
 * Checks a database file as it is, without migrating or writing it: SQLite's integrity check,
 * the foreign keys and the schema version. It names what is broken in every case: when
 * `PRAGMA integrity_check` cannot finish (SQLite stops with "database disk image is malformed"),
 * each table is checked alone (`integrity_check(table)`, then `quick_check(table)`), so that the
 * findings say which table and page; when the file cannot be read at all, `errors` carries
 * SQLite's code and message. Throws DatabaseOpenError when there is no database file at `filename`.
 */
export const checkDatabaseFile = (filename: string): DatabaseCheck => {
  if (!existsSync(filename) || !statSync(filename).isFile()) {
    throw new DatabaseOpenError({ filename, message: `cannot check database ${filename}: there is no database file there` })
  }
  const errors: Array<SqliteFailure> = []
  const findings: Array<string> = []
  let foreignKeyViolations: Array<ForeignKeyViolation> = []
  let schemaVersion: number | null = null
  let db: BetterSqlite3.Database
  try {
    db = new BetterSqlite3(filename, { fileMustExist: true })
  } catch (error) {
    throw new DatabaseOpenError({ filename, message: `cannot open database ${filename}: ${(error as Error).message}` })
  }
  const attempt = <A>(during: string, f: () => A): A | undefined => {
    try {
      return f()
    } catch (error) {
      errors.push(failureOf(error, during))
      return undefined
    }
  }
  try {
    attempt("setting up the connection", () => {
      db.pragma("busy_timeout = 5000")
      db.pragma("query_only = ON")
    })
    const schema = attempt(
      "reading the schema (sqlite_schema)",
      () =>
        db.prepare("SELECT type, name, rootpage FROM sqlite_schema WHERE type IN ('table', 'index') ORDER BY name").all() as Array<{
          type: string
          name: string
          rootpage: number | null
        }>
    )
    if (schema !== undefined) {
      const tables = schema.filter((o) => o.type === "table").map((o) => o.name)
      const trees = new Map(schema.filter((o) => typeof o.rootpage === "number" && o.rootpage > 0).map((o) => [o.rootpage!, `${o.type} ${o.name}`]))
      schemaVersion = attempt("reading the schema version", () => readVersion(db)) ?? null
      const whole = attempt("PRAGMA integrity_check", () => db.pragma(`integrity_check(${MAX_FINDINGS})`) as Array<Record<string, unknown>>)
      if (whole !== undefined) findings.push(...findingLines(whole, trees))
      else {
        // SQLite gave up on the whole file: check each table alone to say where the damage is.
        for (const table of tables) {
          const quoted = `"${table.replace(/"/g, '""')}"`
          const rows =
            attempt(`PRAGMA integrity_check(${quoted})`, () => db.pragma(`integrity_check(${quoted})`) as Array<Record<string, unknown>>) ??
            attempt(`PRAGMA quick_check(${quoted})`, () => db.pragma(`quick_check(${quoted})`) as Array<Record<string, unknown>>)
          if (rows === undefined) findings.push(`table ${table}: cannot be read (${errors.at(-1)?.code}: ${errors.at(-1)?.message})`)
          else findings.push(...findingLines(rows, trees).map((l) => `table ${table}: ${l}`))
        }
      }
      const fk = attempt("PRAGMA foreign_key_check", () => db.pragma("foreign_key_check") as Array<ForeignKeyViolation>)
      if (fk !== undefined) foreignKeyViolations = fk
      else {
        for (const table of tables) {
          const quoted = `"${table.replace(/"/g, '""')}"`
          const rows = attempt(`PRAGMA foreign_key_check(${quoted})`, () => db.pragma(`foreign_key_check(${quoted})`) as Array<ForeignKeyViolation>)
          if (rows === undefined)
            findings.push(`table ${table}: its foreign keys cannot be checked (${errors.at(-1)?.code}: ${errors.at(-1)?.message})`)
          else foreignKeyViolations.push(...rows)
        }
      }
    }
  } finally {
    try {
      db.close()
    } catch {
      // Closing a damaged file may fail too: what was found stands.
    }
  }
  if (findings.length === 0 && errors.length > 0) {
    for (const e of errors) findings.push(`${e.during}: ${e.code}: ${e.message}`)
  }
  const integrity = findings.length === 0 ? "ok" : findings.join("; ")
  return {
    filename,
    integrity,
    findings,
    foreignKeyViolations,
    schemaVersion,
    errors,
    ok: integrity === "ok" && foreignKeyViolations.length === 0 && errors.length === 0
  }
}
