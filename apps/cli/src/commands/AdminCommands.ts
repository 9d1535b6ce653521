/** Operators' actions: cancel, retry, recover expired leases, prune old tasks. */
import { Options } from "@effect/cli"
import { describeField, FieldDocs } from "@abathur/domain"
import { Effect, Option } from "effect"
import * as Render from "../Render.js"
import { defined } from "../Input.js"
import { makeProgress } from "../Terminal.js"
import { command, describe, emit, repeatedText, taskIdArg, text, withTaskQueue } from "./Command.js"

export const cancel = command(
  "cancel",
  { id: taskIdArg() },
  describe(
    "Cancel a task that has not finished, with its open dependents and the open subtasks below it.",
    "abathur cancel 3f2b8c1e-9d4a-4f6b-8e2a-1c5d7e9f0a2b"
  ),
  (o, ctx) =>
    Effect.gen(function* () {
      const r = yield* withTaskQueue(ctx, (q) => q.cancel(o.id, {}))
      yield* emit(ctx, r, () => Render.cancelled(ctx.c, r))
    })
)

export const retry = command(
  "retry",
  { id: taskIdArg() },
  describe(
    "Retry a failed task: back to ready with its retries reset; the dependents its failure cancelled come back.",
    "abathur retry 3f2b8c1e-9d4a-4f6b-8e2a-1c5d7e9f0a2b"
  ),
  (o, ctx) =>
    Effect.gen(function* () {
      const r = yield* withTaskQueue(ctx, (q) => q.retry(o.id))
      yield* emit(ctx, r, () => Render.retried(ctx.c, r))
    })
)

export const recover = command(
  "recover",
  {},
  describe(
    "Put running tasks whose lease expired back to ready without spending a retry (a stall; past ABATHUR_MAX_STALLS, default 3, the task fails).",
    "abathur recover --json"
  ),
  (_, ctx) =>
    Effect.gen(function* () {
      const r = yield* withTaskQueue(ctx, (q) => q.recover())
      yield* emit(ctx, r, () => Render.recovered(ctx.c, r.recovered))
    })
)

export const prune = command(
  "prune",
  {
    olderThan: text("older-than", "AGE", FieldDocs.olderThan),
    status: repeatedText("status", "STATUS", describeField("status", "PruneInput")!),
    dryRun: Options.boolean("dry-run").pipe(Options.withDescription(FieldDocs.dryRun))
  },
  describe(
    `Delete old finished tasks (completed, failed, cancelled). A task that a kept task still references
    (as parent or prerequisite) is kept.`,
    "abathur prune --older-than 7d --dry-run",
    "abathur prune --status completed --json"
  ),
  (o, ctx) =>
    Effect.gen(function* () {
      const input = defined({
        olderThan: Option.getOrUndefined(o.olderThan),
        status: o.status.length > 0 ? o.status : undefined,
        dryRun: o.dryRun
      })
      const progress = makeProgress(ctx.app.terminal, "pruning")
      const r = yield* withTaskQueue(ctx, (q) => q.prune(input, { onProgress: (d, t) => progress.update(d, t) })).pipe(
        Effect.ensuring(Effect.sync(() => progress.finish()))
      )
      yield* emit(ctx, r, () => Render.pruned(ctx.c, r, o.dryRun))
    })
)
