import type { ReadyListener } from "@abathur/postgres"
import type { TaskQueueService } from "@abathur/queue"
import { Effect } from "effect"
import { displayDb } from "../Store.js"
import { localBackend, type WorkBackend } from "./Backend.js"

/**
 * The worker over the in-process queue on PostgreSQL (`--db postgres://...`): the same queue
 * calls as on an SQLite file, but it hears of other processes' work by LISTEN/NOTIFY (a task
 * became READY on any process or machine) instead of watching a WAL file. `version` counts the
 * notifications: the pool polls nothing on the database.
 */
export const postgresBackend = (
  queue: TaskQueueService,
  url: string,
  listenReady: (onReady: (agentType: string | null) => void) => Promise<ReadyListener>
): WorkBackend => {
  let heard = 0
  return {
    ...localBackend(queue, url),
    label: displayDb(url),
    // The children reach the same database (the URL as given, with its password).
    childEnv: { ABATHUR_DB: url },
    version: () => Effect.sync(() => heard),
    watch: (onChange, onBroken) => {
      let stopped = false
      let listener: ReadyListener | null = null
      listenReady(() => {
        heard++
        onChange()
      }).then(
        (l) => {
          if (stopped) void l.close().catch(() => undefined)
          else listener = l
        },
        () => {
          if (!stopped) onBroken()
        }
      )
      return () => {
        stopped = true
        void listener?.close().catch(() => undefined)
      }
    }
  }
}
