import { type QueueConfig, StoreRunner, TaskQueue } from "@abathur/queue"
import type { MigrationError } from "@abathur/storage"
import { Effect, Layer } from "effect"
import { Postgres, type PostgresOpenError, type PostgresOptions } from "./Postgres.js"

/**
 * The queue on PostgreSQL: `TaskQueue` over this package's runner, with the `Postgres` handle
 * (pool, migration report) beside it. Apps pick it when `--db` / `ABATHUR_DB` is a postgres URL.
 */
export const PostgresQueue = {
  layer: (options: PostgresOptions): Layer.Layer<TaskQueue | Postgres, PostgresOpenError | MigrationError, QueueConfig> =>
    TaskQueue.layerWithRunner.pipe(
      Layer.provide(
        Layer.effect(
          StoreRunner,
          Effect.map(Postgres, (db) => db.runner)
        )
      ),
      Layer.provideMerge(Postgres.layer(options))
    )
}
