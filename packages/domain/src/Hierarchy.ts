import * as z from "zod"
import type { OnFailure } from "./Task.js"
import type { TaskSource } from "./TaskSource.js"
import type { TaskStatus } from "./TaskStatus.js"

/**
 * The pure rules of the hierarchy (CONTRACT, December additions): how a prerequisite's subtree
 * decides its edges, subtree progress, retry backoff and the default source.
 */

/** Progress of a task's descendants (not the task itself), as TaskDetail shows it. */
export const SubtreeProgress = z
  .object({ total: z.number().int(), completed: z.number().int(), open: z.number().int(), failed: z.number().int(), cancelled: z.number().int() })
  .meta({
    description:
      "Counts over the task's descendants (not the task itself). Its dependents wait until open is 0; a failed or cancelled descendant cancels them (edges with onFailure cancel)."
  })
export type SubtreeProgress = z.output<typeof SubtreeProgress>

/** Counts of a task's strict descendants by outcome, kept by the engine. */
export interface SubtreeCounts {
  readonly open: number
  readonly completed: number
  readonly failed: number
  readonly cancelled: number
}

export const emptySubtree: SubtreeCounts = { open: 0, completed: 0, failed: 0, cancelled: 0 }

export const subtreeProgress = (c: SubtreeCounts): SubtreeProgress => ({
  total: c.open + c.completed + c.failed + c.cancelled,
  completed: c.completed,
  open: c.open,
  failed: c.failed,
  cancelled: c.cancelled
})

/** Where a task (with its descendants) stands for the edges that depend on it. */
export interface SubtreeState {
  /** The task and every descendant are terminal: `ignore` edges resolve. */
  readonly closed: boolean
  /** The task and every descendant are COMPLETED: every edge resolves. */
  readonly complete: boolean
  /** The task or a descendant ended FAILED or CANCELLED: `cancel` edges cancel their dependents. */
  readonly doomed: boolean
}

export const subtreeState = (status: TaskStatus, c: SubtreeCounts): SubtreeState => {
  const open = status !== "completed" && status !== "failed" && status !== "cancelled"
  const bad = status === "failed" || status === "cancelled"
  const closed = !open && c.open === 0
  const doomed = bad || c.failed + c.cancelled > 0
  return { closed, complete: closed && !doomed, doomed }
}

/** An edge on a task in this state is resolved: its subtree complete, or closed under `ignore`. */
export const edgeResolved = (onFailure: OnFailure, s: SubtreeState): boolean => (onFailure === "ignore" ? s.closed : s.complete)

/**
 * The wait before a failed attempt runs again, in milliseconds: min(base x 2^(retryCount-1), max)
 * x jitter, jitter in [0.5, 1.0] (from `random` in [0, 1)). `retryCount` counts this retry (1 for
 * the first). Base 0 retries at once.
 */
export const retryBackoffMs = (baseSeconds: number, maxSeconds: number, retryCount: number, random: number): number => {
  if (baseSeconds <= 0) return 0
  const exp = Math.min(baseSeconds * 2 ** Math.max(0, retryCount - 1), maxSeconds)
  return Math.round(exp * 1000 * (0.5 + 0.5 * Math.min(1, Math.max(0, random))))
}

/**
 * The source of a task whose submitter named none: `human`, but `agent_planner` for a subtask
 * (an agent splitting its work) or a submit through MCP (`fallback`), so agents never outrank
 * people by omission.
 */
export const defaultSource = (hasParent: boolean, fallback: TaskSource = "human"): TaskSource => (hasParent ? "agent_planner" : fallback)

/**
 * JSON with object keys sorted at every level, so that equal values give equal text (the
 * fingerprint of an idempotent submit). `undefined` fields are left out, as JSON does.
 */
export const canonicalJson = (value: unknown): string =>
  JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== "object" || Array.isArray(v)) return v
    const sorted: Record<string, unknown> = {}
    for (const k of Object.keys(v).sort()) sorted[k] = (v as Record<string, unknown>)[k]
    return sorted
  })
