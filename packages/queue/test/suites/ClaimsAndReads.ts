import { calculatePriority } from "@abathur/domain"
import { aNode, aTask } from "@abathur/testing"
import { describe, expect } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import { defaultQueueSettings } from "../../src/QueueConfig.js"
import { TaskQueue } from "../../src/TaskQueue.js"
import { flip, statuses, type StoreUnderTest, suiteOver } from "../StoreUnderTest.js"
import { ids, run } from "./ScenarioSteps.js"

/** The queue's scenarios of claims and leases and of the read side, over a store (run by Scenarios.ts). */
export const claimsAndReads = (store: StoreUnderTest) => {
  const { queueTest } = suiteOver(store)

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

    queueTest("after hours idle (every task past the starvation horizon at once), claims still come best first, ties oldest first", () =>
      Effect.gen(function* () {
        const q = yield* TaskQueue
        const sources = ["human", "agent_requirements", "agent_planner", "agent_implementation"] as const
        // Three plans 20 minutes apart (their waits differ), some tasks with a far deadline.
        for (let batch = 0; batch < 3; batch++) {
          yield* q.submitPlan({
            tasks: Array.from({ length: 40 }, (_, i) =>
              aNode(`b${batch}t${i}`, {
                priority: (i * 7 + batch) % 11,
                source: sources[(i + batch) % 4]!,
                ...(i % 9 === 0 && { deadline: new Date(Date.UTC(1970, 0, 3) + i * 60_000).toISOString(), estimatedDurationSeconds: 600 })
              })
            )
          })
          yield* TestClock.adjust("20 minutes")
        }
        // Nobody claims for three hours: every task crosses the horizon before the next claim.
        yield* TestClock.adjust("3 hours")
        const now = Date.UTC(1970, 0, 1) + 3 * 20 * 60_000 + 3 * 3_600_000
        const p = defaultQueueSettings.priority
        const claimed: Array<{ score: number; truth: number; submittedAt: string; deadline: boolean }> = []
        for (;;) {
          const c = yield* q.claim()
          if (c === null) break
          const truth = calculatePriority(
            {
              priority: c.priority,
              source: c.source,
              deadline: c.deadline === null ? null : Date.parse(c.deadline),
              estimatedDurationSeconds: c.estimatedDurationSeconds,
              openDependents: 0,
              waitingSince: Date.parse(c.submittedAt)
            },
            now,
            p
          )
          claimed.push({ score: c.calculatedPriority, truth, submittedAt: c.submittedAt, deadline: c.deadline !== null })
        }
        expect(claimed).toHaveLength(120)
        for (const [i, c] of claimed.entries()) {
          // Each at its true score (capped starvation; a deadline's urgency within the refresh step).
          expect(Math.abs(c.score - c.truth), `claim ${i}`).toBeLessThanOrEqual(c.deadline ? 0.5 : 1e-6)
          const next = claimed[i + 1]
          if (next === undefined) continue
          // Best first; among equal scores, the older first.
          expect(c.score, `claim ${i}`).toBeGreaterThanOrEqual(next.score)
          if (c.score === next.score) expect(c.submittedAt <= next.submittedAt, `claim ${i}`).toBe(true)
        }
      })
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
