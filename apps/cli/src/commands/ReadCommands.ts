/** Reads of the whole queue: status, execution plan, hierarchy, dependency graph. */
import { Args } from "@effect/cli"
import { FieldDocs, type Task, type TaskStatus } from "@abathur/domain"
import { Effect, Option } from "effect"
import * as Render from "../Render.js"
import { displayDb } from "../Store.js"
import { command, describe, emit, taskIdArg, text, withTaskQueue } from "./Command.js"
import type { TreeNode } from "@abathur/queue"

export const status = command(
  "status",
  {},
  describe("The queue at a glance: tasks by status, average priority, depth, the oldest waiting task.", "abathur status --json"),
  (_, ctx) =>
    Effect.gen(function* () {
      const s = yield* withTaskQueue(ctx, (q) => q.status())
      yield* emit(ctx, s, () => Render.dashboard(ctx.c, s, displayDb(ctx.db), ctx.now, ctx.app.terminal.width))
    })
)

const OpenStatuses: ReadonlyArray<TaskStatus> = ["pending", "blocked", "ready", "running"]

export const plan = command(
  "plan",
  {
    ids: Args.text({ name: "ID" }).pipe(
      Args.withDescription("Tasks to plan for, by id or unique id prefix (default: every open task)."),
      Args.repeated
    )
  },
  describe(
    `The execution plan: open tasks in batches, each batch runs in parallel once the batches before it
    are done. With ids: those tasks and their open prerequisites.`,
    "abathur plan",
    "abathur plan 3f2b8c1e-9d4a-4f6b-8e2a-1c5d7e9f0a2b --json"
  ),
  (o, ctx) =>
    Effect.gen(function* () {
      const [p, tasks] = yield* withTaskQueue(ctx, (q) =>
        Effect.flatMap(q.executionPlan(o.ids.length > 0 ? { taskIds: o.ids } : {}), (p) =>
          ctx.json ? Effect.succeed([p, [] as Array<Task>] as const) : Effect.map(q.list({ status: [...OpenStatuses] }), (ts) => [p, ts] as const)
        )
      )
      yield* emit(ctx, p, () => Render.plan(ctx.c, p, new Map(tasks.map((t) => [t.id, t])), ctx.app.terminal.width))
    })
)

export const tree = command(
  "tree",
  { id: taskIdArg().pipe(Args.withDescription("The root task (default: every task without a parent)."), Args.optional) },
  describe("The hierarchy of tasks and subtasks, drawn as a tree.", "abathur tree", "abathur tree 3f2b8c1e-9d4a-4f6b-8e2a-1c5d7e9f0a2b --json"),
  (o, ctx) =>
    Effect.gen(function* () {
      const t = yield* withTaskQueue(ctx, (q) => q.tree(Option.getOrUndefined(o.id)))
      const roots: ReadonlyArray<TreeNode> = Array.isArray(t) ? t : [t as TreeNode]
      yield* emit(ctx, t, () => Render.tree(ctx.c, roots))
    })
)

export const graph = command(
  "graph",
  {
    id: taskIdArg().pipe(Args.withDescription("Only the part of the graph connected to this task."), Args.optional),
    format: text("format", "FORMAT", FieldDocs.format)
  },
  describe(
    "The dependency graph as Mermaid (renders on GitHub, mermaid.live) or Graphviz DOT text.",
    "abathur graph > graph.mmd",
    "abathur graph --format dot | dot -Tsvg > graph.svg"
  ),
  (o, ctx) =>
    Effect.gen(function* () {
      const g = yield* withTaskQueue(ctx, (q) => q.graph(Option.getOrUndefined(o.id), Option.getOrUndefined(o.format)))
      yield* emit(ctx, g, () => g.text.trimEnd())
    })
)
