import { LATEST_VERSION } from "@abathur/schema"
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Scope } from "effect"
// Through the package entry, as other packages import it.
import { ConstraintViolation, Database, MigrationError, openDatabase, TaskRepository } from "../src/index.js"
import { makeDependency, makeTask, rawConnection, tempDbFile } from "./helpers.js"

/** The repository over a fresh database file (call it inside each test: one file per test). */
const live = (filename: string = tempDbFile()) => TaskRepository.layer.pipe(Layer.provideMerge(Database.layer({ filename })))

describe("TaskRepository service", () => {
  it.effect("stores and reads tasks over Database.layer", () =>
    Effect.gen(function* () {
      const repo = yield* TaskRepository
      const { db, migration } = yield* Database
      expect(migration.toVersion).toBe(LATEST_VERSION)
      const a = makeTask({ prompt: "first", status: "ready", calculatedPriority: 3, priorityRank: 3 })
      const b = makeTask({ prompt: "second", status: "ready", calculatedPriority: 8, priorityRank: 8 })
      repo.transaction(() => {
        repo.insertTask(a)
        repo.insertTask(b)
        repo.insertDependency(makeDependency(a.id, b.id))
      })
      expect(repo.getTask(a.id)).toEqual(a)
      expect(repo.readyHeads(null).map((h) => h.id)).toEqual([b.id])
      expect(repo.countPrerequisites(a.id)).toBe(1)
      // The repository writes through the layer's connection.
      expect(db.prepare("SELECT count(*) FROM tasks").pluck().get()).toBe(2)
    }).pipe(Effect.provide(live()))
  )

  it.scoped("closes the connection when the scope that built it closes", () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(live(), scope)
      const repo = Context.get(context, TaskRepository)
      const { db } = Context.get(context, Database)
      repo.insertTask(makeTask())
      expect(repo.integrityCheck()).toBe("ok")
      yield* Scope.close(scope, Exit.void)
      expect(db.open).toBe(false)
      expect(() => repo.getTask(makeTask().id)).toThrow(/not open/)
    })
  )

  it.scoped("each build opens its own connection; one sees the other's commits", () =>
    Effect.gen(function* () {
      const filename = tempDbFile()
      const first = Context.get(yield* Layer.build(live(filename)), TaskRepository)
      const second = Context.get(yield* Layer.build(live(filename)), TaskRepository)
      const before = second.dataVersion()
      const task = makeTask()
      first.insertTask(task)
      expect(second.getTask(task.id)).toEqual(task)
      expect(second.dataVersion()).not.toBe(before)
    })
  )

  it.effect("make builds the repository over a given Database handle", () =>
    Effect.gen(function* () {
      const handle = openDatabase({ filename: tempDbFile() })
      const repo = yield* Effect.provideService(TaskRepository.make, Database, handle)
      const task = makeTask()
      repo.insertTask(task)
      expect(handle.db.prepare("SELECT id FROM tasks").pluck().all()).toEqual([task.id])
      handle.db.close()
    })
  )

  it.effect("a database that cannot be migrated fails the layer with MigrationError", () =>
    Effect.gen(function* () {
      const filename = tempDbFile()
      openDatabase({ filename }).db.close()
      const raw = rawConnection(filename)
      raw.prepare("INSERT INTO schema_migrations VALUES (99, 'future', '2030-01-01T00:00:00.000Z')").run()
      raw.close()
      const error = yield* Effect.flip(Effect.provide(TaskRepository, live(filename)))
      expect(error).toBeInstanceOf(MigrationError)
      expect(error._tag === "MigrationError" && error.reason).toBe("too-new")
    })
  )

  it.effect("a constraint violation can be caught by its tag", () =>
    Effect.gen(function* () {
      const repo = yield* TaskRepository
      const task = makeTask()
      repo.insertTask(task)
      const kind = yield* Effect.try({
        try: () => repo.insertTask(task),
        catch: (error) => (error instanceof ConstraintViolation ? error : new ConstraintViolation({ kind: "check", message: String(error) }))
      }).pipe(
        Effect.as("inserted" as string),
        Effect.catchTag("ConstraintViolation", (e) => Effect.succeed(e.kind))
      )
      expect(kind).toBe("duplicate-task")
      expect(repo.statusCounts().byStatus.pending).toBe(1)
    }).pipe(Effect.provide(live()))
  )
})
