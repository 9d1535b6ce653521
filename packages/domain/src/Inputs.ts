import { z } from "zod"
import { DependencyType } from "./DependencyType.js"
import { parseAge } from "./Duration.js"
import { JsonValue, positiveInt, TaskId } from "./Primitives.js"
import { OnFailure } from "./Task.js"
import { TaskSource } from "./TaskSource.js"
import { TaskStatus, TerminalStatuses } from "./TaskStatus.js"

/**
 * Input schemas of the queue's operations besides submission. Every surface (CLI flags,
 * HTTP bodies, MCP arguments) is validated with these, so errors read the same everywhere.
 */

const statusList = z.preprocess((v) => (typeof v === "string" ? [v] : v), z.array(TaskStatus)).optional()

/** Filters of `list`, by calculated priority (highest first), then submission (oldest first). */
export const ListTasksInput = z.strictObject({
  status: statusList,
  excludeStatus: statusList,
  source: TaskSource.optional(),
  parentTaskId: TaskId.optional(),
  limit: positiveInt("limit").optional()
})
export type ListTasksInput = z.input<typeof ListTasksInput>

/** A worker's claim. The lease lasts `leaseSeconds`, by default the task's timeout. */
export const ClaimInput = z.strictObject({
  worker: z.string({ error: "worker must be a name" }).min(1, { error: "worker must not be empty" }).optional(),
  leaseSeconds: positiveInt("leaseSeconds").optional(),
  agentType: z.string({ error: "agentType must be a string" }).min(1, { error: "agentType must not be empty" }).optional(),
  waitSeconds: z
    .number({ error: "waitSeconds must be a number" })
    .min(0, { error: "waitSeconds must not be negative" })
    .max(60, { error: "waitSeconds must be at most 60" })
    .optional()
})
export type ClaimInput = z.input<typeof ClaimInput>

const leaseToken = z.string({ error: "leaseToken must be a string" }).min(1, { error: "leaseToken must not be empty" })

export const HeartbeatInput = z.strictObject({
  leaseToken: leaseToken.optional(),
  leaseSeconds: positiveInt("leaseSeconds").optional()
})
export type HeartbeatInput = z.input<typeof HeartbeatInput>

export const CompleteInput = z.strictObject({
  result: JsonValue.optional(),
  leaseToken: leaseToken.optional()
})
export type CompleteInput = z.input<typeof CompleteInput>

export const FailInput = z.strictObject({
  error: z
    .string({ error: "error is required: say what went wrong" })
    .refine((s) => s.trim().length > 0, { error: "error must not be empty: say what went wrong" }),
  leaseToken: leaseToken.optional()
})
export type FailInput = z.input<typeof FailInput>

/** A worker giving a task back without spending a retry (e.g. on shutdown). */
export const ReleaseInput = z.strictObject({
  leaseToken: leaseToken.optional(),
  reason: z.string().optional()
})
export type ReleaseInput = z.input<typeof ReleaseInput>

export const AddDependencyInput = z.strictObject({
  prerequisiteId: TaskId,
  dependencyType: DependencyType.optional(),
  /** What a failure in the prerequisite's subtree does to the dependent (default `cancel`). */
  onFailure: OnFailure.optional()
})
export type AddDependencyInput = z.input<typeof AddDependencyInput>

/** Removes the edge `dependent -> prerequisite`. */
export const RemoveDependencyInput = z.strictObject({
  prerequisiteId: TaskId
})
export type RemoveDependencyInput = z.input<typeof RemoveDependencyInput>

/** `prune`: terminal tasks older than `olderThan` (`Ns`, `Nm`, `Nh`, `Nd`, `Nw`; default 30d). */
export const PruneInput = z.strictObject({
  olderThan: z
    .string({ error: "olderThan must be an age such as 30d" })
    .default("30d")
    .transform((s, ctx) => {
      const ms = parseAge(s)
      if (ms === null) {
        ctx.addIssue({ code: "custom", message: `${JSON.stringify(s)} is not an age: use a number and a unit, such as 30s, 15m, 12h, 30d or 2w` })
        return z.NEVER
      }
      return ms
    }),
  status: z
    .preprocess((v) => (typeof v === "string" ? [v] : v), z.array(TaskStatus))
    .optional()
    .superRefine((statuses, ctx) => {
      for (const s of statuses ?? []) {
        if (!TerminalStatuses.includes(s)) {
          ctx.addIssue({ code: "custom", message: `prune removes terminal tasks only: ${s} is not completed, failed or cancelled` })
        }
      }
    }),
  dryRun: z.boolean().default(false)
})
export type PruneInput = z.input<typeof PruneInput>

export const ExecutionPlanInput = z.strictObject({
  taskIds: z.array(TaskId).optional()
})
export type ExecutionPlanInput = z.input<typeof ExecutionPlanInput>

export const GraphFormat = z.enum(["mermaid", "dot"], {
  error: (issue) => `unknown graph format ${JSON.stringify(issue.input)}: use mermaid or dot`
})
export type GraphFormat = z.infer<typeof GraphFormat>

/** The answer of `status`. */
export interface QueueStatus {
  readonly total: number
  readonly byStatus: Readonly<Record<TaskStatus, number>>
  readonly avgPriority: number | null
  readonly maxDepth: number | null
  readonly oldestWaitingAt: string | null
}

/** The answer of `plan`: open tasks in batches that can run in parallel. */
export interface ExecutionPlan {
  readonly batches: ReadonlyArray<ReadonlyArray<string>>
  readonly totalBatches: number
  readonly maxParallelism: number
}
