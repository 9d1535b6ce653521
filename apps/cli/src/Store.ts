import { type OpenStore, queueLayerFor, type QueueLayerError } from "@abathur/postgres/store"
import { isPostgresUrl, postgresUrlProblem, redactUrl } from "@abathur/postgres/url"
import { QueueConfig, type QueueSettings, type TaskQueue, ValidationError } from "@abathur/queue"
import { Effect, Layer } from "effect"

/**
 * The store a command runs on, chosen by `--db` / `ABATHUR_DB` (CONTRACT, "Storage"): an SQLite
 * file (the default), or PostgreSQL for a `postgres://` or `postgresql://` URL, built by
 * `queueLayerFor` (@abathur/postgres/store, as the server's). What is the CLI's own: a bad URL is a
 * ValidationError (nothing is opened then), migration progress on the terminal, the background
 * checkpointer only for long-running commands, a small PostgreSQL pool.
 */

export { isPostgresUrl }
export { OpenStore, type OpenStoreService, type OpenedMigration } from "@abathur/postgres/store"

/** The database as messages and logs name it: a file path, or a URL without its password. */
export const displayDb = (db: string): string => (isPostgresUrl(db) ? redactUrl(db) : db)

export interface StoreSettings {
  readonly filename: string
  readonly onMigrationProgress?: (event: { version: number; name: string; done: number; total: number }) => void
  readonly longRunning?: boolean
}

export type StoreError = QueueLayerError | ValidationError

/** The queue and the open store for `settings.filename`, with the queue's settings. */
export const storeLayer = (
  settings: StoreSettings,
  queueSettings: Effect.Effect<Partial<QueueSettings>, ValidationError>
): Layer.Layer<TaskQueue | OpenStore, StoreError> => {
  const config = Layer.unwrapEffect(Effect.map(queueSettings, QueueConfig.layer))
  const problem = isPostgresUrl(settings.filename) ? postgresUrlProblem(settings.filename) : null
  const store: Layer.Layer<TaskQueue | OpenStore, StoreError, QueueConfig> =
    problem !== null
      ? Layer.fail(new ValidationError({ message: `--db / ABATHUR_DB: ${problem}` }))
      : queueLayerFor(settings.filename, {
          sqlite: {
            backgroundCheckpoint: settings.longRunning === true,
            ...(settings.onMigrationProgress !== undefined && { onMigrationProgress: settings.onMigrationProgress })
          },
          maxConnections: 4
        })
  return Layer.provide(store, config)
}
