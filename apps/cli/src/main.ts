import { limitsFromEnv, type QueueSettings, schedulingFromEnv, ValidationError } from "@abathur/queue"
import { Effect } from "effect"
import type { DatabaseSettings, Env, MainLayer } from "./Cli.js"
import { runCli } from "./Run.js"
import { storeLayer } from "./Store.js"

/**
 * The queue's limits (ABATHUR_MAX_DEPENDENCIES, ABATHUR_MAX_DEPTH, ABATHUR_MAX_SUBTASKS) and
 * scheduling (ABATHUR_RETRY_BACKOFF, ABATHUR_RETRY_BACKOFF_MAX, ABATHUR_MAX_STALLS).
 */
const settingsOf = (env: Env): Effect.Effect<Pick<QueueSettings, "limits" | "scheduling">, ValidationError> =>
  Effect.try({
    try: () => ({ limits: limitsFromEnv(env), scheduling: schedulingFromEnv(env) }),
    catch: (error) =>
      new ValidationError({
        message: `bad setting in the environment (ABATHUR_MAX_DEPENDENCIES, ABATHUR_MAX_DEPTH, ABATHUR_MAX_SUBTASKS, ABATHUR_MAX_STALLS, ABATHUR_RETRY_BACKOFF, ABATHUR_RETRY_BACKOFF_MAX): ${(error as Error).message}`
      })
  })

/**
 * The app's layers: the queue over the store `--db` names (an SQLite file, or PostgreSQL for a
 * postgres:// URL; see Store.ts), configured from `env`.
 */
export const MainLive =
  (env: Env): MainLayer =>
  (settings: DatabaseSettings) =>
    storeLayer(settings, settingsOf(env))

runCli(process.argv, process.env, MainLive(process.env)).then(
  (code) => {
    process.exitCode = code
  },
  (error: unknown) => {
    process.stderr.write(`abathur: unexpected failure: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
    process.exitCode = 1
  }
)
