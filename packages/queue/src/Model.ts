/** The queue's answers (public types) and the small pure helpers every rule module shares. */
import {
  type DependencyLink,
  type DependencyType,
  formatIssues,
  type OnFailure,
  type PriorityBreakdown,
  type SubtreeProgress,
  type Task,
  type TaskSource,
  type TaskStatus
} from "@abathur/domain"
import type { ActivityMinute, AuditEntry, StoredTask } from "@abathur/storage"
import type { z } from "zod"
import { ValidationError } from "./QueueError.js"

/** A state change made by an operation (published after commit). */
export interface TaskChange {
  readonly taskId: string
  readonly from: TaskStatus | null
  readonly to: TaskStatus
  readonly at: string
}

/**
 * A task as `list` and `show` give it: a RUNNING task adds the name of the worker that claimed it
 * (`worker`, null when the claim named none) and when its lease ends (`leaseExpiresAt`).
 */
export type ListedTask = Task & { readonly worker?: string | null; readonly leaseExpiresAt?: string | null }

/** Completions and failures over a recent window, per minute, from the audit trail. */
export interface Activity {
  readonly since: string
  readonly until: string
  readonly minutes: ReadonlyArray<ActivityMinute>
  /** The newest failed attempts (retried or final), newest first. */
  readonly recentFailures: ReadonlyArray<AuditEntry>
}

/** Options of a submission. */
export interface SubmitDefaults {
  /** The source of a task submitted without one and without a parent (MCP: `agent_planner`); default `human`. */
  readonly defaultSource?: TaskSource | undefined
}

/** A task with its neighbourhood, as `show` prints it. */
export interface TaskDetail extends Task {
  readonly worker?: string | null
  readonly leaseExpiresAt?: string | null
  readonly prerequisites: ReadonlyArray<DependencyLink>
  readonly dependents: ReadonlyArray<DependencyLink>
  readonly children: ReadonlyArray<string>
  /** Progress of the task's descendants (its dependents wait for all of them). */
  readonly subtree: SubtreeProgress
  readonly priorityBreakdown: PriorityBreakdown
}

export interface TreeNode {
  readonly task: Task
  /**
   * Progress of the task's descendants: a COMPLETED task with `subtree.open > 0` has done its
   * own part while its subtasks still run (its dependents still wait).
   */
  readonly subtree: SubtreeProgress
  readonly children: ReadonlyArray<TreeNode>
}

/** An edge of `graph`: a dependency (prerequisite -> dependent) or a subtask (parent -> child). */
export interface GraphLink {
  readonly from: string
  readonly to: string
  readonly resolved: boolean
  readonly kind: "dependency" | "subtask"
  /** The dependency's type; null for a subtask link. */
  readonly type: DependencyType | null
  /** The dependency's failure policy; null for a subtask link. */
  readonly onFailure: OnFailure | null
}

/** Validates `input` with a zod schema or throws the contract's ValidationError. */
export const validate = <S extends z.ZodType>(schema: S, input: unknown): z.output<S> => {
  const result = schema.safeParse(input)
  if (!result.success) throw new ValidationError({ message: formatIssues(result.error) })
  return result.data
}

/** The public model of a stored task (no lease or bookkeeping fields), as stored. */
export const publicTask = (t: StoredTask): Task => {
  const {
    leaseToken: _l,
    leaseExpiresAt: _e,
    workerId: _w,
    priorityRefreshAt: _p,
    cancelledBy: _c,
    priorityRank: _r,
    priorityStarved: _s,
    idempotencyFingerprint: _f,
    subtree: _t,
    ancestorGated: _g,
    ...task
  } = t
  return task
}
