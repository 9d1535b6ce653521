import { limitsFromEnv, QueueConfig, type QueueSettings, schedulingFromEnv, TaskQueue, ValidationError } from "@abathur/queue"
import { Database, TaskRepository } from "@abathur/storage"
import { Effect, Layer } from "effect"
import type { DatabaseSettings, Env, MainLayer } from "./Cli.js"
import { runCli } from "./Run.js"

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

/** The app's layers: the queue over the task repository over the database, configured from `env`. */
export const MainLive =
  (env: Env): MainLayer =>
  (settings: DatabaseSettings) =>
    TaskQueue.layer.pipe(
      Layer.provideMerge(TaskRepository.layer),
      Layer.provideMerge(
        Database.layer({
          filename: settings.filename,
          backgroundCheckpoint: settings.longRunning === true,
          ...(settings.onMigrationProgress !== undefined && { onMigrationProgress: settings.onMigrationProgress })
        })
      ),
      Layer.provide(Layer.unwrapEffect(Effect.map(settingsOf(env), QueueConfig.layer)))
    )

runCli(process.argv, process.env, MainLive(process.env)).then(
  (code) => {
    process.exitCode = code
  },
  (error: unknown) => {
    process.stderr.write(`abathur: unexpected failure: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
    process.exitCode = 1
  }
)
