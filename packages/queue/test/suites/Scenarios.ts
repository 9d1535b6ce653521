import { aNode, aTask, Plans } from "@abathur/testing"
import { describe, expect, it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import { TaskQueue } from "../../src/TaskQueue.js"
import { defaultQueueSettings } from "../../src/QueueConfig.js"
import { dump as databaseDump, flip, statuses, type StoreUnderTest, suiteOver } from "../StoreUnderTest.js"

const ids = (tasks: Record<string, { id: string }>, ...keys: Array<string>) => keys.map((k) => tasks[k]!.id)

/** Claims until `id` comes up, completes it, and gives back the tasks claimed on the way. */
const run = (id: string) =>
  Effect.gen(function* () {
    const q = yield* TaskQueue
    const held: Array<{ id: string; leaseToken: string }> = []
    for (;;) {
      const c = yield* q.claim({ worker: "w" })
      expect(c).not.toBeNull()
      if (c!.id !== id) {
        held.push(c!)
        continue
      }
      const result = yield* q.complete(id, { leaseToken: c!.leaseToken })
      for (const h of held) yield* q.release(h.id, { leaseToken: h.leaseToken })
      return result
    }
  })

/** The queue's scenarios over a store (called for SQLite by Scenarios.test.ts, for PostgreSQL by @abathur/postgres). */
export const scenarios = (store: StoreUnderTest) => {
  const { queueTest, testQueue } = suiteOver(store)

  describe("submission", () => {
    queueTest("a task without prerequisites is READY at once, with an audit row", () =>
      Effect.gen(function* () {
        const q = yield* TaskQueue
        const t = yield* q.submit({ prompt: "Write the spec\nwith details", priority: 7, source: "agent_planner" })
        expect(t.status).toBe("ready")
        expect(t.summary).toBe("Write the spec")
        expect(t.dependencyDepth).toBe(0)
        expect(t.calculatedPriority).toBeGreaterThan(0)
        const audit = yield* q.audit(t.id)
        expect(audit).toHaveLength(1)
        expect(audit[0]).toMatchObject({ fromStatus: null, toStatus: "ready", reason: "submitted" })
      })
    )

    queueTest("a task with an open prerequisite is BLOCKED; with a completed one READY", () =>
      Effect.gen(function* () {
        const q = yield* TaskQueue
        const a = yield* q.submit(aTask())
        const b = yield* q.submit(aTask({ dependsOn: [a.id] }))
        expect(b.status).toBe("blocked")
        expect(b.dependencyDepth).toBe(1)
        yield* run(a.id)
        const c = yield* q.submit(aTask({ dependsOn: [a.id] }))
        expect(c.status).toBe("ready")
        const detail = yield* q.get(c.id)
        expect(detail.prerequisites[0]!.resolvedAt).not.toBeNull()
      })
    )

    queueTest("a missing prerequisite or parent is TaskNotFound and changes nothing", () =>
      Effect.gen(function* () {
        const q = yield* TaskQueue
        yield* q.submit(aTask())
        const before = yield* databaseDump
        const missing = "3f2b8c1e-9d4a-4f6b-8e2a-1c5d7e9f0a2b"
        const e1 = yield* flip(q.submit(aTask({ dependsOn: [missing] })))
        expect(e1).toMatchObject({ _tag: "TaskNotFound", taskId: missing })
        const e2 = yield* flip(q.submit(aTask({ parentTaskId: missing })))
        expect(e2._tag).toBe("TaskNotFound")
        expect(yield* databaseDump).toEqual(before)
      })
    )

    queueTest("bad input is a ValidationError with a readable message", () =>
      Effect.gen(function* () {
        const q = yield* TaskQueue
        const e = yield* flip(q.submit({ prompt: "x", priority: 11 }))
        expect(e._tag).toBe("ValidationError")
        expect(e.message).toMatch(/priority/)
        const e2 = yield* flip(q.submit({ prompt: "  " }))
        expect(e2.message).toMatch(/prompt must not be empty/)
        const e3 = yield* flip(q.get("not-a-uuid"))
        expect(e3._tag).toBe("ValidationError")
      })
    )

    queueTest("a failed or cancelled prerequisite cannot be depended on", () =>
      Effect.gen(function* () {
        const q = yield* TaskQueue
        const a = yield* q.submit(aTask())
        yield* q.cancel(a.id)
        const e = yield* flip(q.submit(aTask({ dependsOn: [a.id] })))
        expect(e._tag).toBe("InvalidTransition")
      })
    )
  })

  describe("dependency resolution", () => {
    queueTest("a chain completes in order, each completion unblocking exactly the next", () =>
      Effect.gen(function* () {
        const q = yield* TaskQueue
        const { tasks } = yield* q.submitPlan(Plans.chain(5))
        const chain = ids(tasks, "c0", "c1", "c2", "c3", "c4")
        expect(yield* statuses(chain)).toEqual(["ready", "blocked", "blocked", "blocked", "blocked"])
        expect(tasks["c4"]!.dependencyDepth).toBe(4)
        for (let i = 0; i < 5; i++) {
          const c = yield* q.claim()
          expect(c!.id).toBe(chain[i])
          const r = yield* q.complete(c!.id, { leaseToken: c!.leaseToken })
          expect(r.unblocked).toEqual(i < 4 ? [chain[i + 1]] : [])
        }
        expect(yield* q.claim()).toBeNull()
      })
    )

    queueTest("a diamond's bottom waits for both sides (partial unblocking)", () =>
      Effect.gen(function* () {
        const q = yield* TaskQueue
        const { tasks } = yield* q.submitPlan(Plans.diamond())
        const [top, left, right, bottom] = ids(tasks, "top", "left", "right", "bottom")
        expect((yield* run(top!)).unblocked.sort()).toEqual([left!, right!].sort())
        expect((yield* run(left!)).unblocked).toEqual([])
        expect(yield* statuses([bottom!])).toEqual(["blocked"])
        expect((yield* run(right!)).unblocked).toEqual([bottom])
        expect(yield* statuses([bottom!])).toEqual(["ready"])
      })
    )

    queueTest(
      "fan-out: completing a task unblocks its 1,000 dependents at once",
      () =>
        Effect.gen(function* () {
          const q = yield* TaskQueue
          const { tasks } = yield* q.submitPlan(Plans.fanOut(1000))
          const root = tasks["root"]!
          const c = yield* q.claim()
          expect(c!.id).toBe(root.id)
          const r = yield* q.complete(root.id, { leaseToken: c!.leaseToken })
          expect(r.unblocked).toHaveLength(1000)
          expect((yield* q.status()).byStatus.ready).toBe(1000)
        }),
      { limits: { maxDependencies: 50, maxDepth: 10, maxSubtasks: 50 } }
    )

    queueTest("adding a dependency to a READY task on an open prerequisite blocks it; deepens downstream", () =>
      Effect.gen(function* () {
        const q = yield* TaskQueue
        const a = yield* q.submit(aTask())
        const b = yield* q.submit(aTask())
        const c = yield* q.submit(aTask({ dependsOn: [b.id] }))
        const detail = yield* q.addDependency(b.id, { prerequisiteId: a.id, dependencyType: "parallel" })
        expect(detail.status).toBe("blocked")
        expect(detail.dependencyDepth).toBe(1)
        expect(detail.prerequisites).toEqual([{ taskId: a.id, dependencyType: "parallel", onFailure: "cancel", resolvedAt: null }])
        expect((yield* q.get(c.id)).dependencyDepth).toBe(2)
        // adding the same edge again is a no-op
        const again = yield* q.addDependency(b.id, { prerequisiteId: a.id })
        expect(again.prerequisites).toHaveLength(1)
      })
    )

    queueTest("a RUNNING or terminal dependent cannot get a new prerequisite", () =>
      Effect.gen(function* () {
        const q = yield* TaskQueue
        const a = yield* q.submit(aTask())
        const b = yield* q.submit(aTask())
        const claimed = yield* q.claim()
        const other = claimed!.id === a.id ? b : a
        const e = yield* flip(q.addDependency(claimed!.id, { prerequisiteId: other.id }))
        expect(e._tag).toBe("InvalidTransition")
      })
    )
  })

  describe("cycles", () => {
    queueTest("self, two tasks, a long chain and through a diamond are rejected with the path", () =>
      Effect.gen(function* () {
        const q = yield* TaskQueue
        const a = yield* q.submit(aTask())
        const self = yield* flip(q.addDependency(a.id, { prerequisiteId: a.id }))
        expect(self).toMatchObject({ _tag: "DependencyCycle", cycle: [a.id, a.id] })

        const b = yield* q.submit(aTask({ dependsOn: [a.id] }))
        const two = yield* flip(q.addDependency(a.id, { prerequisiteId: b.id }))
        expect(two).toMatchObject({ _tag: "DependencyCycle", cycle: [a.id, b.id, a.id] })

        const { tasks } = yield* q.submitPlan(Plans.chain(8, "L"))
        const chain = ids(tasks, ...Array.from({ length: 8 }, (_, i) => `L${i}`))
        const long = yield* flip(q.addDependency(chain[0]!, { prerequisiteId: chain[7]! }))
        expect(long).toMatchObject({ _tag: "DependencyCycle", cycle: [chain[0], ...[...chain].reverse()] })

        const d = yield* q.submitPlan(Plans.diamond())
        const [top, , , bottom] = ids(d.tasks, "top", "left", "right", "bottom")
        const dia = yield* flip(q.addDependency(top!, { prerequisiteId: bottom! }))
        expect(dia._tag).toBe("DependencyCycle")
        const cycle = (dia as unknown as { cycle: Array<string> }).cycle
        expect(cycle[0]).toBe(top)
        expect(cycle[1]).toBe(bottom)
        expect(cycle[cycle.length - 1]).toBe(top)
        expect(cycle).toHaveLength(4)
      })
    )

    queueTest("a cycle inside a plan is rejected by keys, and nothing is written", () =>
      Effect.gen(function* () {
        const q = yield* TaskQueue
        const before = yield* databaseDump
        const e = yield* flip(
          q.submitPlan({
            tasks: [aNode("a", { dependsOn: ["c"] }), aNode("b", { dependsOn: ["a"] }), aNode("c", { dependsOn: ["b"] })]
          })
        )
        expect(e._tag).toBe("DependencyCycle")
        expect((e as unknown as { cycle: Array<string> }).cycle).toEqual(["a", "c", "b", "a"])
        expect(yield* databaseDump).toEqual(before)
      })
    )
  })

  describe("limits", () => {
    const small = { limits: { maxDependencies: 2, maxDepth: 2, maxSubtasks: 2 } }

    queueTest(
      "prerequisites per task",
      () =>
        Effect.gen(function* () {
          const q = yield* TaskQueue
          const xs = [yield* q.submit(aTask()), yield* q.submit(aTask()), yield* q.submit(aTask())]
          const e = yield* flip(q.submit(aTask({ dependsOn: xs.map((x) => x.id) })))
          expect(e).toMatchObject({ _tag: "LimitExceeded", limit: "dependencies", max: 2, actual: 3 })
          const ok = yield* q.submit(aTask({ dependsOn: [xs[0]!.id, xs[1]!.id] }))
          const e2 = yield* flip(q.addDependency(ok.id, { prerequisiteId: xs[2]!.id }))
          expect(e2).toMatchObject({ _tag: "LimitExceeded", limit: "dependencies" })
        }),
      small
    )

    queueTest(
      "dependency depth, on submit, in a plan and downstream of a new edge",
      () =>
        Effect.gen(function* () {
          const q = yield* TaskQueue
          const { tasks } = yield* q.submitPlan(Plans.chain(3))
          const e = yield* flip(q.submit(aTask({ dependsOn: [tasks["c2"]!.id] })))
          expect(e).toMatchObject({ _tag: "LimitExceeded", limit: "depth", max: 2, actual: 3 })
          const e2 = yield* flip(q.submitPlan(Plans.chain(4, "d")))
          expect(e2).toMatchObject({ _tag: "LimitExceeded", limit: "depth" })
          // a -> b (depth 1); adding b -> c0's chain end pushes b to 3
          const a = yield* q.submit(aTask())
          const b = yield* q.submit(aTask({ dependsOn: [a.id] }))
          const before = yield* databaseDump
          const e3 = yield* flip(q.addDependency(a.id, { prerequisiteId: tasks["c1"]!.id }))
          expect(e3).toMatchObject({ _tag: "LimitExceeded", limit: "depth", actual: 3 })
          expect(yield* databaseDump).toEqual(before)
          expect((yield* q.get(b.id)).dependencyDepth).toBe(1)
        }),
      small
    )

    queueTest(
      "direct subtasks per parent, counting nested plan children",
      () =>
        Effect.gen(function* () {
          const q = yield* TaskQueue
          const p = yield* q.submit(aTask())
          yield* q.submit(aTask({ parentTaskId: p.id }))
          yield* q.submit(aTask({ parentTaskId: p.id }))
          const e = yield* flip(q.submit(aTask({ parentTaskId: p.id })))
          expect(e).toMatchObject({ _tag: "LimitExceeded", limit: "subtasks", max: 2, actual: 3 })
          const e2 = yield* flip(q.submitPlan({ tasks: [aNode("p", { children: [aNode("x"), aNode("y"), aNode("z")] })] }))
          expect(e2).toMatchObject({ _tag: "LimitExceeded", limit: "subtasks", actual: 3 })
          const p2 = yield* q.submit(aTask())
          const e3 = yield* flip(
            q.submitPlan({ tasks: [aNode("x", { parentTaskId: p2.id }), aNode("y", { parentTaskId: p2.id }), aNode("z", { parentTaskId: p2.id })] })
          )
          expect(e3).toMatchObject({ _tag: "LimitExceeded", limit: "subtasks" })
        }),
      small
    )

    it.effect("unlimited (Infinity) lets a 60-deep chain and 60 subtasks through", () =>
      Effect.gen(function* () {
        const q = yield* TaskQueue
        const { tasks } = yield* q.submitPlan(Plans.chain(60))
        expect(tasks["c59"]!.dependencyDepth).toBe(59)
        const p = yield* q.submitPlan({ tasks: [aNode("p", { children: Array.from({ length: 60 }, (_, i) => aNode(`k${i}`)) })] })
        expect((yield* q.get(p.tasks["p"]!.id)).children).toHaveLength(60)
      }).pipe(Effect.provide(testQueue({ limits: { maxDependencies: Infinity, maxDepth: Infinity, maxSubtasks: Infinity } })))
    )
  })

  describe("failure, cancellation and retry", () => {
    queueTest("a failed attempt retries while retries remain, then fails and cancels dependents transitively", () =>
      Effect.gen(function* () {
        const q = yield* TaskQueue
        const a = yield* q.submit(aTask({ maxRetries: 1 }))
        const done = yield* q.submit(aTask())
        const b = yield* q.submit(aTask({ dependsOn: [a.id, done.id] }))
        const c = yield* q.submit(aTask({ dependsOn: [b.id] }))
        yield* run(done.id)
        const c1 = yield* q.claim()
        expect(c1!.id).toBe(a.id)
        const r1 = yield* q.fail(a.id, { error: "flaky", leaseToken: c1!.leaseToken })
        expect(r1).toMatchObject({ retried: true, cancelled: [] })
        expect(r1.task).toMatchObject({ status: "ready", retryCount: 1, errorMessage: "flaky" })
        // The retry waits for its backoff: 5 s x 2^0 x jitter (0.5..1.0), out of reach of claims until then.
        const wait = Date.parse(r1.task.notBefore!) - Date.parse(c1!.startedAt!)
        expect(wait).toBeGreaterThanOrEqual(2500)
        expect(wait).toBeLessThanOrEqual(5000)
        expect(yield* q.claim()).toBeNull()
        expect(yield* q.nextNotBefore()).toBe(r1.task.notBefore)
        yield* TestClock.adjust("5 seconds")
        const c2 = yield* q.claim()
        expect(c2!.id).toBe(a.id)
        const r2 = yield* q.fail(a.id, { error: "broken", leaseToken: c2!.leaseToken })
        expect(r2.retried).toBe(false)
        expect(r2.task.status).toBe("failed")
        expect(r2.cancelled.sort()).toEqual([b.id, c.id].sort())
        expect((yield* q.get(c.id)).errorMessage).toContain(a.id)
        expect(yield* statuses([done.id])).toEqual(["completed"])
      })
    )

    queueTest("cancel cascades to dependents and to subtasks below, and a RUNNING task may be cancelled", () =>
      Effect.gen(function* () {
        const q = yield* TaskQueue
        const { tasks } = yield* q.submitPlan({
          tasks: [aNode("parent", { children: [aNode("kid", { children: [aNode("grandkid")] })] }), aNode("after", { dependsOn: ["kid"] })]
        })
        const [parent, kid, grandkid, after] = ids(tasks, "parent", "kid", "grandkid", "after")
        const r = yield* q.cancel(parent!)
        expect(r.task.status).toBe("cancelled")
        expect(r.cancelled.sort()).toEqual([kid!, grandkid!, after!].sort())
        const e = yield* flip(q.cancel(parent!))
        expect(e._tag).toBe("InvalidTransition")

        const x = yield* q.submit(aTask())
        const claimed = yield* q.claim()
        expect(claimed!.id).toBe(x.id)
        yield* q.cancel(x.id)
        const late = yield* flip(q.complete(x.id, { leaseToken: claimed!.leaseToken }))
        expect(late._tag).toBe("InvalidTransition")
      })
    )

    queueTest("retry brings a FAILED task back and revives the dependents its failure cancelled", () =>
      Effect.gen(function* () {
        const q = yield* TaskQueue
        const a = yield* q.submit(aTask({ maxRetries: 0 }))
        const other = yield* q.submit(aTask({ maxRetries: 0 }))
        const b = yield* q.submit(aTask({ dependsOn: [a.id] }))
        const c = yield* q.submit(aTask({ dependsOn: [b.id] }))
        const doomed = yield* q.submit(aTask({ dependsOn: [a.id, other.id] }))
        const ca = yield* q.claim()
        const first = ca!.id === a.id ? ca! : null
        if (first === null) yield* q.release(ca!.id, { leaseToken: ca!.leaseToken })
        // fail `other` for good first, then `a`
        const x = yield* q.claim({ agentType: "general" })
        const failOther = x!.id === other.id ? x! : (yield* q.claim())!
        yield* q.fail(other.id, { error: "no", leaseToken: failOther.leaseToken })
        const ya = (yield* q.get(a.id)).status === "running" ? (first ?? x!) : (yield* q.claim())!
        expect(ya.id).toBe(a.id)
        const failed = yield* q.fail(a.id, { error: "boom", leaseToken: ya.leaseToken })
        expect(failed.cancelled.sort()).toEqual([b.id, c.id].sort())
        const r = yield* q.retry(a.id)
        expect(r.task).toMatchObject({ status: "ready", retryCount: 0, errorMessage: null })
        expect(r.revived.sort()).toEqual([b.id, c.id].sort())
        expect(yield* statuses([b.id, c.id, doomed.id])).toEqual(["blocked", "blocked", "cancelled"])
        const e = yield* flip(q.retry(b.id))
        expect(e._tag).toBe("InvalidTransition")
      })
    )
  })

  describe("claims and leases", () => {
    queueTest("claims take the highest priority first, ties oldest first, and filter by agent type", () =>
      Effect.gen(function* () {
        const q = yield* TaskQueue
        const low = yield* q.submit(aTask({ priority: 1 }))
        const high1 = yield* q.submit(aTask({ priority: 9 }))
        const high2 = yield* q.submit(aTask({ priority: 9 }))
        const coder = yield* q.submit(aTask({ priority: 0, agentType: "coder" }))
        expect((yield* q.claim())!.id).toBe(high1.id)
        expect((yield* q.claim())!.id).toBe(high2.id)
        expect((yield* q.claim({ agentType: "coder" }))!.id).toBe(coder.id)
        expect(yield* q.claim({ agentType: "coder" })).toBeNull()
        const last = yield* q.claim({ worker: "w1", leaseSeconds: 30 })
        expect(last).toMatchObject({ id: low.id, status: "running" })
        expect(last!.leaseToken).toMatch(/^[0-9a-f-]{36}$/)
        expect(Date.parse(last!.leaseExpiresAt) - Date.parse(last!.startedAt!)).toBe(30_000)
      })
    )

    queueTest(
      "an expired lease is a stall: back to READY without spending a retry; past the bound FAILED; a stale token is refused",
      () =>
        Effect.gen(function* () {
          const q = yield* TaskQueue
          const t = yield* q.submit(aTask({ maxRetries: 1 }))
          const after = yield* q.submit(aTask({ dependsOn: [t.id] }))
          const first = yield* q.claim({ leaseSeconds: 10 })
          yield* TestClock.adjust("5 seconds")
          const beat = yield* q.heartbeat(t.id, { leaseToken: first!.leaseToken, leaseSeconds: 10 })
          expect(Date.parse(beat.leaseExpiresAt)).toBe(15_000)
          yield* TestClock.adjust("11 seconds")
          expect(yield* q.recover()).toEqual({ recovered: [t.id] })
          expect(yield* q.get(t.id)).toMatchObject({ status: "ready", retryCount: 0, stallCount: 1 })
          const second = yield* q.claim({ leaseSeconds: 10 })
          expect(second!.leaseToken).not.toBe(first!.leaseToken)
          const stale = yield* flip(q.complete(t.id, { leaseToken: first!.leaseToken }))
          expect(stale._tag).toBe("LeaseMismatch")
          const staleBeat = yield* flip(q.heartbeat(t.id, { leaseToken: first!.leaseToken }))
          expect(staleBeat._tag).toBe("LeaseMismatch")
          // Past ABATHUR_MAX_STALLS (1 here): the next expiry fails the task for good (recovered by the
          // claim itself), with an error that says why, and cancels its dependents.
          yield* TestClock.adjust("11 seconds")
          expect(yield* q.claim()).toBeNull()
          const failed = yield* q.get(t.id)
          expect(failed).toMatchObject({ status: "failed", retryCount: 0, stallCount: 2 })
          expect(failed.errorMessage).toContain("workers kept stopping")
          expect(yield* statuses([after.id])).toEqual(["cancelled"])
        }),
      { scheduling: { ...defaultQueueSettings.scheduling, maxStalls: 1 } }
    )

    queueTest("completing a BLOCKED task is InvalidTransition; without a token only an operator's force completes", () =>
      Effect.gen(function* () {
        const q = yield* TaskQueue
        const a = yield* q.submit(aTask())
        const b = yield* q.submit(aTask({ dependsOn: [a.id] }))
        const e = yield* flip(q.complete(b.id))
        expect(e).toMatchObject({ _tag: "InvalidTransition", status: "blocked" })
        yield* q.claim({ worker: "coder-1" })
        // A RUNNING task is its worker's: no token, no force, refused and nothing changed.
        const refused = yield* flip(q.complete(a.id, { result: { ok: true } }))
        expect(refused).toMatchObject({ _tag: "LeaseMismatch", taskId: a.id })
        expect(refused.message).toMatch(/coder-1/)
        expect(refused.message).toMatch(/--force/)
        const failRefused = yield* flip(q.fail(a.id, { error: "no" }))
        expect(failRefused).toMatchObject({ _tag: "LeaseMismatch", taskId: a.id })
        expect((yield* q.get(a.id)).status).toBe("running")
        const r = yield* q.complete(a.id, { result: { ok: true }, force: true })
        expect(r.task).toMatchObject({ status: "completed", resultData: { ok: true } })
        expect(r.unblocked).toEqual([b.id])
        expect(r).not.toHaveProperty("next")
      })
    )

    queueTest("task ids are v4 UUIDs time-ordered by their first digits, which tell tasks apart; a plan's rows and edges are all written", () =>
      Effect.gen(function* () {
        const q = yield* TaskQueue
        const one = yield* q.submit(aTask())
        const { tasks } = yield* q.submitPlan({
          tasks: Array.from({ length: 150 }, (_, i) => aNode(`k${i}`, i % 10 > 0 ? { dependsOn: [`k${i - 1}`] } : {}))
        })
        const two = yield* q.submit(aTask())
        const ids = [one.id, ...Array.from({ length: 150 }, (_, i) => tasks[`k${i}`]!.id), two.id]
        for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
        expect(new Set(ids).size).toBe(ids.length)
        // Short ids work: tasks submitted in the same instant differ in their first 8 hex digits.
        expect(new Set(ids.map((id) => id.slice(0, 8))).size).toBe(ids.length)
        // And they follow submission order (new rows land together in every index keyed by task
        // id); the microsecond clock in those digits may wrap once.
        const descents = ids.slice(1).filter((id, i) => id < ids[i]!).length
        expect(descents).toBeLessThanOrEqual(1)
        if (descents === 0) expect([...ids].sort()).toEqual(ids)
        // Every row and edge of the plan is there (set-based inserts, several rows per statement).
        expect((yield* q.get(tasks["k149"]!.id)).prerequisites.map((p) => p.taskId)).toEqual([tasks["k148"]!.id])
        expect((yield* q.list({})).length).toBe(152)
      })
    )

    queueTest("fail with force retries a RUNNING task without its token", () =>
      Effect.gen(function* () {
        const q = yield* TaskQueue
        const a = yield* q.submit(aTask())
        yield* q.claim()
        const r = yield* q.fail(a.id, { error: "stuck", force: true })
        expect(r).toMatchObject({ retried: true, task: { status: "ready", retryCount: 1 } })
      })
    )

    queueTest("claimMany claims up to the limit best first in one transaction; [] when none is ready", () =>
      Effect.gen(function* () {
        const q = yield* TaskQueue
        const low = yield* q.submit(aTask({ priority: 1 }))
        const high = yield* q.submit(aTask({ priority: 9 }))
        const mid = yield* q.submit(aTask({ priority: 5 }))
        const two = yield* q.claimMany({ worker: "w", limit: 2 })
        expect(two.map((t) => t.id)).toEqual([high.id, mid.id])
        for (const t of two) {
          expect(t.status).toBe("running")
          expect(t.leaseToken).toMatch(/^[0-9a-f-]{36}$/)
        }
        expect(new Set(two.map((t) => t.leaseToken)).size).toBe(2)
        const rest = yield* q.claimMany({ worker: "w", limit: 100 })
        expect(rest.map((t) => t.id)).toEqual([low.id])
        expect(yield* q.claimMany({ limit: 5 })).toEqual([])
        for (const bad of [0, 101, 1.5, "3"]) {
          const e = yield* flip(q.claimMany({ limit: bad } as unknown))
          expect(e._tag).toBe("ValidationError")
          expect(e.message).toMatch(/limit/)
        }
      })
    )

    queueTest("complete with next claims the next task in the same transaction; next is null when none is ready", () =>
      Effect.gen(function* () {
        const q = yield* TaskQueue
        const a = yield* q.submit(aTask({ priority: 9 }))
        const b = yield* q.submit(aTask({ dependsOn: [a.id], priority: 1 }))
        const other = yield* q.submit(aTask({ priority: 0, agentType: "reviewer" }))
        const c = yield* q.claim({ worker: "w" })
        expect(c!.id).toBe(a.id)
        // The completion unblocks b, and the same transaction claims it (the reviewer task is filtered out).
        const r = yield* q.complete(a.id, { leaseToken: c!.leaseToken, next: { worker: "w2", leaseSeconds: 60, agentType: "general" } })
        expect(r.task.status).toBe("completed")
        expect(r.unblocked).toEqual([b.id])
        expect(r.next).toMatchObject({ id: b.id, status: "running" })
        expect(r.next!.leaseToken).toMatch(/^[0-9a-f-]{36}$/)
        expect(Date.parse(r.next!.leaseExpiresAt) - Date.parse(r.next!.startedAt!)).toBe(60_000)
        const r2 = yield* q.complete(b.id, { leaseToken: r.next!.leaseToken, next: { agentType: "general" } })
        expect(r2.next).toBeNull()
        expect((yield* q.get(other.id)).status).toBe("ready")
        // A refused completion claims nothing either.
        const d = yield* q.claim()
        const e = yield* flip(q.complete(d!.id, { leaseToken: "3f2b8c1e-9d4a-4f6b-8e2a-1c5d7e9f0a2b", next: {} }))
        expect(e._tag).toBe("LeaseMismatch")
        expect((yield* q.get(d!.id)).status).toBe("running")
        const bad = yield* flip(q.complete(d!.id, { leaseToken: d!.leaseToken, next: { leaseSeconds: 0 } }))
        expect(bad._tag).toBe("ValidationError")
        expect((yield* q.get(d!.id)).status).toBe("running")
      })
    )

    queueTest("release gives a task back without spending a retry", () =>
      Effect.gen(function* () {
        const q = yield* TaskQueue
        const t = yield* q.submit(aTask())
        const c = yield* q.claim()
        const r = yield* q.release(t.id, { leaseToken: c!.leaseToken })
        expect(r).toMatchObject({ status: "ready", retryCount: 0 })
      })
    )
  })

  describe("read side", () => {
    queueTest("detail, list, status, plan, tree and graph", () =>
      Effect.gen(function* () {
        const q = yield* TaskQueue
        const { tasks } = yield* q.submitPlan({
          tasks: [
            aNode("epic", { priority: 8, children: [aNode("design"), aNode("build", { dependsOn: ["design"] })] }),
            aNode("ship", { dependsOn: ["build"], source: "agent_implementation" })
          ]
        })
        const [epic, design, build, ship] = ids(tasks, "epic", "design", "build", "ship")
        const d = yield* q.get(design!)
        expect(d.dependents.map((x) => x.taskId)).toEqual([build])
        expect(d.parentTaskId).toBe(epic)
        // A nested node is an agent's subtask unless it says otherwise: source agent_planner (50).
        expect(d.source).toBe("agent_planner")
        expect(d.priorityBreakdown).toMatchObject({ base: 50, urgency: 0, source: 50 })
        expect(d.priorityBreakdown.dependency).toBeCloseTo((100 / 3) * Math.log10(2), 6)
        expect((yield* q.get(epic!)).children).toEqual([design, build])

        const listed = yield* q.list()
        expect(listed[0]!.id).toBe(epic)
        for (let i = 1; i < listed.length; i++) {
          expect(listed[i - 1]!.calculatedPriority).toBeGreaterThanOrEqual(listed[i]!.calculatedPriority)
        }
        expect((yield* q.list({ status: ["blocked"] })).map((t) => t.id).sort()).toEqual([build!, ship!].sort())
        expect((yield* q.list({ excludeStatus: ["blocked"], limit: 1 })).map((t) => t.id)).toEqual([epic])
        expect((yield* q.list({ source: "agent_implementation" })).map((t) => t.id)).toEqual([ship])
        expect((yield* q.list({ parentTaskId: epic })).length).toBe(2)
        const bad = yield* flip(q.list({ status: ["bogus"] }))
        expect(bad._tag).toBe("ValidationError")

        const s = yield* q.status()
        expect(s).toMatchObject({ total: 4, maxDepth: 2, oldestWaitingAt: "1970-01-01T00:00:00.000Z" })
        expect(s.byStatus).toEqual({ pending: 0, blocked: 2, ready: 2, running: 0, completed: 0, failed: 0, cancelled: 0 })
        expect(s.avgPriority).toBeGreaterThan(0)

        const plan = yield* q.executionPlan()
        expect(plan.batches).toEqual([[epic, design], [build], [ship]])
        expect(plan).toMatchObject({ totalBatches: 3, maxParallelism: 2 })
        expect((yield* q.executionPlan({ taskIds: [build!] })).batches).toEqual([[design], [build]])

        const forest = yield* q.tree()
        expect(Array.isArray(forest)).toBe(true)
        const one = (yield* q.tree(epic)) as unknown as { task: { id: string }; children: Array<{ task: { id: string } }> }
        expect(one.children.map((c) => c.task.id)).toEqual([design, build])

        const mermaid = yield* q.graph(undefined, "mermaid")
        expect(mermaid.text).toMatch(/^flowchart TD/)
        expect(mermaid.text).toContain(`t${design!.replaceAll("-", "")} -.-> t${build!.replaceAll("-", "")}`)
        // One task's connected part follows dependencies and the hierarchy; subtask links are dashed and grey.
        expect(mermaid.text).toContain(`t${epic!.replaceAll("-", "")} -.-> t${design!.replaceAll("-", "")}`)
        expect(mermaid.text).toMatch(/linkStyle \d+(,\d+)* stroke:#999/)
        const dot = yield* q.graph(ship, "dot")
        expect(dot.text).toContain(`"${build}" -> "${ship}" [style=dashed];`)
        expect(dot.text).toContain(`"${epic}" -> "${build}" [style=dashed, color="#999999", arrowhead=odot];`)
        const alone = yield* q.submit(aTask())
        expect((yield* q.graph(ship, "dot")).text).not.toContain(alone.id)
        const badFormat = yield* flip(q.graph(undefined, "svg" as string))
        expect(badFormat._tag).toBe("ValidationError")
      })
    )

    queueTest("prune deletes old terminal tasks that nothing kept references", () =>
      Effect.gen(function* () {
        const q = yield* TaskQueue
        const { tasks } = yield* q.submitPlan({
          tasks: [aNode("old"), aNode("parent", { children: [aNode("kid")] }), aNode("dep", { dependsOn: ["old"] })]
        })
        const [old, parent, kid, dep] = ids(tasks, "old", "parent", "kid", "dep")
        yield* run(old!)
        yield* q.cancel(parent!) // cancels kid too
        yield* TestClock.adjust("2 days")
        // `old` is referenced by the open `dep`, so it stays; parent and kid go together
        const dry = yield* q.prune({ olderThan: "1d", dryRun: true })
        expect(dry.ids.sort()).toEqual([parent!, kid!].sort())
        expect((yield* q.status()).total).toBe(4)
        const none = yield* q.prune({ olderThan: "30d" })
        expect(none.deleted).toBe(0)
        const r = yield* q.prune({ olderThan: "1d" })
        expect(r.deleted).toBe(2)
        expect((yield* q.status()).total).toBe(2)
        yield* run(dep!)
        yield* TestClock.adjust("2 days")
        expect((yield* q.prune({ olderThan: "1d", status: ["completed"] })).deleted).toBe(2)
        const bad = yield* flip(q.prune({ status: ["ready"] }))
        expect(bad._tag).toBe("ValidationError")
      })
    )
  })
}
