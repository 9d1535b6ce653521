import { Database, type DatabaseOptions, TaskRepository } from "@abathur/storage"
import { Layer } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

/** A fresh folder under the system's temp dir; removed by `cleanup`. */
export const tempDir = (prefix = "abathur-test-"): { dir: string; cleanup: () => void } => {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) }
}

/** A path for a new database file in a fresh temp folder. */
export const tempDatabasePath = (): string => join(tempDir().dir, "abathur.db")

/**
 * A fresh, migrated database file per build of the layer, with the task repository.
 * Provide it per test (`Effect.provide(TestDatabase.layer())`) so no two tests share a file.
 */
export const TestDatabase = {
  layer: (options: Partial<DatabaseOptions> = {}): Layer.Layer<Database | TaskRepository, never> =>
    Layer.suspend(() =>
      TaskRepository.layer.pipe(
        Layer.provideMerge(Database.layer({ ...options, filename: options.filename ?? tempDatabasePath() })),
        Layer.orDie
      )
    )
}
