import { defaultPrioritySettings, type PrioritySettings } from "@abathur/domain"
import { Context, Layer } from "effect"

/** The engine's limits; `Infinity` means unlimited. */
export interface QueueLimits {
  readonly maxDependencies: number
  readonly maxDepth: number
  readonly maxSubtasks: number
}

/** Retry backoff and stalls (CONTRACT, December additions). */
export interface QueueScheduling {
  /** Base of the retry backoff in seconds for tasks that set none (`ABATHUR_RETRY_BACKOFF`, 5; 0 = at once). */
  readonly retryBackoffSeconds: number
  /** Longest retry backoff in seconds (`ABATHUR_RETRY_BACKOFF_MAX`, 600). */
  readonly retryBackoffMaxSeconds: number
  /** Expired leases a task survives; the next one fails it (`ABATHUR_MAX_STALLS`, 3; `Infinity` = unlimited). */
  readonly maxStalls: number
  /** The jitter's source of numbers in [0, 1) (tests fix it); default Math.random. */
  readonly random?: (() => number) | undefined
}

export interface QueueSettings {
  readonly limits: QueueLimits
  readonly priority: PrioritySettings
  readonly scheduling: QueueScheduling
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
  priority: defaultPrioritySettings,
  scheduling: { retryBackoffSeconds: 5, retryBackoffMaxSeconds: 600, maxStalls: 3 }
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

/** Reads a number of seconds (a non-negative number). */
const parseSeconds = (name: string, value: string | undefined, fallback: number): number => {
  if (value === undefined || value.trim() === "") return fallback
  const n = Number(value)
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a number of seconds (0 or more), got ${JSON.stringify(value)}`)
  return n
}

/** Retry backoff and stalls from `ABATHUR_RETRY_BACKOFF`, `ABATHUR_RETRY_BACKOFF_MAX`, `ABATHUR_MAX_STALLS` (0 = unlimited). */
export const schedulingFromEnv = (env: Readonly<Record<string, string | undefined>>): QueueScheduling => ({
  retryBackoffSeconds: parseSeconds("ABATHUR_RETRY_BACKOFF", env["ABATHUR_RETRY_BACKOFF"], defaultQueueSettings.scheduling.retryBackoffSeconds),
  retryBackoffMaxSeconds: parseSeconds(
    "ABATHUR_RETRY_BACKOFF_MAX",
    env["ABATHUR_RETRY_BACKOFF_MAX"],
    defaultQueueSettings.scheduling.retryBackoffMaxSeconds
  ),
  maxStalls: parseLimit(env["ABATHUR_MAX_STALLS"], defaultQueueSettings.scheduling.maxStalls)
})

/** The queue's settings as an Effect service. */
export class QueueConfig extends Context.Tag("@abathur/queue/QueueConfig")<QueueConfig, QueueSettings>() {
  static readonly layer = (settings: Partial<QueueSettings> = {}) => Layer.succeed(QueueConfig, { ...defaultQueueSettings, ...settings })
  static readonly default = QueueConfig.layer()
}
