/** `abathur deps`: add or remove a prerequisite of a task. */
import { Command } from "@effect/cli"
import { describeField, FieldDocs } from "@abathur/domain"
import { Effect, Option } from "effect"
import * as Render from "../Render.js"
import { defined } from "../Input.js"
import { command, describe, emit, missingSubcommand, taskIdArg, text, withTaskQueue } from "./Command.js"

const depsAdd = command(
  "add",
  {
    dependent: taskIdArg("DEPENDENT"),
    prerequisite: taskIdArg("PREREQUISITE"),
    type: text("type", "TYPE", describeField("dependencyType", "AddDependencyInput")!),
    onFailure: text("on-failure", "POLICY", FieldDocs.onFailure)
  },
  describe(
    `Make DEPENDENT wait for PREREQUISITE. Refused when it would close a cycle (the cycle is shown) or
    go over the limits; adding an edge that exists changes nothing.`,
    "abathur deps add 3f2b8c1e-9d4a-4f6b-8e2a-1c5d7e9f0a2b 7c0e5d2a-1b3f-4e6a-9c8d-2f4b6a8c0e1d --type parallel"
  ),
  (o, ctx) =>
    Effect.gen(function* () {
      const input = defined({
        prerequisiteId: o.prerequisite,
        dependencyType: Option.getOrUndefined(o.type),
        onFailure: Option.getOrUndefined(o.onFailure)
      })
      const d = yield* withTaskQueue(ctx, (q) => q.addDependency(o.dependent, input))
      yield* emit(ctx, d, () => Render.dependencyAdded(ctx.c, d, o.prerequisite))
    })
)

const depsRemove = command(
  "remove",
  { dependent: taskIdArg("DEPENDENT"), prerequisite: taskIdArg("PREREQUISITE") },
  describe(
    `Stop DEPENDENT waiting for PREREQUISITE: the edge is removed. DEPENDENT (pending, blocked or ready)
    becomes ready when that was its last open edge and its parent waits for nothing. Removing an edge
    that does not exist is TaskNotFound.`,
    "abathur deps remove 3f2b8c1e-9d4a-4f6b-8e2a-1c5d7e9f0a2b 7c0e5d2a-1b3f-4e6a-9c8d-2f4b6a8c0e1d --json"
  ),
  (o, ctx) =>
    Effect.gen(function* () {
      const d = yield* withTaskQueue(ctx, (q) => q.removeDependency(o.dependent, o.prerequisite))
      yield* emit(ctx, d, () => Render.dependencyRemoved(ctx.c, d, o.prerequisite))
    })
)

export const deps = Command.make("deps", {}, () =>
  missingSubcommand("deps", "abathur deps add DEPENDENT PREREQUISITE, or abathur deps remove DEPENDENT PREREQUISITE")
).pipe(
  Command.withDescription(
    describe("Manage dependencies between existing tasks.", "abathur deps add DEPENDENT PREREQUISITE", "abathur deps remove DEPENDENT PREREQUISITE")
  ),
  Command.withSubcommands([depsAdd, depsRemove])
)
