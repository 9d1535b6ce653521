/** Workers' side of a lease: claim (`next`), heartbeat, complete, fail, release. */
import { ValidationError } from "@abathur/queue"
import { Options } from "@effect/cli"
import { describeField, FieldDocs } from "@abathur/domain"
import { Effect, Option } from "effect"
import * as Render from "../Render.js"
import { defined, optionalNumeric, parseJson } from "../Input.js"
import { command, describe, emit, taskIdArg, text, withTaskQueue } from "./Command.js"

export const next = command(
  "next",
  {
    worker: text("worker", "NAME", FieldDocs.worker),
    lease: text("lease", "SECONDS", FieldDocs.leaseSeconds),
    agentType: text("agent-type", "TYPE", describeField("agentType", "ClaimInput")!),
    limit: text("limit", "N", describeField("limit", "ClaimInput")!)
  },
  describe(
    `Claim the most important ready task. It becomes running under a lease: report with complete or
    fail (passing the lease token) before the lease expires, or renew it with heartbeat. Prints null
    (with --json) when nothing is ready. With --limit N, claims up to N tasks at once, best first,
    and prints a list ([] when nothing is ready).`,
    "abathur next --worker coder-1 --lease 600 --json"
  ),
  (o, ctx) =>
    Effect.gen(function* () {
      const input = defined({
        worker: Option.getOrUndefined(o.worker),
        leaseSeconds: optionalNumeric(o.lease),
        agentType: Option.getOrUndefined(o.agentType)
      })
      if (Option.isSome(o.limit)) {
        const limited: unknown = { ...input, limit: optionalNumeric(o.limit) } // validated by the queue
        const tasks = yield* withTaskQueue(ctx, (q) => q.claimMany(limited))
        return yield* emit(ctx, tasks, () => Render.claimedMany(ctx.c, tasks))
      }
      const task = yield* withTaskQueue(ctx, (q) => q.claim(input))
      yield* emit(ctx, task, () => Render.claimed(ctx.c, task))
    })
)

const leaseToken = text("lease-token", "TOKEN", FieldDocs.leaseToken)
const force = Options.boolean("force").pipe(Options.withDescription(FieldDocs.force))

export const heartbeat = command(
  "heartbeat",
  { id: taskIdArg(), leaseToken, lease: text("lease", "SECONDS", describeField("leaseSeconds", "HeartbeatInput")!) },
  describe("Renew the lease of a running task.", "abathur heartbeat 3f2b8c1e-9d4a-4f6b-8e2a-1c5d7e9f0a2b --lease-token 9b1d... --lease 600"),
  (o, ctx) =>
    Effect.gen(function* () {
      const input = defined({ leaseToken: Option.getOrUndefined(o.leaseToken), leaseSeconds: optionalNumeric(o.lease) })
      const task = yield* withTaskQueue(ctx, (q) => q.heartbeat(o.id, input))
      yield* emit(ctx, task, () => Render.heartbeat(ctx.c, task))
    })
)

export const complete = command(
  "complete",
  {
    id: taskIdArg(),
    result: text("result", "JSON", FieldDocs.result),
    leaseToken,
    force,
    next: Options.boolean("next").pipe(Options.withDescription("Claim the next task in the same transaction (prints it as next).")),
    worker: text("worker", "NAME", `With --next: ${FieldDocs.worker}`),
    lease: text("lease", "SECONDS", `With --next: ${FieldDocs.leaseSeconds}`),
    agentType: text("agent-type", "TYPE", `With --next: ${describeField("agentType", "ClaimInput")!}`)
  },
  describe(
    `Complete a running task. Dependents whose last open prerequisite it was become ready. Without
    --lease-token the task is refused (LeaseMismatch) unless --force. With --next, the same transaction
    claims the next task and prints it as next (null when nothing is ready).`,
    `abathur complete 3f2b8c1e-9d4a-4f6b-8e2a-1c5d7e9f0a2b --lease-token 9b1d... --result '{"pr": 42}' --next --worker coder-1`
  ),
  (o, ctx) =>
    Effect.gen(function* () {
      const result = Option.isSome(o.result) ? yield* parseJson("--result", o.result.value) : undefined
      const claimFlags = [o.worker, o.lease, o.agentType].some(Option.isSome)
      if (claimFlags && !o.next) {
        return yield* Effect.fail(new ValidationError({ message: "--worker, --lease and --agent-type go with --next (the claim of the next task)" }))
      }
      const next = o.next
        ? defined({ worker: Option.getOrUndefined(o.worker), leaseSeconds: optionalNumeric(o.lease), agentType: Option.getOrUndefined(o.agentType) })
        : undefined
      const input = defined({ result, leaseToken: Option.getOrUndefined(o.leaseToken), force: o.force ? true : undefined, next })
      const r = yield* withTaskQueue(ctx, (q) => q.complete(o.id, input))
      yield* emit(ctx, r, () => Render.completed(ctx.c, r))
    })
)

export const fail = command(
  "fail",
  { id: taskIdArg(), error: text("error", "TEXT", FieldDocs.error), leaseToken, force },
  describe(
    `Fail a running task's attempt. It goes back to ready while retries remain; otherwise it fails and
    its dependents are cancelled. Without --lease-token the task is refused unless --force.`,
    `abathur fail 3f2b8c1e-9d4a-4f6b-8e2a-1c5d7e9f0a2b --error "tests do not pass" --lease-token 9b1d...`
  ),
  (o, ctx) =>
    Effect.gen(function* () {
      const input = defined({
        error: Option.getOrUndefined(o.error),
        leaseToken: Option.getOrUndefined(o.leaseToken),
        force: o.force ? true : undefined
      })
      const r = yield* withTaskQueue(ctx, (q) => q.fail(o.id, input))
      yield* emit(ctx, r, () => Render.failed(ctx.c, r))
    })
)

export const release = command(
  "release",
  { id: taskIdArg(), leaseToken },
  describe(
    "Give a running task back: it returns to ready without spending a retry (e.g. a worker shutting down).",
    "abathur release 3f2b8c1e --lease-token 9b1d..."
  ),
  (o, ctx) =>
    Effect.gen(function* () {
      const input = defined({ leaseToken: Option.getOrUndefined(o.leaseToken) })
      const task = yield* withTaskQueue(ctx, (q) => q.release(o.id, input))
      yield* emit(ctx, task, () => Render.released(ctx.c, task))
    })
)
