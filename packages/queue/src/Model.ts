/** The queue's answers (public types) and the small pure helpers every rule module shares. */
import { formatIssues, type Task, type TaskDetail as DomainTaskDetail, type TaskSource } from "@abathur/domain"
import type { StoredTask } from "@abathur/storage"
import type * as z from "zod"
import { ValidationError } from "./QueueError.js"

/**
 * The answers' shapes are the domain's output schemas (`@abathur/domain` Outputs). The rules'
 * TaskDetail lacks only the priority explanation, which TaskQueue adds with the configured settings.
 */
export type { Activity, GraphLink, ListedTask, TaskChange, TreeNode } from "@abathur/domain"
export type TaskDetail = Omit<DomainTaskDetail, "priorityExplanation">

/** Options of a submission. */
export interface SubmitDefaults {
  /** The source of a task submitted without one and without a parent (MCP: `agent_planner`); default `human`. */
  readonly defaultSource?: TaskSource | undefined
}

/** Validates `input` with a zod schema or throws the contract's ValidationError. */
export const validate = <S extends z.ZodType>(schema: S, input: unknown): z.output<S> => {
  const result = schema.safeParse(input)
  if (!result.success) throw new ValidationError({ message: formatIssues(result.error) })
  return result.data
}

/**
 * The public model of a stored task (no lease or bookkeeping fields), as stored, or with the
 * score given. Written out field by field (the Task schema's order): one object of one shape,
 * where taking the bookkeeping out of a copy costs several times more.
 */
export const publicTask = (t: StoredTask, calculatedPriority: number = t.calculatedPriority): Task => ({
  id: t.id,
  prompt: t.prompt,
  summary: t.summary,
  agentType: t.agentType,
  priority: t.priority,
  status: t.status,
  source: t.source,
  dependencyType: t.dependencyType,
  calculatedPriority,
  deadline: t.deadline,
  estimatedDurationSeconds: t.estimatedDurationSeconds,
  dependencyDepth: t.dependencyDepth,
  parentTaskId: t.parentTaskId,
  sessionId: t.sessionId,
  inputData: t.inputData,
  resultData: t.resultData,
  errorMessage: t.errorMessage,
  retryCount: t.retryCount,
  maxRetries: t.maxRetries,
  maxExecutionTimeoutSeconds: t.maxExecutionTimeoutSeconds,
  submittedAt: t.submittedAt,
  startedAt: t.startedAt,
  completedAt: t.completedAt,
  lastUpdatedAt: t.lastUpdatedAt,
  createdBy: t.createdBy,
  notBefore: t.notBefore,
  idempotencyKey: t.idempotencyKey,
  stallCount: t.stallCount,
  retryBackoffSeconds: t.retryBackoffSeconds
})
