/**
 * The freshness bound of DESIGN.md section 4: urgency and starvation move with time, so a stored
 * score goes stale; the engine stores with each waiting task the instant its score will have
 * risen by `refreshStep` (0.5 point), and every claim first refreshes the tasks whose instant has
 * come (through idx_tasks_priority_refresh), then takes the best through idx_tasks_ready_priority.
 * So at every claim each READY task's stored score is within 1 point of the formula at that
 * instant, and the claimed task is never more than 2 points below the true best READY task.
 */
import { formatTimestamp, type TaskSource } from "@abathur/domain"
import { Database, TaskRepository } from "@abathur/storage"
import { mulberry32 } from "@abathur/testing"
import { describe, expect, it } from "@effect/vitest"
import { Clock, Duration, Effect, TestClock } from "effect"
import { vi } from "vitest"
import { defaultQueueSettings } from "../src/QueueConfig.js"
import { TaskQueue } from "../src/TaskQueue.js"
import { checkInvariants, formulaOf, taskRows, waitingRows } from "./Invariants.js"
import { testQueue } from "./TestQueue.js"

const SOURCES: ReadonlyArray<TaskSource> = ["human", "agent_requirements", "agent_planner", "agent_implementation"]
const STEPS_MS = [1_000, 7_000, 45_000, 120_000, 600_000, 1_800_000, 3_600_000, 7_200_000, 5 * 3_600_000]

/** The stored score and the formula's value now, for every waiting task. */
const scores = Effect.gen(function* () {
  const { db } = yield* Database
  const repo = yield* TaskRepository
  const now = yield* Clock.currentTimeMillis
  return waitingRows(db).map((r) => ({
    id: r.id,
    status: r.status,
    stored: r.calculated_priority,
    truth: formulaOf(r, repo.countOpenDependents(r.id), now, defaultQueueSettings)
  }))
})

describe("the freshness bound", () => {
  it.effect("at every claim, stored scores are within 1 point of the formula and the claim within 2 of the true best", () =>
    Effect.gen(function* () {
      const q = yield* TaskQueue
      const rand = mulberry32(20260131)
      const int = (n: number) => Math.floor(rand() * n)
      const ready: Array<string> = []

      /** A task with a random priority, source and deadline (none, past, near, far), and estimate. */
      const submitOne = Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const kind = int(5)
        const deadline =
          kind === 0
            ? null
            : kind === 1
              ? now - int(6 * 3_600_000) // already past
              : kind === 2
                ? now + int(3 * 3_600_000) // near: urgency is rising fast
                : kind === 3
                  ? now + 86_400_000 + int(5 * 86_400_000) // far
                  : now + int(12 * 3_600_000)
        // Sometimes the new task waits on a READY one, which raises that one's dependency factor.
        const dependsOn = ready.length > 0 && int(6) === 0 ? [ready[int(ready.length)]!] : []
        const t = yield* q.submit({
          prompt: `work item ${int(1e9)}`,
          priority: int(11),
          source: SOURCES[int(SOURCES.length)]!,
          dependsOn,
          ...(deadline !== null && { deadline: formatTimestamp(deadline) }),
          ...(int(3) === 0 && { estimatedDurationSeconds: int(4 * 3600) })
        })
        if (t.status === "ready") ready.push(t.id)
      })

      // 300 tasks submitted over a few hours, so their waiting times differ.
      for (let i = 0; i < 300; i++) {
        if (i % 25 === 0) yield* TestClock.adjust(Duration.millis(int(40 * 60_000)))
        yield* submitOne
      }

      let claims = 0
      let worstBeforeClaim = 0
      let worstAtClaim = 0
      let worstGapToBest = 0
      for (let round = 0; round < 200; round++) {
        yield* TestClock.adjust(Duration.millis(STEPS_MS[int(STEPS_MS.length)]! + int(1000)))
        if (round % 4 === 0) {
          for (const s of yield* scores) worstBeforeClaim = Math.max(worstBeforeClaim, Math.abs(s.truth - s.stored))
        }

        const c = yield* q.claim({ worker: "w" })
        expect(c).not.toBeNull()
        claims++
        // Every READY task (what a claim compares) is within 1 point now.
        const now = yield* Clock.currentTimeMillis
        const waiting = yield* scores
        const readyNow = waiting.filter((s) => s.status === "ready")
        for (const s of readyNow) {
          worstAtClaim = Math.max(worstAtClaim, Math.abs(s.truth - s.stored))
          expect(Math.abs(s.truth - s.stored), `task ${s.id} after claim ${round}`).toBeLessThanOrEqual(1)
        }
        // And every other invariant, now and then (the property test checks them at every step).
        if (round % 20 === 0) yield* checkInvariants({ freshness: true, context: `after claim ${round}` })
        // The claimed task against the true best READY task at this instant.
        const { db } = yield* Database
        const repo = yield* TaskRepository
        const row = taskRows(db).find((r) => r.id === c!.id)!
        const mine = formulaOf(row, repo.countOpenDependents(row.id), now, defaultQueueSettings)
        expect(Math.abs(mine - row.calculated_priority)).toBeLessThanOrEqual(1)
        const best = Math.max(mine, ...readyNow.map((s) => s.truth))
        worstGapToBest = Math.max(worstGapToBest, best - mine)
        expect(mine).toBeGreaterThanOrEqual(best - 2)

        // Finish most claims, give some back, and keep new work coming.
        if (int(4) === 0) yield* q.release(c!.id, { leaseToken: c!.leaseToken })
        else {
          const r = yield* q.complete(c!.id, { leaseToken: c!.leaseToken })
          ready.push(...r.unblocked)
        }
        if (round % 10 === 0) for (let i = 0; i < 8; i++) yield* submitOne
      }
      expect(claims).toBe(200)
      expect(worstAtClaim).toBeLessThanOrEqual(1)
      expect(worstGapToBest).toBeLessThanOrEqual(2)
      // Without the refresh the bound would not hold: scores did go stale between claims.
      expect(worstBeforeClaim).toBeGreaterThan(1)
    }).pipe(Effect.provide(testQueue())), { timeout: 60_000 })

  it.effect("a refresh touches only the tasks whose time has come", () =>
    Effect.gen(function* () {
      const q = yield* TaskQueue
      for (let i = 0; i < 50; i++) yield* q.submit({ prompt: `t${i}`, priority: i % 11 })
      // Starvation rises for all of them at once: after a while every one is due.
      yield* TestClock.adjust(Duration.minutes(10))
      expect(yield* q.refreshPriorities()).toBe(50)
      // At the same instant nothing is due any more; a moment later still nothing.
      expect(yield* q.refreshPriorities()).toBe(0)
      yield* TestClock.adjust(Duration.seconds(1))
      expect(yield* q.refreshPriorities()).toBe(0)
      yield* checkInvariants({ freshness: true })
      // Once the horizon has passed, starvation is constant and nothing is ever due again.
      yield* TestClock.adjust(Duration.hours(2))
      expect(yield* q.refreshPriorities()).toBe(50)
      yield* TestClock.adjust(Duration.hours(5))
      expect(yield* q.refreshPriorities()).toBe(0)
      yield* checkInvariants({ freshness: true })
    }).pipe(Effect.provide(testQueue())))
})

describe("the claim does not scan", () => {
  it.effect("after the refresh, the claim query walks idx_tasks_ready_priority (and the refresh its own index)", () =>
    Effect.gen(function* () {
      const q = yield* TaskQueue
      const { db } = yield* Database
      const repo = yield* TaskRepository
      for (let i = 0; i < 500; i++) {
        yield* q.submit({ prompt: `t${i}`, priority: i % 11, ...(i % 10 === 0 && { deadline: formatTimestamp(86_400_000 + i * 60_000) }) })
      }
      yield* TestClock.adjust(Duration.minutes(30))
      // Record the SQL a claim prepares (the repository prepares each statement on first use).
      const spy = vi.spyOn(db, "prepare")
      const claimed = yield* q.claim({ worker: "w" })
      yield* q.claim({ worker: "w", agentType: "general" })
      const statements = spy.mock.calls.map((c) => String(c[0]))
      spy.mockRestore()
      expect(claimed).not.toBeNull()

      const plan = (sql: string) => {
        const params = [...sql.matchAll(/\?/g)].map(() => (sql.includes("agent_type = ?") ? "general" : formatTimestamp(0)))
        return repo.explainQueryPlan(sql, params).join("\n")
      }
      const pick = (test: (sql: string) => boolean, what: string) => {
        const found = statements.find(test)
        expect(found, `${what} among ${JSON.stringify(statements)}`).toBeDefined()
        return found!
      }
      const next = pick((s) => /status = 'ready'/.test(s) && /ORDER BY calculated_priority DESC/.test(s) && !/agent_type/.test(s), "the claim query")
      const nextPlan = plan(next)
      expect(nextPlan).toContain("idx_tasks_ready_priority")
      expect(nextPlan).not.toMatch(/TEMP B-TREE/)
      const typed = pick((s) => /status = 'ready'/.test(s) && /agent_type = \?/.test(s), "the typed claim query")
      const typedPlan = plan(typed)
      expect(typedPlan).toContain("idx_tasks_ready_agent_priority")
      expect(typedPlan).not.toMatch(/TEMP B-TREE/)
      const due = pick((s) => /priority_refresh_at <= \?/.test(s), "the refresh query")
      expect(plan(due)).toMatch(/SEARCH tasks USING INDEX idx_tasks_priority_refresh/)
      const leases = pick((s) => /lease_expires_at <= \?/.test(s), "the lease recovery query")
      expect(plan(leases)).toMatch(/idx_tasks_lease_expiry/)
    }).pipe(Effect.provide(testQueue())))
})
