import type { PostgresOpenError, ReadyListener } from "@abathur/postgres"
import { isPostgresUrl, postgresUrlProblem, redactUrl } from "@abathur/postgres/url"
import { QueueConfig, type QueueSettings, TaskQueue, ValidationError } from "@abathur/queue"
import { Database, type DatabaseOpenError, type MigrationError, TaskRepository } from "@abathur/storage"
import { Context, Effect, Layer } from "effect"

/**
 * The store a command runs on, chosen by `--db` / `ABATHUR_DB` (CONTRACT, "Storage"): an SQLite
 * file (the default), or PostgreSQL for a `postgres://` or `postgresql://` URL. The PostgreSQL
 * store and its driver (`pg`) are loaded only for a URL: the SQLite path imports and awaits
 * nothing more than before.
 */

export { isPostgresUrl }

/** The database as messages and logs name it: a file path, or a URL without its password. */
export const displayDb = (db: string): string => (isPostgresUrl(db) ? redactUrl(db) : db)

/** What a migration at open did. */
export interface OpenedMigration {
  readonly fromVersion: number
  readonly toVersion: number
  readonly applied: ReadonlyArray<number>
  /** The SQLite file's backup before migrating (null for PostgreSQL, and for a new file). */
  readonly backup: string | null
}

export interface OpenStoreService {
  readonly kind: "sqlite" | "postgres"
  readonly migration: OpenedMigration
  /**
   * PostgreSQL only: hears other processes make tasks READY (LISTEN/NOTIFY), so that `abathur
   * work` wakes without polling. Null on SQLite (the worker watches the WAL file).
   */
  readonly listenReady: ((onReady: (agentType: string | null) => void) => Promise<ReadyListener>) | null
}

/** The open store beside the queue. */
export class OpenStore extends Context.Tag("@abathur/cli/OpenStore")<OpenStore, OpenStoreService>() {}

export interface StoreSettings {
  readonly filename: string
  readonly onMigrationProgress?: (event: { version: number; name: string; done: number; total: number }) => void
  readonly longRunning?: boolean
}

export type StoreError = MigrationError | DatabaseOpenError | PostgresOpenError | ValidationError

/** The queue over the SQLite file. */
const sqliteStore = (settings: StoreSettings) =>
  Layer.effect(
    OpenStore,
    Effect.map(Database, (db) => ({ kind: "sqlite" as const, migration: db.migration, listenReady: null }))
  ).pipe(
    Layer.provideMerge(TaskQueue.layer),
    Layer.provideMerge(TaskRepository.layer),
    Layer.provideMerge(
      Database.layer({
        filename: settings.filename,
        backgroundCheckpoint: settings.longRunning === true,
        ...(settings.onMigrationProgress !== undefined && { onMigrationProgress: settings.onMigrationProgress })
      })
    )
  )

/** The queue on PostgreSQL (a bad URL is a ValidationError; nothing is opened then). */
const postgresStore = (url: string) =>
  Layer.unwrapEffect(
    Effect.gen(function* () {
      const problem = postgresUrlProblem(url)
      if (problem !== null) return yield* Effect.fail(new ValidationError({ message: `--db / ABATHUR_DB: ${problem}` }))
      const pg = yield* Effect.promise(() => import("@abathur/postgres"))
      return Layer.effect(
        OpenStore,
        Effect.map(pg.Postgres, (db) => ({
          kind: "postgres" as const,
          migration: { ...db.migration, backup: null },
          listenReady: (onReady: (agentType: string | null) => void) => pg.listenReady({ url, onReady })
        }))
      ).pipe(Layer.provideMerge(pg.PostgresQueue.layer({ url, maxConnections: 4 })))
    })
  )

/** The queue and the open store for `settings.filename`, with the queue's settings. */
export const storeLayer = (
  settings: StoreSettings,
  queueSettings: Effect.Effect<Partial<QueueSettings>, ValidationError>
): Layer.Layer<TaskQueue | OpenStore, StoreError> => {
  const config = Layer.unwrapEffect(Effect.map(queueSettings, QueueConfig.layer))
  return isPostgresUrl(settings.filename) ? Layer.provide(postgresStore(settings.filename), config) : Layer.provide(sqliteStore(settings), config)
}
