import { type OpenStore, type OpenStoreService, type QueueLayerError, queueLayerFor } from "@abathur/postgres/store"
import { QueueConfig, type QueueSettings, type TaskQueue } from "@abathur/queue"
import { Effect, Layer, type Scope } from "effect"
import type { ServerConfig } from "./Config.js"

/**
 * The store the server's queue runs on, chosen by `--db` / `ABATHUR_DB` (CONTRACT, "Storage"):
 * an SQLite file (the default), or PostgreSQL for a `postgres://` or `postgresql://` URL
 * (`queueLayerFor`, @abathur/postgres/store). The PostgreSQL store (and its driver) is loaded only then.
 */

/** The queue's settings that come from the environment: limits, retry backoff and stalls. */
export type QueueEnvSettings = Pick<QueueSettings, "limits" | "scheduling">

/**
 * Other processes' commits, announced rather than polled: calls `onChange` (with the agent type
 * of a task that became READY, or null when anything may have changed) and `onLease` (a task
 * entered RUNNING: a new lease, which will expire) while the scope is open.
 */
export type ChangeFeed = (onChange: (agentType: string | null) => void, onLease: () => void) => Effect.Effect<void, never, Scope.Scope>

/** The queue and its open store for the configured database (`queueLayerFor`, as the CLI's), with group commit on SQLite. */
export const QueueLive = (config: ServerConfig, settings: QueueEnvSettings): Layer.Layer<TaskQueue | OpenStore, QueueLayerError> =>
  Layer.provide(queueLayerFor(config.db), QueueConfig.layer({ ...settings, groupCommit: true }))

/**
 * How the server hears of other processes' commits: on PostgreSQL, the open store's
 * `LISTEN/NOTIFY` (a task became READY, or a lease was taken, on any server); on SQLite, null (the wake-ups poll
 * `PRAGMA data_version`, a cheap in-memory read).
 */
export const changeFeedOf = (store: OpenStoreService): ChangeFeed | null => {
  const listenReady = store.listenReady
  if (listenReady === null) return null
  return (onChange, onLease) =>
    Effect.asVoid(
      Effect.acquireRelease(
        Effect.tryPromise(() => listenReady(onChange, onLease)).pipe(
          // Not listening (the server went away since the pool opened): long polls still
          // end at their own commits, lease expiries and their timeout.
          Effect.tapError((error) => Effect.logWarning(`cannot LISTEN for other servers' work: ${String(error)}`)),
          Effect.option
        ),
        (listener) => (listener._tag === "Some" ? Effect.promise(() => listener.value.close()) : Effect.void)
      )
    )
}
