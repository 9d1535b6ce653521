import { Database, type DatabaseOptions, TaskRepository } from "@abathur/storage"
import { Effect, Layer } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { dumpDatabase } from "./DatabaseDump.js"

/**
 * A fresh, migrated database file per build of the layer, with the task repository; the file's
 * temp folder is removed when the layer's scope closes (after the connection).
 * Provide it per test (`Effect.provide(TestDatabase.layer())`) so no two tests share a file.
 */
export const TestDatabase = {
  layer: (options: Partial<DatabaseOptions> = {}): Layer.Layer<Database | TaskRepository, never> =>
    Layer.unwrapScoped(
      Effect.map(
        options.filename === undefined
          ? Effect.acquireRelease(
              Effect.sync(() => mkdtempSync(join(tmpdir(), "abathur-test-"))),
              (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
            )
          : Effect.succeed(null),
        (dir) =>
          TaskRepository.layer.pipe(
            Layer.provideMerge(Database.layer({ ...options, filename: options.filename ?? join(dir!, "abathur.db") })),
            Layer.orDie
          )
      )
    )
}

/** `dumpDatabase` of the `Database` service's connection, as an effect (to compare before and after). */
export const databaseDump: Effect.Effect<string, never, Database> = Effect.map(Database, ({ db }) => dumpDatabase(db))
