/**
 * Applies the numbered migrations to a better-sqlite3 handle: version check, backup, all pending
 * versions in one transaction, rollback on failure.
 */
import type Database from "better-sqlite3"
import { existsSync } from "node:fs"
import { resolve } from "node:path"
import { SCHEMA_MIGRATIONS } from "./Ddl.js"
import { REQUIRED_LEGACY_COLUMNS } from "./EnhancedQueue.js"
import { MigrationError } from "./MigrationError.js"
import type { Migration, MigrationContext } from "./Migrations.js"
import { Migrations } from "./Migrations.js"
import { tableColumns, tableExists } from "./Sqlite.js"

/** Reported after each migration is applied (inside the transaction). */
export interface MigrationProgress {
  readonly version: number
  readonly name: string
  /** Migrations applied so far in this run, this one included. */
  readonly done: number
  /** Migrations this run applies. */
  readonly total: number
}

export interface MigrateOptions {
  /** The migrations to apply (default: `Migrations`). */
  readonly migrations?: ReadonlyArray<Migration>
  /** Back the file up before changing it (default true). */
  readonly backup?: boolean
  /** The clock (default: the system clock). */
  readonly now?: () => Date
  readonly onProgress?: (event: MigrationProgress) => void
}

export interface MigrationResult {
  readonly fromVersion: number
  readonly toVersion: number
  /** The backup file written before migrating, or null when none was needed. */
  readonly backup: string | null
  /** The versions this run applied, in order. */
  readonly applied: ReadonlyArray<number>
}

/** Whether the version table holds a version. */
const recordedVersion = (db: Database.Database): number | null => {
  if (!tableExists(db, "schema_migrations")) return null
  const row = db.prepare("SELECT max(version) AS version FROM schema_migrations").get() as { version: number | null }
  return row.version
}

/**
 * The schema version of a database: the highest version in `schema_migrations`; else 1 when a
 * `tasks` table exists (a never-versioned legacy Abathur database); else 0.
 */
export const readVersion = (db: Database.Database): number => recordedVersion(db) ?? (tableExists(db, "tasks") ? 1 : 0)

/** `20261126T060411Z` */
const compactTimestamp = (date: Date): string =>
  date
    .toISOString()
    .replace(/\.\d{3}Z$/, "Z")
    .replace(/[-:]/g, "")

/** Writes a consistent copy of the database beside it; returns its path. */
const backUp = (db: Database.Database, fromVersion: number, at: Date): string => {
  const base = `${resolve(db.name)}.backup-v${fromVersion}-${compactTimestamp(at)}`
  for (let n = 1; ; n++) {
    const path = n === 1 ? base : `${base}-${n}`
    if (existsSync(path)) continue
    try {
      db.prepare("VACUUM INTO ?").run(path)
      return path
    } catch (error) {
      // Another process took the name between the check and the copy: try the next one.
      if (!existsSync(path) || n >= 100) throw error
    }
  }
}

interface ForeignKeyViolation {
  readonly table: string
  readonly rowid: number | bigint | null
  readonly parent: string
  readonly fkid: number
}

const violationKey = (v: ForeignKeyViolation): string => `${v.table}\u0000${String(v.rowid)}\u0000${v.parent}\u0000${v.fkid}`

/** Tables the migrations own: every foreign key violation in them fails a migration. */
const OWNED_TABLES: ReadonlySet<string> = new Set(["tasks", "task_dependencies", "task_audit", "task_stats"])

const checkMigrations = (migrations: ReadonlyArray<Migration>): void => {
  let previous = 0
  for (const m of migrations) {
    if (!Number.isInteger(m.version) || m.version <= previous) {
      throw new Error(`migrations must have increasing whole version numbers from 1: ${m.version} (${m.name}) follows ${previous}`)
    }
    previous = m.version
  }
}

/**
 * Brings a database up to the last of `migrations`.
 *
 * - A database newer than the code is refused (`MigrationError`, reason `too-new`), untouched.
 * - Before changing a file it is backed up beside it as `<file>.backup-v<from>-<UTC time>`
 *   (not for in-memory databases, brand-new empty ones, or when nothing is pending).
 * - Foreign keys are turned off around the transaction (and restored); all pending migrations
 *   run in one `BEGIN IMMEDIATE` transaction, which commits only when `PRAGMA foreign_key_check`
 *   finds no new violation. Any error rolls everything back (`MigrationError`, reason `failed`).
 * - Running it again applies nothing and changes nothing.
 */
export const migrate = (db: Database.Database, options: MigrateOptions = {}): MigrationResult => {
  const migrations = options.migrations ?? Migrations
  checkMigrations(migrations)
  const latest = migrations[migrations.length - 1]?.version ?? 0
  const now = options.now ?? (() => new Date())
  const ctx: MigrationContext = { now }

  let fromVersion = readVersion(db)
  const tooNew = (version: number) =>
    new MigrationError({
      reason: "too-new",
      fromVersion: version,
      toVersion: latest,
      message: `the database is at schema version ${version}, newer than this Abathur knows (${latest}); it was left untouched: use a newer Abathur`
    })
  if (fromVersion > latest) throw tooNew(fromVersion)
  if (fromVersion >= 1 && recordedVersion(db) === null) {
    const columns = tableColumns(db, "tasks")
    const missing = REQUIRED_LEGACY_COLUMNS.filter((c) => !columns.includes(c))
    if (missing.length > 0) {
      throw new MigrationError({
        reason: "failed",
        fromVersion,
        toVersion: latest,
        message: `the database has a tasks table without the column(s) ${missing.join(", ")} and no schema_migrations table: it is not an Abathur database, so it was left untouched`
      })
    }
  }
  if (!migrations.some((m) => m.version > fromVersion)) {
    return { fromVersion, toVersion: fromVersion, backup: null, applied: [] }
  }
  if (db.inTransaction) {
    throw new MigrationError({
      reason: "failed",
      fromVersion,
      toVersion: latest,
      message: "cannot migrate inside an open transaction"
    })
  }

  let backup: string | null = null
  const hasTables = db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' LIMIT 1").get() !== undefined
  if (options.backup !== false && !db.memory && db.name !== "" && hasTables) {
    try {
      backup = backUp(db, fromVersion, now())
    } catch (cause) {
      throw new MigrationError({
        reason: "failed",
        fromVersion,
        toVersion: latest,
        message: `could not back the database up before migrating, so nothing was changed: ${(cause as Error).message}`,
        cause
      })
    }
  }

  const foreignKeys = db.pragma("foreign_keys", { simple: true }) === 1
  db.pragma("foreign_keys = OFF")
  let current: Migration | undefined
  const applied: Array<number> = []
  try {
    db.exec("BEGIN IMMEDIATE")
    // Another process may have migrated while this one waited for the write lock.
    const lockedVersion = readVersion(db)
    if (lockedVersion > latest) throw tooNew(lockedVersion)
    fromVersion = lockedVersion
    const pending = migrations.filter((m) => m.version > fromVersion)
    const baseline = new Set(
      (db.pragma("foreign_key_check") as Array<ForeignKeyViolation>).filter((v) => !OWNED_TABLES.has(v.table)).map(violationKey)
    )
    const neverVersioned = fromVersion >= 1 && recordedVersion(db) === null
    db.exec(SCHEMA_MIGRATIONS)
    const record = db.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)")
    if (neverVersioned) {
      // The versions a legacy database already has, recorded once so that the table is whole.
      for (const m of migrations) if (m.version <= fromVersion) record.run(m.version, m.name, now().toISOString())
    }
    for (const m of pending) {
      current = m
      m.up(db, ctx)
      record.run(m.version, m.name, now().toISOString())
      applied.push(m.version)
      options.onProgress?.({ version: m.version, name: m.name, done: applied.length, total: pending.length })
    }
    const violations = (db.pragma("foreign_key_check") as Array<ForeignKeyViolation>).filter((v) => !baseline.has(violationKey(v)))
    if (violations.length > 0) {
      const shown = violations
        .slice(0, 5)
        .map((v) => `${v.table} row ${String(v.rowid)} -> ${v.parent}`)
        .join(", ")
      throw new Error(`foreign key check found ${violations.length} violation(s): ${shown}`)
    }
    db.exec("COMMIT")
  } catch (cause) {
    if (db.inTransaction) db.exec("ROLLBACK")
    if (cause instanceof MigrationError) throw cause
    const message = (cause as Error)?.message ?? String(cause)
    throw new MigrationError({
      reason: "failed",
      fromVersion,
      toVersion: latest,
      ...(current === undefined ? {} : { version: current.version }),
      message:
        current === undefined
          ? `migration failed and was rolled back: ${message}`
          : `migration ${current.version} (${current.name}) failed and was rolled back: ${message}`,
      cause
    })
  } finally {
    db.pragma(`foreign_keys = ${foreignKeys ? "ON" : "OFF"}`)
  }
  return { fromVersion, toVersion: latest, backup, applied }
}
