import { defaultPrioritySettings, type PrioritySettings } from "@abathur/domain"
import { Context, Layer } from "effect"

/** The engine's limits; `Infinity` means unlimited. */
export interface QueueLimits {
  readonly maxDependencies: number
  readonly maxDepth: number
  readonly maxSubtasks: number
}

export interface QueueSettings {
  readonly limits: QueueLimits
  readonly priority: PrioritySettings
  /**
   * Group commit: write operations that arrive together (in one turn of the event loop) run in
   * one SQLite transaction, each in a savepoint of its own, so that one commit serves them all.
   * Each operation is still all or nothing and answers only after the commit. For servers with
   * concurrent clients; operations then complete asynchronously (no `Effect.runSync`).
   */
  readonly groupCommit?: boolean
}

export const defaultQueueSettings: QueueSettings = {
  limits: { maxDependencies: 50, maxDepth: 10, maxSubtasks: 50 },
  priority: defaultPrioritySettings
}

/** Reads a limit as the contract configures it: a whole number, `0` meaning unlimited. */
export const parseLimit = (value: string | undefined, fallback: number): number => {
  if (value === undefined || value.trim() === "") return fallback
  const n = Number(value)
  if (!Number.isInteger(n) || n < 0) throw new Error(`a limit must be a whole number (0 = unlimited), got ${JSON.stringify(value)}`)
  return n === 0 ? Number.POSITIVE_INFINITY : n
}

/** Limits from `ABATHUR_MAX_DEPENDENCIES`, `ABATHUR_MAX_DEPTH`, `ABATHUR_MAX_SUBTASKS`. */
export const limitsFromEnv = (env: Readonly<Record<string, string | undefined>>): QueueLimits => ({
  maxDependencies: parseLimit(env["ABATHUR_MAX_DEPENDENCIES"], defaultQueueSettings.limits.maxDependencies),
  maxDepth: parseLimit(env["ABATHUR_MAX_DEPTH"], defaultQueueSettings.limits.maxDepth),
  maxSubtasks: parseLimit(env["ABATHUR_MAX_SUBTASKS"], defaultQueueSettings.limits.maxSubtasks)
})

/** The queue's settings as an Effect service. */
export class QueueConfig extends Context.Tag("@abathur/queue/QueueConfig")<QueueConfig, QueueSettings>() {
  static readonly layer = (settings: Partial<QueueSettings> = {}) =>
    Layer.succeed(QueueConfig, { ...defaultQueueSettings, ...settings })
  static readonly default = QueueConfig.layer()
}
