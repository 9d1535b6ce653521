/**
 * Property-based test: random sequences of operations, valid and invalid, against a fresh queue;
 * after every step the invariants of DESIGN.md section 3 hold (Invariants.ts), a rejected
 * operation changed nothing and failed with one of the contract's tags, and each accepted
 * operation did what the contract says. Over a store (called for SQLite by Properties.test.ts,
 * for PostgreSQL by @abathur/postgres).
 *
 * It stays whole (issue 12): it is one property with its model, the command arbitraries and the
 * `step` that states what each command must do to the tables, and the parts mean little apart.
 */
import { randomUUID } from "node:crypto"
import { formatTimestamp, type PlanNodeInput, type TaskSource } from "@abathur/domain"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Cause, Clock, Duration, Effect, Exit, ManagedRuntime, Option, TestClock, TestContext } from "effect"
import fc from "fast-check"
import { defaultQueueSettings, type QueueSettings } from "../../src/QueueConfig.js"
import { TaskQueue } from "../../src/TaskQueue.js"
import { checkInvariants, formulaOf, openDependentsCounter, rankedOf, type Row, type Tables, waitsOf } from "../Invariants.js"
import { type Snapshot, StoreProbe, type StoreUnderTest } from "../StoreUnderTest.js"

// ---- commands ------------------------------------------------------------------------------

type ClaimedRow = { readonly id: string; readonly leaseToken: string; readonly leaseExpiresAt: string }

type TokenMode = "current" | "stale" | "none" | "force" | "random" | "empty"
type Pick = { readonly from: "running" | "open" | "waiting" | "dependable" | "failed" | "any"; readonly n: number }

type Cmd =
  | {
      readonly _tag: "submit"
      /** Prerequisites: picks among tasks that can be depended on, or (anyPrereq) among every id. */
      readonly prereqs: ReadonlyArray<number>
      readonly anyPrereq: boolean
      readonly unknown: boolean
      readonly badPriority: boolean
      readonly parent: number | null
      readonly priority: number
      readonly source: TaskSource
      readonly deadlineSeconds: number | null
      readonly estimate: number | null
      readonly maxRetries: number
      readonly agentType: "general" | "coder"
      readonly dependencyType: "sequential" | "parallel"
      /** Per prerequisite: its edge ignores failures. */
      readonly ignore: ReadonlyArray<boolean>
      readonly omitSource: boolean
      /** Not claimable for this many seconds. */
      readonly delaySeconds: number | null
      /** An idempotency key: a small number, so that keys repeat (same or other fields). */
      readonly key: number | null
    }
  | {
      readonly _tag: "plan"
      readonly nodes: ReadonlyArray<{ readonly deps: ReadonlyArray<number>; readonly ext: ReadonlyArray<number>; readonly child: boolean }>
      readonly cyclic: boolean
      readonly parent: number | null
      readonly unknown: boolean
    }
  | {
      readonly _tag: "addDependency"
      readonly a: Pick
      readonly b: Pick
      readonly self: boolean
      readonly type: "sequential" | "parallel" | null
      readonly ignore: boolean
    }
  | { readonly _tag: "removeDependency"; readonly edge: number; readonly missing: boolean }
  | {
      readonly _tag: "claim"
      readonly leaseSeconds: number | null
      readonly agentType: "general" | "coder" | null
      readonly bad: boolean
      readonly limit: number | null
    }
  | {
      readonly _tag: "heartbeat" | "complete" | "fail" | "release"
      readonly target: Pick
      readonly token: TokenMode
      readonly leaseSeconds: number | null
      /** complete only: claim the next task in the same transaction. */
      readonly next: boolean
    }
  | {
      readonly _tag: "completeMany"
      /** Up to `count` RUNNING tasks from the `n`th on; `stray`: one more of any kind; `dup`: the first again. */
      readonly count: number
      readonly n: number
      readonly stray: Pick | null
      readonly dup: boolean
      /** The item (modulo their number) whose token is `token` (null: none); the others give their current one. */
      readonly odd: number
      readonly token: TokenMode | null
      readonly next: number | null
    }
  | { readonly _tag: "cancel" | "retry"; readonly target: Pick }
  | { readonly _tag: "recover" | "refresh" | "inspect" }
  | { readonly _tag: "prune"; readonly olderThan: string; readonly dryRun: boolean; readonly status: string | null }
  | { readonly _tag: "advance"; readonly ms: number }

const pickArb = (from: ReadonlyArray<Pick["from"]>) => fc.record({ from: fc.constantFrom(...from), n: fc.nat(1000) })

const submitArb = fc.record({
  _tag: fc.constant("submit" as const),
  prereqs: fc.array(fc.nat(1000), { maxLength: 4 }),
  anyPrereq: fc.integer({ min: 0, max: 4 }).map((n) => n === 0),
  unknown: fc.integer({ min: 0, max: 6 }).map((n) => n === 0),
  badPriority: fc.integer({ min: 0, max: 19 }).map((n) => n === 0),
  parent: fc.option(fc.nat(1000), { nil: null, freq: 3 }),
  priority: fc.integer({ min: 0, max: 10 }),
  source: fc.constantFrom<TaskSource>("human", "agent_requirements", "agent_planner", "agent_implementation"),
  deadlineSeconds: fc.option(fc.integer({ min: -7200, max: 3 * 86_400 }), { nil: null }),
  estimate: fc.option(fc.integer({ min: 0, max: 7200 }), { nil: null }),
  maxRetries: fc.constantFrom(0, 0, 1, 2),
  agentType: fc.constantFrom("general" as const, "general" as const, "coder" as const),
  dependencyType: fc.constantFrom("sequential" as const, "parallel" as const),
  ignore: fc.array(
    fc.integer({ min: 0, max: 2 }).map((n) => n === 0),
    { minLength: 5, maxLength: 5 }
  ),
  omitSource: fc.boolean(),
  delaySeconds: fc.option(fc.integer({ min: 1, max: 600 }), { nil: null, freq: 4 }),
  key: fc.option(fc.nat(5), { nil: null, freq: 3 })
})

const planArb = fc.record({
  _tag: fc.constant("plan" as const),
  nodes: fc.array(fc.record({ deps: fc.array(fc.nat(100), { maxLength: 2 }), ext: fc.array(fc.nat(1000), { maxLength: 1 }), child: fc.boolean() }), {
    minLength: 1,
    maxLength: 5
  }),
  cyclic: fc.integer({ min: 0, max: 4 }).map((n) => n === 0),
  parent: fc.option(fc.nat(1000), { nil: null, freq: 3 }),
  unknown: fc.integer({ min: 0, max: 9 }).map((n) => n === 0)
})

const leaseArb = fc.option(fc.integer({ min: 1, max: 7200 }), { nil: null })
const tokenArb = fc.constantFrom<TokenMode>("current", "current", "current", "none", "force", "stale", "random", "empty")

const cmdArb: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 10, arbitrary: submitArb },
  { weight: 3, arbitrary: planArb },
  {
    weight: 4,
    arbitrary: fc.record({
      _tag: fc.constant("addDependency" as const),
      a: pickArb(["waiting", "waiting", "waiting", "any"]),
      b: pickArb(["dependable", "dependable", "dependable", "any"]),
      self: fc.integer({ min: 0, max: 7 }).map((n) => n === 0),
      type: fc.constantFrom("sequential" as const, "parallel" as const, null),
      ignore: fc.integer({ min: 0, max: 2 }).map((n) => n === 0)
    })
  },
  {
    weight: 2,
    arbitrary: fc.record({
      _tag: fc.constant("removeDependency" as const),
      edge: fc.nat(1000),
      missing: fc.integer({ min: 0, max: 5 }).map((n) => n === 0)
    })
  },
  {
    weight: 7,
    arbitrary: fc.record({
      _tag: fc.constant("claim" as const),
      leaseSeconds: leaseArb,
      agentType: fc.constantFrom("general" as const, "coder" as const, null, null, null),
      bad: fc.integer({ min: 0, max: 14 }).map((n) => n === 0),
      limit: fc.option(fc.integer({ min: 1, max: 5 }), { nil: null, freq: 2 })
    })
  },
  ...(["heartbeat", "complete", "fail", "release"] as const).map((tag) => ({
    weight: tag === "complete" ? 7 : tag === "fail" ? 4 : 2,
    arbitrary: fc.record({
      _tag: fc.constant(tag),
      target: pickArb(["running", "running", "running", "any"]),
      token: tokenArb,
      leaseSeconds: leaseArb,
      next: tag === "complete" ? fc.boolean() : fc.constant(false)
    })
  })),
  {
    weight: 3,
    arbitrary: fc.record({
      _tag: fc.constant("completeMany" as const),
      count: fc.integer({ min: 1, max: 5 }),
      n: fc.nat(1000),
      stray: fc.option(pickArb(["any"]), { nil: null, freq: 4 }),
      dup: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
      odd: fc.nat(3),
      token: fc.option(tokenArb, { nil: null, freq: 2 }),
      next: fc.option(fc.integer({ min: 1, max: 3 }), { nil: null })
    })
  },
  { weight: 2, arbitrary: fc.record({ _tag: fc.constant("cancel" as const), target: pickArb(["open", "open", "any"]) }) },
  { weight: 2, arbitrary: fc.record({ _tag: fc.constant("retry" as const), target: pickArb(["failed", "failed", "any"]) }) },
  { weight: 1, arbitrary: fc.constant({ _tag: "recover" as const }) },
  { weight: 1, arbitrary: fc.constant({ _tag: "refresh" as const }) },
  { weight: 1, arbitrary: fc.constant({ _tag: "inspect" as const }) },
  {
    weight: 1,
    arbitrary: fc.record({
      _tag: fc.constant("prune" as const),
      olderThan: fc.constantFrom("1s", "10m", "2h", "30d", "soon"),
      dryRun: fc.boolean(),
      status: fc.constantFrom(null, null, "completed", "failed", "cancelled", "ready")
    })
  },
  {
    weight: 4,
    arbitrary: fc.record({
      _tag: fc.constant("advance" as const),
      ms: fc.oneof(fc.integer({ min: 1, max: 10_000 }), fc.integer({ min: 10_000, max: 600_000 }), fc.integer({ min: 600_000, max: 3 * 3_600_000 }))
    })
  }
)

// ---- the model the steps keep ----------------------------------------------------------------

const CONTRACT_TAGS = [
  "ValidationError",
  "TaskNotFound",
  "DependencyCycle",
  "LimitExceeded",
  "InvalidTransition",
  "LeaseMismatch",
  "IdempotencyConflict"
]
/** Columns the engine keeps on every task of a hierarchy, COMPLETED ones too (bookkeeping, not the task). */
const BOOKKEEPING = ["subtree_open", "subtree_completed", "subtree_failed", "subtree_cancelled", "ancestor_gated"]
const withoutBookkeeping = (t: object) => Object.fromEntries(Object.entries(t).filter(([k]) => !BOOKKEEPING.includes(k)))
const OPEN = new Set(["pending", "blocked", "ready", "running"])
const TERMINAL = new Set(["completed", "failed", "cancelled"])
const KINDS: Record<Exclude<Pick["from"], "any">, (status: string) => boolean> = {
  running: (s) => s === "running",
  failed: (s) => s === "failed",
  open: (s) => OPEN.has(s),
  waiting: (s) => s === "pending" || s === "blocked" || s === "ready",
  dependable: (s) => s !== "failed" && s !== "cancelled"
}

interface Ctx {
  /** Every id the queue ever gave out (pruned ones too). */
  readonly ids: Array<string>
  /** Lease tokens issued per task, oldest first. */
  readonly tokens: Map<string, Array<string>>
  /** The database as the last step left it (read once per step). */
  state?: { readonly dump: Snapshot; readonly tables: Tables }
  /** Idempotency keys used so far, with the task and the input they were first used with. */
  readonly keys: Map<string, { readonly id: string; readonly input: string }>
}

type Rows = ReadonlyArray<Row>

/** What an operation must give: success, or a failure with one of these tags. */
type Expected = "ok" | ReadonlyArray<string> | undefined

const pickFrom = (list: ReadonlyArray<string>, n: number): string | undefined => (list.length === 0 ? undefined : list[n % list.length])

const sorted = (xs: Iterable<string>) => [...xs].sort()

const step = (cmd: Cmd, ctx: Ctx, settings: QueueSettings, index: number) =>
  Effect.gen(function* () {
    const q = yield* TaskQueue
    const probe = yield* StoreProbe
    const where = `at step ${index} ${JSON.stringify(cmd)}`
    const state = ctx.state ?? { dump: yield* probe.snapshot, tables: yield* probe.tables }
    if (cmd._tag === "advance") {
      yield* TestClock.adjust(Duration.millis(cmd.ms))
      return yield* checkInvariants({ settings, context: where, tables: state.tables })
    }
    const now = yield* Clock.currentTimeMillis
    const beforeDump = state.dump
    const before = state.tables.tasks
    const beforeById = new Map(before.map((r) => [r.id, r]))
    const edgesBefore = state.tables.edges.map((e) => ({ d: e.dependent, p: e.prerequisite, r: e.resolved_at }))
    const idsWith = (p: Pick): ReadonlyArray<string> => {
      if (p.from === "any") return ctx.ids
      const wanted = KINDS[p.from]
      return before.filter((r) => wanted(r.status)).map((r) => r.id)
    }
    /** A target: from the wanted kind of task, else any known id, else an id that never existed. */
    const target = (p: Pick) => pickFrom(idsWith(p), p.n) ?? pickFrom(ctx.ids, p.n) ?? randomUUID()
    // Open dependents as the tables the checks see have them (the last read: after the operation, in the checks).
    let openDependents = openDependentsCounter(state.tables)
    const truth = (r: Row) => formulaOf(r, openDependents(r.id), now, settings)
    let afterEdges: Tables["edges"] = state.tables.edges

    let op: Effect.Effect<unknown, { readonly _tag: string }>
    let expected: Expected
    let check: (result: any, after: Rows) => void = () => {}
    /** A claimed task (by claim, claimMany or complete's next): RUNNING under its token, the best there was, fresh. */
    /** READY and past its notBefore. */
    const claimable = (x: Rows[number]): boolean => x.status === "ready" && (x.not_before === null || Date.parse(x.not_before) <= now)
    const checkClaimed = (c: ClaimedRow, readyNow: Rows, after: Rows, leaseSeconds: number | null, agentType: string | null, where: string): void => {
      const claimed = after.find((x) => x.id === c.id)!
      expect(claimed.status, where).toBe("running")
      const startAt = claimed.not_before === null ? null : Date.parse(claimed.not_before)
      expect(startAt === null || startAt <= now, `${where}: claimed before its notBefore`).toBe(true)
      expect(claimed.lease_token, where).toBe(c.leaseToken)
      expect(Date.parse(c.leaseExpiresAt), where).toBe(now + (leaseSeconds ?? claimed.max_execution_timeout_seconds) * 1000)
      if (agentType !== null) expect(claimed.agent_type, where).toBe(agentType)
      // The claim order: nothing READY ranks above the claimed task (whose score is frozen at
      // what it ranked at when claimed).
      for (const r of readyNow) {
        const ranked = rankedOf(r, now, settings)!
        const above =
          ranked > claimed.calculated_priority + 1e-9 ||
          (Math.abs(ranked - claimed.calculated_priority) <= 1e-9 && r.submitted_at < claimed.submitted_at)
        expect(
          above,
          `${where}: ${r.id} ranks above the claimed ${c.id}: ${JSON.stringify({ r, ranked, claimed, mine: truth(claimed), theirs: truth(r) })}`
        ).toBe(false)
      }
      // The freshness bound: the claimed task's score is fresh, and at most 2 points below the true best.
      const mine = truth(claimed)
      expect(Math.abs(mine - claimed.calculated_priority), where).toBeLessThanOrEqual(1)
      const best = Math.max(mine, ...readyNow.map(truth))
      expect(mine, where).toBeGreaterThanOrEqual(best - 2)
      ctx.tokens.set(c.id, [...(ctx.tokens.get(c.id) ?? []), c.leaseToken])
    }

    /**
     * The lease part of a report on `id` (token as `mode` says; `forceable`: complete and fail take
     * `force`), and what the queue must answer to it from the tables before the step.
     */
    const leaseOf = (id: string, mode: TokenMode, forceable: boolean) => {
      const row = beforeById.get(id)
      const current = row?.lease_token ?? undefined
      const issued = ctx.tokens.get(id) ?? []
      const token =
        mode === "current"
          ? current
          : mode === "stale"
            ? (issued.find((t) => t !== current) ?? randomUUID())
            : mode === "random"
              ? randomUUID()
              : mode === "empty"
                ? ""
                : undefined
      const lease: { leaseToken?: string; force?: boolean } =
        token === undefined ? (mode === "force" && forceable ? { force: true } : {}) : { leaseToken: token }
      const expected: Expected =
        token === ""
          ? ["ValidationError"]
          : row === undefined
            ? ["TaskNotFound"]
            : row.status !== "running"
              ? ["InvalidTransition"]
              : token !== undefined && token !== current
                ? ["LeaseMismatch"]
                : mode === "none" && forceable
                  ? ["LeaseMismatch"] // a RUNNING task is its worker's unless an operator forces it
                  : "ok"
      return { row, current, lease, expected }
    }

    switch (cmd._tag) {
      case "submit": {
        const pool = cmd.anyPrereq ? ctx.ids : idsWith({ from: "dependable", n: 0 })
        const dependsOn = pool.length === 0 ? [] : [...new Set(cmd.prereqs.map((n) => pickFrom(pool, n)!))]
        if (cmd.unknown) dependsOn.push(randomUUID())
        const parent = cmd.parent === null ? undefined : pickFrom(ctx.ids, cmd.parent)
        const key = cmd.key === null ? undefined : `key-${cmd.key}`
        // (A pruned task frees its key.)
        const known = key === undefined ? undefined : ctx.keys.get(key)
        const prior = known !== undefined && beforeById.has(known.id) ? known : undefined
        const input = {
          // A repeated key with the same fields must return the first task.
          prompt: prior !== undefined && cmd.priority % 2 === 0 ? (JSON.parse(prior.input) as { prompt: string }).prompt : `task ${ctx.ids.length}`,
          priority: cmd.badPriority ? 11 : cmd.priority,
          ...(!cmd.omitSource && { source: cmd.source }),
          dependsOn: dependsOn.map((id, i) => (cmd.ignore[i % cmd.ignore.length] ? { id, onFailure: "ignore" as const } : id)),
          dependencyType: cmd.dependencyType,
          agentType: cmd.agentType,
          maxRetries: cmd.maxRetries,
          ...(cmd.deadlineSeconds !== null && { deadline: formatTimestamp(now + cmd.deadlineSeconds * 1000) }),
          ...(cmd.estimate !== null && { estimatedDurationSeconds: cmd.estimate }),
          ...(parent !== undefined && { parentTaskId: parent }),
          ...(cmd.delaySeconds !== null && { notBefore: formatTimestamp(now + cmd.delaySeconds * 1000) }),
          ...(key !== undefined && { idempotencyKey: key })
        }
        const same = prior !== undefined && prior.input === JSON.stringify(input)
        op = q.submitWithOutcome(input)
        if (cmd.badPriority) expected = ["ValidationError"]
        else if (prior !== undefined) expected = same ? "ok" : ["IdempotencyConflict"]
        else if (cmd.unknown) expected = ["TaskNotFound", "LimitExceeded", "InvalidTransition"]
        check = (r: { task: { id: string; status: string; source: string; notBefore: string | null }; created: boolean }, after) => {
          if (same) {
            // The same key and fields: the first task, and nothing written.
            expect(r.created, where).toBe(false)
            expect(r.task.id, where).toBe(prior!.id)
            expect(after, where).toEqual(before)
            return
          }
          expect(r.created, where).toBe(true)
          const task = r.task
          ctx.ids.push(task.id)
          if (key !== undefined) ctx.keys.set(key, { id: task.id, input: JSON.stringify(input) })
          const states = dependsOn.map((id) => beforeById.get(id)?.status)
          expect(
            states.every((s) => s !== undefined && s !== "failed" && s !== "cancelled"),
            where
          ).toBe(true)
          expect(["ready", "blocked"], where).toContain(task.status)
          // An omitted source: human, but agent_planner for a subtask.
          if (cmd.omitSource) expect(task.source, where).toBe(parent !== undefined ? "agent_planner" : "human")
          if (cmd.delaySeconds !== null) expect(task.notBefore, where).toBe(formatTimestamp(now + cmd.delaySeconds * 1000))
        }
        break
      }
      case "plan": {
        const keys = cmd.nodes.map((_, i) => `k${i}`)
        const nodes: Array<PlanNodeInput & { dependsOn: Array<string> }> = cmd.nodes.map((n, i) => ({
          key: keys[i]!,
          prompt: `plan node ${i}`,
          dependsOn: [...(i === 0 ? [] : n.deps.map((d) => keys[d % i]!)), ...(ctx.ids.length === 0 ? [] : n.ext.map((e) => pickFrom(ctx.ids, e)!))]
        }))
        // A cycle: the first node waits for the last, and the last for the first.
        if (cmd.cyclic) {
          nodes[0]!.dependsOn.push(keys[keys.length - 1]!)
          nodes[nodes.length - 1]!.dependsOn.push(keys[0]!)
        }
        if (cmd.unknown) nodes[nodes.length - 1]!.dependsOn.push(randomUUID())
        const parent = cmd.parent === null ? undefined : pickFrom(ctx.ids, cmd.parent)
        // Nodes flagged `child` nest under the first node; the others are top level.
        const top: Array<PlanNodeInput> = []
        const kids: Array<PlanNodeInput> = []
        nodes.forEach((n, i) => {
          if (i > 0 && cmd.nodes[i]!.child) kids.push(n)
          else top.push(n)
        })
        const tasks = top.map((n, i) => ({
          ...n,
          ...(i === 0 && kids.length > 0 && { children: kids }),
          ...(parent !== undefined && { parentTaskId: parent })
        }))
        op = q.submitPlan({ tasks })
        if (cmd.cyclic) expected = ["DependencyCycle"]
        check = (r: { tasks: Record<string, { id: string }> }) => {
          expect(Object.keys(r.tasks).sort(), where).toEqual([...keys].sort())
          for (const k of keys) ctx.ids.push(r.tasks[k]!.id)
        }
        break
      }
      case "addDependency": {
        const a = target(cmd.a)
        const b = cmd.self ? a : target(cmd.b)
        op = q.addDependency(a, {
          prerequisiteId: b,
          ...(cmd.type !== null && { dependencyType: cmd.type }),
          ...(cmd.ignore && { onFailure: "ignore" })
        })
        const dep = beforeById.get(a)
        if (dep === undefined || !beforeById.has(b)) expected = ["TaskNotFound"]
        else if (!["pending", "blocked", "ready"].includes(dep.status)) expected = ["InvalidTransition"]
        else if (a === b) expected = ["DependencyCycle"]
        else if (["failed", "cancelled"].includes(beforeById.get(b)!.status)) expected = ["InvalidTransition"]
        check = (detail: { status: string; prerequisites: ReadonlyArray<{ taskId: string; resolvedAt: string | null }> }) => {
          const edge = detail.prerequisites.find((p) => p.taskId === b)
          expect(edge, where).toBeDefined()
          // A new open edge blocks a READY dependent; otherwise its status stays.
          if (dep!.status === "ready" && edge!.resolvedAt === null) expect(detail.status, where).toBe("blocked")
          else expect(detail.status, where).toBe(dep!.status)
        }
        break
      }
      case "removeDependency": {
        const edge = edgesBefore.length === 0 ? undefined : edgesBefore[cmd.edge % edgesBefore.length]
        const d = edge?.d ?? pickFrom(ctx.ids, cmd.edge) ?? randomUUID()
        const p = cmd.missing || edge === undefined ? randomUUID() : edge.p
        op = q.removeDependency(d, p)
        const dep = beforeById.get(d)
        const exists = edgesBefore.some((e) => e.d === d && e.p === p)
        if (dep === undefined) expected = ["TaskNotFound"]
        else if (!["pending", "blocked", "ready"].includes(dep.status)) expected = ["InvalidTransition"]
        else if (!exists) expected = ["TaskNotFound"]
        else expected = "ok"
        check = (detail: { status: string; prerequisites: ReadonlyArray<{ taskId: string }> }, after) => {
          expect(
            detail.prerequisites.map((x) => x.taskId),
            where
          ).not.toContain(p)
          // It became READY iff that was its last open edge and no ancestor waits (checked by the invariants).
          expect(["ready", "blocked"], where).toContain(detail.status)
          expect(after.find((x) => x.id === d)!.status, where).toBe(detail.status)
        }
        break
      }
      case "claim": {
        const input = {
          worker: "w",
          ...(cmd.bad ? { leaseSeconds: 0 } : cmd.leaseSeconds !== null && { leaseSeconds: cmd.leaseSeconds }),
          ...(cmd.agentType !== null && { agentType: cmd.agentType })
        }
        const limit = cmd.limit
        op = limit === null ? q.claim(input) : q.claimMany({ ...input, limit })
        expected = cmd.bad ? ["ValidationError"] : "ok"
        check = (r: ClaimedRow | null | Array<ClaimedRow>, after) => {
          const claims = r === null ? [] : Array.isArray(r) ? r : [r]
          if (limit !== null) expect(claims.length, where).toBeLessThanOrEqual(limit)
          // Claimable: READY and past its notBefore.
          const readyNow = after.filter((x) => claimable(x) && (cmd.agentType === null || x.agent_type === cmd.agentType))
          // Fewer than asked for (none for a single claim): nothing claimable is left.
          if (claims.length < (limit ?? 1))
            expect(
              readyNow.map((x) => x.id),
              where
            ).toEqual([])
          for (const c of claims) checkClaimed(c, readyNow, after, cmd.leaseSeconds, cmd.agentType, where)
        }
        break
      }
      case "heartbeat":
      case "complete":
      case "fail":
      case "release": {
        const id = target(cmd.target)
        const { row, current, lease, expected: refused } = leaseOf(id, cmd.token, cmd._tag === "complete" || cmd._tag === "fail")
        op =
          cmd._tag === "heartbeat"
            ? q.heartbeat(id, { ...lease, ...(cmd.leaseSeconds !== null && { leaseSeconds: cmd.leaseSeconds }) })
            : cmd._tag === "complete"
              ? q.complete(id, { ...lease, result: { step: index }, ...(cmd.next && { next: { worker: "w" } }) })
              : cmd._tag === "fail"
                ? q.fail(id, { ...lease, error: `attempt broke at step ${index}` })
                : q.release(id, lease)
        expected = refused
        check = (r: any, after) => {
          const mine = after.find((x) => x.id === id)!
          const changedTo = (status: string) =>
            sorted(after.filter((x) => x.id !== id && x.status === status && beforeById.get(x.id)?.status !== status).map((x) => x.id))
          if (cmd._tag === "heartbeat") {
            expect(mine.status, where).toBe("running")
            expect(mine.lease_token, where).toBe(current)
            expect(Date.parse(mine.lease_expires_at!), where).toBe(now + (cmd.leaseSeconds ?? mine.max_execution_timeout_seconds) * 1000)
          } else if (cmd._tag === "complete") {
            expect(mine.status, where).toBe("completed")
            // Exactly the tasks it readied (which ones may be READY is checked from scratch by the invariants).
            if (!cmd.next) {
              expect(r.next, where).toBeUndefined()
              expect(changedTo("ready"), where).toEqual(sorted(r.unblocked))
            } else {
              // The next claim runs after the completion, in the same transaction: it may take a task just
              // unblocked, and (like any claim) first puts expired leases back to READY.
              const next: ClaimedRow | null = r.next
              const unblockedNow = changedTo("ready").filter((x) => beforeById.get(x)?.status !== "running")
              expect(unblockedNow, where).toEqual(sorted(r.unblocked.filter((u: string) => u !== next?.id)))
              const readyNow = after.filter(claimable)
              if (next === null)
                expect(
                  readyNow.map((x) => x.id),
                  where
                ).toEqual([])
              else checkClaimed(next, readyNow, after, null, null, where)
            }
          } else if (cmd._tag === "fail") {
            const retried = row!.status === "running" && row!.max_retries > retryCountBefore(id)
            expect(r.retried, where).toBe(retried)
            if (retried) expect(["ready", "blocked"], where).toContain(mine.status)
            else expect(mine.status, where).toBe("failed")
            expect(sorted(r.cancelled), where).toEqual(changedTo("cancelled"))
          } else {
            expect(["ready", "blocked"], where).toContain(mine.status)
            expect(mine.retry_count, where).toBe(retryCountBefore(id))
          }
        }
        break
      }
      case "completeMany": {
        const running = idsWith({ from: "running", n: 0 })
        const ids = Array.from({ length: Math.min(cmd.count, running.length) }, (_, i) => running[(cmd.n + i) % running.length]!)
        if (cmd.stray !== null || ids.length === 0) ids.splice(cmd.n % (ids.length + 1), 0, target(cmd.stray ?? { from: "any", n: cmd.n }))
        if (cmd.dup) ids.push(ids[0]!)
        const items = ids.map((id, i) => ({ id, ...leaseOf(id, i === cmd.odd % ids.length ? (cmd.token ?? "current") : "current", true) }))
        op = q.completeMany(
          items.map((it) => ({ id: it.id, ...it.lease, result: { step: index } })),
          cmd.next === null ? {} : { next: { worker: "w", limit: cmd.next } }
        )
        // Validation (a malformed token, an id named twice) before any item; then the first refused item, in order.
        expected =
          new Set(ids).size < ids.length || items.some((it) => it.lease.leaseToken === "")
            ? ["ValidationError"]
            : (items.find((it) => it.expected !== "ok")?.expected ?? "ok")
        check = (r: { completed: Array<{ task: { id: string }; unblocked: Array<string> }>; next: Array<ClaimedRow> }, after) => {
          expect(
            r.completed.map((c) => c.task.id),
            where
          ).toEqual(ids)
          for (const id of ids) expect(after.find((x) => x.id === id)!.status, where).toBe("completed")
          const unblocked = r.completed.flatMap((c) => c.unblocked)
          expect(new Set(unblocked).size, `${where}: a task unblocked twice`).toBe(unblocked.length)
          const claimedIds = new Set(r.next.map((c) => c.id))
          // Tasks the batch made READY (less those its next claims took), apart from leases the claims recovered.
          const readied = after.filter(
            (x) =>
              !ids.includes(x.id) && x.status === "ready" && beforeById.get(x.id)?.status !== "ready" && beforeById.get(x.id)?.status !== "running"
          )
          expect(sorted(readied.map((x) => x.id)), where).toEqual(sorted(unblocked.filter((u) => !claimedIds.has(u))))
          if (cmd.next === null) expect(r.next, where).toEqual([])
          else {
            expect(r.next.length, where).toBeLessThanOrEqual(cmd.next)
            const readyNow = after.filter(claimable)
            if (r.next.length < cmd.next)
              expect(
                readyNow.map((x) => x.id),
                where
              ).toEqual([])
            for (const c of r.next) checkClaimed(c, readyNow, after, null, null, where)
          }
        }
        break
      }
      case "cancel": {
        const id = target(cmd.target)
        const row = beforeById.get(id)
        op = q.cancel(id)
        expected = row === undefined ? ["TaskNotFound"] : TERMINAL.has(row.status) ? ["InvalidTransition"] : "ok"
        check = (r: { cancelled: Array<string> }, after) => {
          const byId = new Map(after.map((x) => [x.id, x]))
          expect(byId.get(id)!.status, where).toBe("cancelled")
          const changed = after.filter((x) => x.id !== id && x.status === "cancelled" && beforeById.get(x.id)!.status !== "cancelled")
          expect(sorted(r.cancelled), where).toEqual(sorted(changed.map((x) => x.id)))
          // Every task below it in the hierarchy, and every transitive dependent, is now terminal.
          const below = new Set([id])
          for (let grew = true; grew; ) {
            grew = false
            for (const x of after) {
              if (x.parent_task_id !== null && below.has(x.parent_task_id) && !below.has(x.id)) {
                below.add(x.id)
                grew = true
              }
            }
          }
          for (const x of below) expect(TERMINAL.has(byId.get(x)!.status), `${where}: subtask ${x} below ${id} is still open`).toBe(true)
          // COMPLETED tasks are never touched (checked for every step below).
        }
        break
      }
      case "retry": {
        const id = target(cmd.target)
        const row = beforeById.get(id)
        op = q.retry(id)
        // A FAILED task is refused only while a `cancel` edge of it is doomed (its prerequisite's
        // subtree got a failed or cancelled task after it ran).
        expected = row === undefined ? ["TaskNotFound"] : row.status !== "failed" ? ["InvalidTransition"] : undefined
        check = (r: { task: { status: string; retryCount: number; errorMessage: string | null }; revived: Array<string> }, after) => {
          expect(r.task, where).toMatchObject({ retryCount: 0, errorMessage: null })
          expect(["ready", "blocked"], where).toContain(r.task.status)
          const byId = new Map(after.map((x) => [x.id, x]))
          for (const v of r.revived) {
            expect(beforeById.get(v)!.status, where).toBe("cancelled")
            expect(["ready", "blocked"], where).toContain(byId.get(v)!.status)
          }
        }
        break
      }
      case "recover": {
        op = q.recover()
        expected = "ok"
        check = (r: { recovered: Array<string> }) => {
          const expired = before.filter((x) => x.status === "running" && Date.parse(x.lease_expires_at!) <= now).map((x) => x.id)
          expect(sorted(r.recovered), where).toEqual(sorted(expired))
        }
        break
      }
      case "refresh": {
        op = q.refreshPriorities()
        expected = "ok"
        break
      }
      case "inspect": {
        op = Effect.all([q.status(), q.executionPlan(), q.list({ status: ["ready"] })])
        expected = "ok"
        check = ([status, plan, ready]: [any, any, Array<{ id: string }>], after) => {
          const count = (s: string) => after.filter((x) => x.status === s).length
          for (const s of ["pending", "blocked", "ready", "running", "completed", "failed", "cancelled"]) {
            expect(status.byStatus[s], where).toBe(count(s))
          }
          const open = after.filter((x) => OPEN.has(x.status)).map((x) => x.id)
          expect(sorted((plan.batches as Array<Array<string>>).flat()), where).toEqual(sorted(open))
          // Each task comes after everything it waits for (own and ancestors' edges, into subtrees).
          const batchOf = new Map((plan.batches as Array<Array<string>>).flatMap((b, i) => b.map((id) => [id, i] as const)))
          for (const [id, waited] of waitsOf(after, afterEdges)) {
            for (const w of waited) expect(batchOf.get(w)!, `${where}: ${id} waits for ${w}`).toBeLessThan(batchOf.get(id)!)
          }
          expect(ready.length, where).toBe(count("ready"))
        }
        break
      }
      case "prune": {
        op = q.prune({ olderThan: cmd.olderThan, dryRun: cmd.dryRun, ...(cmd.status !== null && { status: [cmd.status] }) })
        expected = cmd.olderThan === "soon" || cmd.status === "ready" ? ["ValidationError"] : "ok"
        check = (r: { deleted: number; ids: Array<string> }, after) => {
          expect(r.deleted, where).toBe(r.ids.length)
          const left = new Set(after.map((x) => x.id))
          for (const id of r.ids) {
            expect(TERMINAL.has(beforeById.get(id)!.status), where).toBe(true)
            expect(left.has(id), where).toBe(cmd.dryRun)
          }
          expect(after.length, where).toBe(before.length - (cmd.dryRun ? 0 : r.ids.length))
        }
        break
      }
    }

    function retryCountBefore(id: string): number {
      return beforeDump.tasks.find((t) => t.id === id)!.retry_count
    }

    const exit = yield* Effect.exit(op)
    // The freshness bound holds right after a claim (or a refresh) that went through.
    const fresh = Exit.isSuccess(exit) && (cmd._tag === "claim" || cmd._tag === "refresh")
    if (Exit.isFailure(exit)) {
      const failure = Cause.failureOption(exit.cause)
      if (Option.isNone(failure)) throw new Error(`${where}: a defect, not a contract error:\n${Cause.pretty(exit.cause)}`)
      const e = failure.value
      expect(CONTRACT_TAGS, `${where}: ${e._tag}`).toContain(e._tag)
      if (expected === "ok") throw new Error(`${where}: expected success, got ${e._tag}: ${(e as { message?: string }).message}`)
      if (expected !== undefined) expect(expected, `${where}: got ${e._tag}: ${(e as { message?: string }).message}`).toContain(e._tag)
      if (e._tag === "DependencyCycle") {
        const cycle = (e as unknown as { cycle: ReadonlyArray<string> }).cycle
        expect(cycle.length, where).toBeGreaterThanOrEqual(2)
        expect(cycle[0], where).toBe(cycle[cycle.length - 1])
        // (A dependency within one line of the hierarchy is refused as [A, B, A] without an edge B -> A.)
        if (cmd._tag === "addDependency" && !(e as { message?: string }).message?.includes("hierarchy")) {
          // [A, B, ..., A]: A -> B is the new edge, every later step an existing edge or a
          // parent-child link (a deadlock through the hierarchy).
          const a = target(cmd.a)
          expect([cycle[0], cycle[1]], where).toEqual([a, cmd.self ? a : target(cmd.b)])
          const parentOf = (id: string | undefined) => beforeById.get(id ?? "")?.parent_task_id
          for (let i = 1; i + 1 < cycle.length; i++) {
            const [x, y] = [cycle[i]!, cycle[i + 1]!]
            const linked = edgesBefore.some((e) => e.d === x && e.p === y) || parentOf(x) === y || parentOf(y) === x
            expect(linked, `${where}: ${x} -> ${y}`).toBe(true)
          }
        }
      }
      // A rejected operation changes nothing.
      const afterDump = yield* probe.snapshot
      if (afterDump.json !== beforeDump.json) expect({ ...afterDump, json: "" }, where).toEqual({ ...beforeDump, json: "" })
      ctx.state = state
    } else {
      if (Array.isArray(expected)) throw new Error(`${where}: expected ${expected.join(" or ")}, but it succeeded`)
      const afterTables = yield* probe.tables
      const after = afterTables.tasks
      openDependents = openDependentsCounter(afterTables)
      afterEdges = afterTables.edges
      check(exit.value, after)
      // COMPLETED tasks are never touched (only pruned).
      const afterDump = yield* probe.snapshot
      ctx.state = { dump: afterDump, tables: afterTables }
      const afterTasks = new Map(afterDump.tasks.map((t) => [t.id, t]))
      for (const t of beforeDump.tasks) {
        if (t.status !== "completed") continue
        const later = afterTasks.get(t.id)
        if (later === undefined) expect(cmd._tag, `${where}: completed task ${t.id} vanished`).toBe("prune")
        else if (JSON.stringify(withoutBookkeeping(later)) !== JSON.stringify(withoutBookkeeping(t))) {
          expect(withoutBookkeeping(later), `${where}: completed task ${t.id} changed`).toEqual(withoutBookkeeping(t))
        }
      }
    }
    yield* checkInvariants({ settings, freshness: fresh, context: where, tables: ctx.state.tables })
  })

const small: QueueSettings = { ...defaultQueueSettings, limits: { maxDependencies: 3, maxDepth: 3, maxSubtasks: 3 } }

/**
 * The runner's bounds. fast-check stops at `interruptAfterTimeLimit` (shrinking a long sequence
 * can take a while: what was found by then is reported), but by default it counts a run cut short
 * by that limit as a success: on a slow or loaded machine the test would pass after a handful of
 * sequences, having checked almost nothing. `markInterruptAsFailure` makes a cut-short run fail,
 * saying how many sequences ran. The limit leaves room for a loaded 2-core machine (100 runs take
 * about 25 s alone there), and the test's own timeout is above it, so that fast-check's report,
 * not vitest's timeout, says what happened.
 */
export const runnerBounds = {
  interruptAfterTimeLimit: 150_000,
  markInterruptAsFailure: true
} as const satisfies fc.Parameters<unknown>

/**
 * The property over a store: `store.propertyRuns` sequences of 60 steps (PROP_SEED fixes the seed;
 * PROP_SEED with the PROP_PATH of a failure replays its counterexample alone).
 */
export const properties = (store: StoreUnderTest) => {
  /**
   * The test services (TestClock) are built once and shared by the runs: building them costs
   * about 40 ms, a third of a run. Each run still gets a fresh database; the clock only moves on.
   */
  const testRuntime = ManagedRuntime.make(TestContext.TestContext)

  const run = (settings: QueueSettings, cmds: ReadonlyArray<Cmd>) =>
    testRuntime.runPromise(
      Effect.gen(function* () {
        const ctx: Ctx = { ids: [], tokens: new Map(), keys: new Map() }
        for (let i = 0; i < cmds.length; i++) yield* step(cmds[i]!, ctx, settings, i)
      }).pipe(Effect.provide(store.queue(settings, { scratch: true })))
    )

  describe("random operation sequences", () => {
    afterAll(() => testRuntime.dispose())

    it("keep every invariant of DESIGN.md section 3 after each step", { timeout: 180_000 }, async () => {
      await fc.assert(fc.asyncProperty(fc.constantFrom(small, defaultQueueSettings), fc.array(cmdArb, { minLength: 60, maxLength: 60 }), run), {
        numRuns: store.propertyRuns,
        ...(process.env["PROP_SEED"] !== undefined && { seed: Number(process.env["PROP_SEED"]) }),
        ...(process.env["PROP_PATH"] !== undefined && { path: process.env["PROP_PATH"] }),
        ...runnerBounds
      })
    })
  })
}
