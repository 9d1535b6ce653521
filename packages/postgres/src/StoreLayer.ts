/**
 * The queue on the store `--db` / `ABATHUR_DB` names (CONTRACT, "Storage"): an SQLite file (the
 * default), or PostgreSQL for a `postgres://` or `postgresql://` URL. The PostgreSQL store and its
 * driver (`pg`) are loaded only for a URL: the SQLite path imports and awaits nothing more. The CLI
 * and the server both build their queue here (`@abathur/postgres/store`).
 */
import type { QueueConfig } from "@abathur/queue"
import { TaskQueue } from "@abathur/queue"
import { Database, type DatabaseOpenError, type DatabaseOptions, type MigrationError, TaskRepository } from "@abathur/storage"
import { Context, Effect, Layer } from "effect"
import type { ReadyListener } from "./Listen.js"
import type { PostgresOpenError } from "./Postgres.js"
import { isPostgresUrl } from "./Url.js"

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
   * PostgreSQL only: hears other processes make tasks READY (LISTEN/NOTIFY), so that a worker
   * wakes without polling, and with `onLease` take leases (a task entered RUNNING: its expiry
   * makes it claimable again). Null on SQLite (watch the WAL file, or `PRAGMA data_version`).
   */
  readonly listenReady: ((onReady: (agentType: string | null) => void, onLease?: () => void) => Promise<ReadyListener>) | null
}

/** The open store beside the queue. */
export class OpenStore extends Context.Tag("@abathur/postgres/OpenStore")<OpenStore, OpenStoreService>() {}

export interface QueueLayerOptions {
  /** How to open an SQLite file (all but its name). */
  readonly sqlite?: Omit<DatabaseOptions, "filename">
  /** The PostgreSQL pool's size (the package's default when absent). */
  readonly maxConnections?: number
}

export type QueueLayerError = MigrationError | DatabaseOpenError | PostgresOpenError

/** The queue over the SQLite file. */
const sqliteQueue = (filename: string, options: QueueLayerOptions) =>
  Layer.effect(
    OpenStore,
    Effect.map(Database, (db) => ({ kind: "sqlite" as const, migration: db.migration, listenReady: null }))
  ).pipe(
    Layer.provideMerge(TaskQueue.layer),
    Layer.provideMerge(TaskRepository.layer),
    Layer.provideMerge(Database.layer({ ...options.sqlite, filename }))
  )

/** The queue on PostgreSQL (migrated at open; the pool closes with the layer). */
const postgresQueue = (url: string, options: QueueLayerOptions) =>
  Layer.unwrapEffect(
    Effect.map(
      Effect.promise(() => import("./index.js")),
      (pg) =>
        Layer.effect(
          OpenStore,
          Effect.map(pg.Postgres, (db) => ({
            kind: "postgres" as const,
            migration: { ...db.migration, backup: null },
            listenReady: (onReady: (agentType: string | null) => void, onLease?: () => void) =>
              pg.listenReady({ url, onReady, ...(onLease !== undefined && { onLease }) })
          }))
        ).pipe(
          Layer.provideMerge(pg.PostgresQueue.layer({ url, ...(options.maxConnections !== undefined && { maxConnections: options.maxConnections }) }))
        )
    )
  )

/** The queue and the open store for `db` (a file path or a PostgreSQL URL), with the queue's settings. */
export const queueLayerFor = (db: string, options: QueueLayerOptions = {}): Layer.Layer<TaskQueue | OpenStore, QueueLayerError, QueueConfig> =>
  isPostgresUrl(db) ? postgresQueue(db, options) : sqliteQueue(db, options)
