import * as z from "zod"
import { DependencyType } from "./DependencyType.js"
import { boundedSeconds, MAX_AGE_SECONDS, MAX_CLAIM_WAIT_SECONDS, MAX_DURATION_SECONDS, wellFormed } from "./Bounds.js"
import { parseAge } from "./Duration.js"
import { JsonValue, nonNegativeInt, positiveInt, TaskId } from "./Primitives.js"
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
  /** Only tasks whose prompt or summary contains this text (any case), or whose id starts with it. */
  text: z
    .string({ error: "text must be a string" })
    .trim()
    .min(1, { error: "text must not be empty" })
    .max(200, { error: "text must be at most 200 characters" })
    .optional(),
  limit: positiveInt("limit").optional(),
  /** Skip this many tasks of the order first (paging: with `limit`). */
  offset: nonNegativeInt("offset").optional()
})
export type ListTasksInput = z.input<typeof ListTasksInput>

/** The window of `activity`: the last `minutes` (1..1440) and how many recent failures to list (0..200). */
export const ActivityInput = z.strictObject({
  minutes: positiveInt("minutes").max(1440, { error: "minutes must be at most 1440 (a day)" }).default(60),
  failures: nonNegativeInt("failures").max(200, { error: "failures must be at most 200" }).default(20)
})
export type ActivityInput = z.input<typeof ActivityInput>

/** A worker's claim. The lease lasts `leaseSeconds`, by default the task's timeout. */
export const ClaimInput = z.strictObject({
  worker: z.string({ error: "worker must be a name" }).check(wellFormed("worker")).min(1, { error: "worker must not be empty" }).optional(),
  leaseSeconds: boundedSeconds("leaseSeconds", 1, MAX_DURATION_SECONDS).optional(),
  agentType: z
    .string({ error: "agentType must be a string" })
    .check(wellFormed("agentType"))
    .min(1, { error: "agentType must not be empty" })
    .optional(),
  waitSeconds: z
    .number({ error: "waitSeconds must be a number" })
    .min(0, { error: "waitSeconds must not be negative" })
    .max(MAX_CLAIM_WAIT_SECONDS, { error: `waitSeconds must be at most ${MAX_CLAIM_WAIT_SECONDS}` })
    .optional(),
  limit: z
    .number({ error: "limit must be a number" })
    .int({ error: "limit must be a whole number" })
    .min(1, { error: "limit must be at least 1" })
    .max(100, { error: "limit must be at most 100" })
    .optional()
})
export type ClaimInput = z.input<typeof ClaimInput>

const leaseToken = z
  .string({ error: "leaseToken must be a string" })
  .check(wellFormed("leaseToken"))
  .min(1, { error: "leaseToken must not be empty" })

export const HeartbeatInput = z.strictObject({
  leaseToken: leaseToken.optional(),
  leaseSeconds: boundedSeconds("leaseSeconds", 1, MAX_DURATION_SECONDS).optional()
})
export type HeartbeatInput = z.input<typeof HeartbeatInput>

const force = z.boolean({ error: "force must be true or false" }).optional()

/** What a worker claims next in the same transaction as its completion (`complete --next`). */
export const NextClaimInput = z.strictObject({
  worker: z.string({ error: "worker must be a name" }).min(1, { error: "worker must not be empty" }).optional(),
  leaseSeconds: positiveInt("leaseSeconds").optional(),
  agentType: z.string({ error: "agentType must be a string" }).min(1, { error: "agentType must not be empty" }).optional()
})
export type NextClaimInput = z.input<typeof NextClaimInput>

/**
 * Completing a RUNNING task needs its lease token, or `force` (an operator overriding the
 * worker). With `next`, the same transaction claims the next task.
 */
export const CompleteInput = z.strictObject({
  result: JsonValue.optional(),
  leaseToken: leaseToken.optional(),
  force,
  next: NextClaimInput.optional()
})
export type CompleteInput = z.input<typeof CompleteInput>

/** How many tasks one transaction claims or completes at most (`limit`, `completeMany`). */
export const MAX_BATCH = 100

/** One task of `completeMany`: its id and what a single `complete` takes (no `next`: the batch has one). */
export const CompleteManyItem = z.strictObject({
  id: TaskId,
  result: JsonValue.optional(),
  leaseToken: leaseToken.optional(),
  force
})
export type CompleteManyItem = z.input<typeof CompleteManyItem>

/** The tasks of one `completeMany` (1..100, each id once). */
export const CompleteManyItems = z
  .array(CompleteManyItem, { error: "items must be a list of tasks to complete" })
  .min(1, { error: "items must name at least one task" })
  .max(MAX_BATCH, { error: `items must name at most ${MAX_BATCH} tasks` })
  .superRefine((items, ctx) => {
    const first = new Map<string, number>()
    items.forEach((item, i) => {
      const seen = first.get(item.id)
      if (seen === undefined) first.set(item.id, i)
      else ctx.addIssue({ code: "custom", path: [i, "id"], message: `task ${item.id} is named twice in one batch (items ${seen} and ${i})` })
    })
  })
export type CompleteManyItems = z.input<typeof CompleteManyItems>

/** What `completeMany` claims in the same transaction: up to `limit` tasks, as a claim with `limit`. */
export const NextClaimsInput = z.strictObject({
  ...NextClaimInput.shape,
  limit: z
    .number({ error: "limit must be a number" })
    .int({ error: "limit must be a whole number" })
    .min(1, { error: "limit must be at least 1" })
    .max(MAX_BATCH, { error: `limit must be at most ${MAX_BATCH}` })
})
export type NextClaimsInput = z.input<typeof NextClaimsInput>

/** `completeMany`: the tasks, completed in order in one transaction; with `next`, the claims that follow in it. */
export const CompleteManyInput = z.strictObject({
  items: CompleteManyItems,
  next: NextClaimsInput.optional()
})
export type CompleteManyInput = z.input<typeof CompleteManyInput>

export const FailInput = z.strictObject({
  error: z
    .string({ error: "error is required: say what went wrong" })
    .check(wellFormed("error"))
    .refine((s) => s.trim().length > 0, { error: "error must not be empty: say what went wrong" }),
  leaseToken: leaseToken.optional(),
  force
})
export type FailInput = z.input<typeof FailInput>

/** A worker giving a task back without spending a retry (e.g. on shutdown). */
export const ReleaseInput = z.strictObject({
  leaseToken: leaseToken.optional(),
  reason: z.string().check(wellFormed("reason")).optional()
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
      if (ms > MAX_AGE_SECONDS * 1000) {
        ctx.addIssue({ code: "custom", message: `${JSON.stringify(s)} is too old an age: at most ${MAX_AGE_SECONDS / 86_400}d (about 100 years)` })
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
