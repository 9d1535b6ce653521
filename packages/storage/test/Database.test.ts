import { LATEST_VERSION, TASKS_V1 } from "@abathur/schema"
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Scope } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { Database, openDatabase } from "../src/Database.js"
import { DatabaseOpenError, MigrationError } from "../src/StorageError.js"
import { rawConnection, tempDbFile, tempDir, thrown, track } from "./helpers.js"

/** Builds `Database.layer` in a scope of its own, so that the test can close it. */
const openScoped = (options: Parameters<typeof Database.layer>[0]) =>
  Effect.gen(function* () {
    const scope = yield* Scope.make()
    const context = yield* Layer.buildWithScope(Database.layer(options), scope)
    return { handle: Context.get(context, Database), close: Scope.close(scope, Exit.void) }
  })

/** The error of opening a database through the layer. */
const openFailure = (options: Parameters<typeof Database.layer>[0]) => Effect.flip(Effect.scoped(Layer.build(Database.layer(options))))

/** A file migrated to the latest version, then closed. */
const migratedFile = (): string => {
  const filename = tempDbFile()
  openDatabase({ filename }).db.close()
  return filename
}

describe("Database.layer", () => {
  it.effect("opens the file in a folder it creates, with WAL, foreign keys and the default pragmas", () =>
    Effect.gen(function* () {
      const filename = tempDbFile()
      expect(fs.existsSync(path.dirname(filename))).toBe(false)
      const { handle, close } = yield* openScoped({ filename })
      const { db } = handle
      expect(handle.filename).toBe(filename)
      expect(fs.existsSync(filename)).toBe(true)
      expect(db.pragma("journal_mode", { simple: true })).toBe("wal")
      expect(db.pragma("foreign_keys", { simple: true })).toBe(1)
      expect(db.pragma("busy_timeout", { simple: true })).toBe(5000)
      expect(db.pragma("synchronous", { simple: true })).toBe(1)
      expect(db.open).toBe(true)
      yield* close
      expect(db.open).toBe(false)
    })
  )

  it.effect("sets the busy timeout it is given and FULL synchronous when asked", () =>
    Effect.gen(function* () {
      const { handle, close } = yield* openScoped({ filename: tempDbFile(), busyTimeoutMs: 1234.7, synchronous: "FULL" })
      expect(handle.db.pragma("busy_timeout", { simple: true })).toBe(1234)
      expect(handle.db.pragma("synchronous", { simple: true })).toBe(2)
      yield* close
    })
  )

  it.effect("a negative busy timeout becomes zero", () =>
    Effect.gen(function* () {
      const { handle, close } = yield* openScoped({ filename: tempDbFile(), busyTimeoutMs: -10 })
      expect(handle.db.pragma("busy_timeout", { simple: true })).toBe(0)
      yield* close
    })
  )

  it.effect("migrates a new file to the latest version without a backup", () =>
    Effect.gen(function* () {
      const filename = tempDbFile()
      const { handle, close } = yield* openScoped({ filename })
      expect(LATEST_VERSION).toBeGreaterThanOrEqual(2)
      expect(handle.migration.fromVersion).toBe(0)
      expect(handle.migration.toVersion).toBe(LATEST_VERSION)
      expect(handle.migration.backup).toBeNull()
      expect(handle.migration.applied).toEqual(Array.from({ length: LATEST_VERSION }, (_, i) => i + 1))
      const versions = handle.db.prepare("SELECT version FROM schema_migrations ORDER BY version").pluck().all()
      expect(versions.at(-1)).toBe(LATEST_VERSION)
      expect(fs.readdirSync(path.dirname(filename)).filter((f) => f.includes(".backup-"))).toEqual([])
      yield* close
    })
  )

  it.effect("opening a migrated file again applies nothing and keeps the data", () =>
    Effect.gen(function* () {
      const filename = migratedFile()
      const writer = rawConnection(filename)
      writer
        .prepare("INSERT INTO tasks (id, prompt, submitted_at, last_updated_at) VALUES (?, ?, ?, ?)")
        .run("00000000-0000-4000-8000-000000000001", "kept", "2026-01-01T00:00:00.000Z", "2026-01-01T00:00:00.000Z")
      writer.close()
      const { handle, close } = yield* openScoped({ filename })
      expect(handle.migration).toEqual({ fromVersion: LATEST_VERSION, toVersion: LATEST_VERSION, backup: null, applied: [] })
      expect(handle.db.prepare("SELECT prompt FROM tasks").pluck().all()).toEqual(["kept"])
      yield* close
    })
  )

  it.effect("reports migration progress", () =>
    Effect.gen(function* () {
      const events: Array<{ version: number; done: number; total: number }> = []
      const { close } = yield* openScoped({
        filename: tempDbFile(),
        onMigrationProgress: (e) => events.push({ version: e.version, done: e.done, total: e.total })
      })
      expect(events.map((e) => e.version)).toEqual(Array.from({ length: LATEST_VERSION }, (_, i) => i + 1))
      expect(events.at(-1)).toEqual({ version: LATEST_VERSION, done: LATEST_VERSION, total: LATEST_VERSION })
      yield* close
    })
  )

  it.effect("backs up a legacy file before migrating it", () =>
    Effect.gen(function* () {
      const filename = path.join(tempDir(), "legacy.db")
      const legacy = rawConnection(filename)
      legacy.exec(TASKS_V1)
      legacy.close()
      const { handle, close } = yield* openScoped({ filename })
      expect(handle.migration.fromVersion).toBe(1)
      expect(handle.migration.toVersion).toBe(LATEST_VERSION)
      expect(handle.migration.backup).not.toBeNull()
      expect(fs.existsSync(handle.migration.backup!)).toBe(true)
      yield* close
    })
  )

  it.effect("refuses a database from the future with MigrationError too-new and leaves it untouched", () =>
    Effect.gen(function* () {
      const filename = migratedFile()
      const raw = rawConnection(filename)
      raw.prepare("INSERT INTO schema_migrations VALUES (99, 'future', '2030-01-01T00:00:00.000Z')").run()
      raw.close()
      const error = yield* openFailure({ filename })
      expect(error).toBeInstanceOf(MigrationError)
      expect(error._tag).toBe("MigrationError")
      if (error._tag !== "MigrationError") return
      expect(error.reason).toBe("too-new")
      expect(error.fromVersion).toBe(99)
      expect(error.toVersion).toBe(LATEST_VERSION)
      expect(error.message).toContain("99")
      const check = rawConnection(filename)
      expect(check.prepare("SELECT max(version) FROM schema_migrations").pluck().get()).toBe(99)
    })
  )

  it.effect("refuses a tasks table that is not Abathur's with MigrationError failed", () =>
    Effect.gen(function* () {
      const filename = path.join(tempDir(), "other.db")
      const raw = rawConnection(filename)
      raw.exec("CREATE TABLE tasks (name TEXT)")
      raw.close()
      const error = yield* openFailure({ filename })
      expect(error._tag).toBe("MigrationError")
      if (error._tag !== "MigrationError") return
      expect(error.reason).toBe("failed")
    })
  )

  it.effect("a directory is not a database: DatabaseOpenError", () =>
    Effect.gen(function* () {
      const filename = tempDir()
      const error = yield* openFailure({ filename })
      expect(error).toBeInstanceOf(DatabaseOpenError)
      expect(error._tag).toBe("DatabaseOpenError")
      if (error._tag !== "DatabaseOpenError") return
      expect(error.filename).toBe(filename)
      expect(error.message).toContain(filename)
    })
  )

  it.effect("a file that is not a database: DatabaseOpenError, and the file is untouched", () =>
    Effect.gen(function* () {
      const filename = path.join(tempDir(), "notes.txt")
      const text = "These are my notes, not a database.\n".repeat(200)
      fs.writeFileSync(filename, text)
      const error = yield* openFailure({ filename })
      expect(error._tag).toBe("DatabaseOpenError")
      if (error._tag !== "DatabaseOpenError") return
      expect(error.message).toMatch(/not a database/)
      expect(fs.readFileSync(filename, "utf8")).toBe(text)
    })
  )

  it.effect("a folder that cannot be created: DatabaseOpenError", () =>
    Effect.gen(function* () {
      const blocker = path.join(tempDir(), "file")
      fs.writeFileSync(blocker, "x")
      const error = yield* openFailure({ filename: path.join(blocker, "sub", "abathur.db") })
      expect(error._tag).toBe("DatabaseOpenError")
    })
  )
})

describe("openDatabase", () => {
  it("opens a private in-memory database, migrated, without WAL", () => {
    const handle = openDatabase({ filename: ":memory:" })
    track(handle.db)
    expect(handle.db.memory).toBe(true)
    expect(handle.db.pragma("journal_mode", { simple: true })).toBe("memory")
    expect(handle.db.pragma("foreign_keys", { simple: true })).toBe(1)
    expect(handle.migration.toVersion).toBe(LATEST_VERSION)
    expect(handle.migration.backup).toBeNull()
  })

  it("throws the storage's tagged errors", () => {
    const error = thrown(() => openDatabase({ filename: tempDir() }))
    expect(error).toBeInstanceOf(DatabaseOpenError)
  })

  it("two connections share one WAL file", () => {
    const filename = tempDbFile()
    const a = openDatabase({ filename })
    track(a.db)
    const b = openDatabase({ filename })
    track(b.db)
    a.db
      .prepare("INSERT INTO tasks (id, prompt, submitted_at, last_updated_at) VALUES (?, ?, ?, ?)")
      .run("00000000-0000-4000-8000-000000000002", "shared", "2026-01-01T00:00:00.000Z", "2026-01-01T00:00:00.000Z")
    expect(b.db.prepare("SELECT prompt FROM tasks").pluck().all()).toEqual(["shared"])
    expect(b.migration.applied).toEqual([])
  })
})
