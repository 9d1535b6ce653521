/** Abathur as a user runs it: the real TaskQueue service over a file database, one runtime. */
import { defaultQueueSettings, QueueConfig, type QueueLimits, TaskQueue, type TaskQueueService } from "@abathur/queue"
import { Database, makeTaskRepository, TaskRepository, type TaskStore } from "@abathur/storage"
import { Effect, type Exit, Layer, ManagedRuntime } from "effect"
import type { CostMeter } from "./costs.js"

export interface QueueHandle {
  readonly q: TaskQueueService
  /** Runs one operation synchronously (better-sqlite3 is synchronous); throws on failure. */
  readonly run: <A, E>(effect: Effect.Effect<A, E, never>) => A
  /** Runs one operation and returns its Exit (for operations expected to be refused). */
  readonly runExit: <A, E>(effect: Effect.Effect<A, E, never>) => Exit.Exit<A, E>
  readonly dispose: () => Promise<void>
}

export interface QueueOptions {
  readonly limits?: Partial<QueueLimits>
  /** Time every repository call (the cost breakdown); off for the measured runs. */
  readonly meter?: CostMeter | undefined
  /** Wraps the repository (outside the meter's wrapper): counters a workload reads, such as W4's per claim. */
  readonly tap?: ((store: TaskStore) => TaskStore) | undefined
}

/**
 * Composes TaskQueue.layer, TaskRepository.layer, Database.layer (WAL, synchronous NORMAL:
 * its defaults) and QueueConfig.layer, and builds one ManagedRuntime for the workload.
 */
export const openQueue = async (filename: string, options: QueueOptions = {}): Promise<QueueHandle> => {
  const { meter, tap } = options
  const repository =
    meter === undefined && tap === undefined
      ? TaskRepository.layer
      : Layer.effect(
          TaskRepository,
          Effect.map(Database, (handle) => {
            const store = makeTaskRepository(handle.db)
            const metered = meter === undefined ? store : meter.wrap(store)
            return tap === undefined ? metered : tap(metered)
          })
        )
  const layer = TaskQueue.layer.pipe(
    Layer.provide(repository),
    Layer.provide(Database.layer({ filename })),
    Layer.provide(QueueConfig.layer({ limits: { ...defaultQueueSettings.limits, ...options.limits } })),
    Layer.orDie
  )
  const runtime = ManagedRuntime.make(layer)
  const q = await runtime.runPromise(TaskQueue)
  return {
    q,
    run: (effect) => runtime.runSync(effect),
    runExit: (effect) => runtime.runSyncExit(effect),
    dispose: () => runtime.dispose()
  }
}
