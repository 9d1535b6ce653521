/**
 * The freshness bound of DESIGN.md section 4: urgency and starvation move with time. Starvation
 * rises at the same rate for every task short of the horizon, so each waiting task stores a
 * rank (its score less that shared growth) that keeps its place as time passes, and tasks past
 * the horizon rank by their constant score. What still moves is urgency, and the moment a task
 * crosses the horizon: the engine stores the instant urgency will have risen by `refreshStep`
 * (0.5 point) or the task crosses the horizon, and every claim first refreshes the tasks whose
 * instant has come (through idx_tasks_priority_refresh), then compares the heads of the two
 * classes (through idx_tasks_ready_rank). So at every claim each READY task's ranked score is
 * within 1 point of the formula at that instant, and the claimed task is never more than 2
 * points below the true best READY task.
 */
import { formatTimestamp, type TaskSource } from "@abathur/domain"
import { Database, TaskRepository } from "@abathur/storage"
import { mulberry32 } from "@abathur/testing"
import { describe, expect } from "@effect/vitest"
import { Clock, Duration, Effect, TestClock } from "effect"
import { vi } from "vitest"
import { defaultQueueSettings } from "../src/QueueConfig.js"
import { TaskQueue } from "../src/TaskQueue.js"
import { checkInvariants, formulaOf, rankedOf, taskRows, waitingRows } from "./Invariants.js"
import { queueTest } from "./TestQueue.js"

const SOURCES: ReadonlyArray<TaskSource> = ["human", "agent_requirements", "agent_planner", "agent_implementation"]
const STEPS_MS = [1_000, 7_000, 45_000, 120_000, 600_000, 1_800_000, 3_600_000, 7_200_000, 5 * 3_600_000]

/** The ranked score (what claims compare) and the formula's value now, for every waiting task. */
const scores = Effect.gen(function* () {
  const { db } = yield* Database
  const repo = yield* TaskRepository
  const now = yield* Clock.currentTimeMillis
  return waitingRows(db).map((r) => ({
    id: r.id,
    status: r.status,
    stored: rankedOf(r, now, defaultQueueSettings)!,
    truth: formulaOf(r, repo.countOpenDependents(r.id), now, defaultQueueSettings)
  }))
})

/**
 * Fifteen claims 20 seconds apart, each released at once, with the invariants (freshness within
 * `tolerance`) checked after each: how many tasks each claim moved into the starved class.
 */
const claimEvery20Seconds = (starved: () => number, tolerance?: number) =>
  Effect.gen(function* () {
    const q = yield* TaskQueue
    const crossed: Array<number> = []
    let before = starved()
    for (let i = 0; i < 15; i++) {
      yield* TestClock.adjust(Duration.seconds(20))
      const c = yield* q.claim({ worker: "w" })
      yield* q.release(c!.id, { leaseToken: c!.leaseToken })
      const now = starved()
      crossed.push(now - before)
      before = now
      yield* checkInvariants({ freshness: true, ...(tolerance !== undefined && { tolerance }) })
    }
    return { crossed, starvedAtEnd: before }
  })

describe("the freshness bound", () => {
  queueTest(
    "at every claim, stored scores are within 1 point of the formula and the claim within 2 of the true best",
    () =>
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
          expect(Math.abs(mine - c!.calculatedPriority)).toBeLessThanOrEqual(1)
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
      }),
    {},
    { timeout: 60_000 }
  )

  queueTest("an `ignore` edge that opens again when its dependent goes back to waiting re-ranks the prerequisite", () =>
    Effect.gen(function* () {
      const q = yield* TaskQueue
      const p = yield* q.submit({ prompt: "prerequisite", maxRetries: 0 })
      const d = yield* q.submit({ prompt: "dependent", dependsOn: [{ id: p.id, onFailure: "ignore" }] })
      const first = yield* q.claim({ worker: "w" })
      expect(first!.id).toBe(p.id)
      // P fails: the `ignore` edge resolves and D runs; then P is retried while D runs.
      yield* q.fail(p.id, { leaseToken: first!.leaseToken, error: "broke" })
      const running = yield* q.claim({ worker: "w" })
      expect(running!.id).toBe(d.id)
      yield* q.retry(p.id)
      const before = (yield* scores).find((s) => s.id === p.id)!
      // D goes back to waiting: P's subtree is open again, so D waits for P and P has an open dependent.
      yield* q.release(d.id, { leaseToken: running!.leaseToken })
      expect((yield* q.get(d.id)).status).toBe("blocked")
      const after = (yield* scores).find((s) => s.id === p.id)!
      expect(after.truth).toBeGreaterThan(before.truth)
      expect(Math.abs(after.stored - after.truth)).toBeLessThanOrEqual(1)
      yield* checkInvariants({ freshness: true })
    })
  )

  queueTest("a task without a deadline is refreshed once while it waits: when it crosses the starvation horizon", () =>
    Effect.gen(function* () {
      const q = yield* TaskQueue
      for (let i = 0; i < 50; i++) yield* q.submit({ prompt: `t${i}`, priority: i % 11 })
      // Starvation rises for all of them at once, which does not change their order: nothing is due.
      yield* TestClock.adjust(Duration.minutes(10))
      expect(yield* q.refreshPriorities()).toBe(0)
      yield* TestClock.adjust(Duration.minutes(40))
      expect(yield* q.refreshPriorities()).toBe(0)
      yield* checkInvariants({ freshness: true })
      // Past the horizon each task moves to the starved class, once.
      yield* TestClock.adjust(Duration.minutes(11))
      expect(yield* q.refreshPriorities()).toBe(50)
      yield* checkInvariants({ freshness: true })
      yield* TestClock.adjust(Duration.hours(5))
      expect(yield* q.refreshPriorities()).toBe(0)
      yield* checkInvariants({ freshness: true })
    })
  )

  queueTest("a busy queue spreads a big plan's crossing of the horizon over many claims", () =>
    Effect.gen(function* () {
      const q = yield* TaskQueue
      const { db } = yield* Database
      const starved = () => (db.prepare("SELECT count(*) AS n FROM tasks WHERE priority_starved = 1").get() as { n: number }).n
      yield* q.submitPlan({ tasks: Array.from({ length: 300 }, (_, i) => ({ key: `t${i}`, prompt: `t${i}`, priority: i % 11 })) })
      // From four minutes before the horizon, a claim every 20 seconds: each task crosses at an
      // instant of its own within the last refresh step (3.6 minutes) before its horizon.
      yield* TestClock.adjust(Duration.minutes(56))
      const { crossed, starvedAtEnd } = yield* claimEvery20Seconds(starved)
      expect(starvedAtEnd).toBe(300)
      // Spread: many claims moved some, none moved a third of them.
      expect(crossed.filter((n) => n > 0).length).toBeGreaterThanOrEqual(8)
      expect(Math.max(...crossed)).toBeLessThan(100)
    })
  )

  queueTest("after a long idle the first claim moves every task across the horizon in one statement, not one per task", () =>
    Effect.gen(function* () {
      const q = yield* TaskQueue
      const { db } = yield* Database
      yield* q.submitPlan({ tasks: Array.from({ length: 400 }, (_, i) => ({ key: `t${i}`, prompt: `t${i}`, priority: i % 11 })) })
      // A quiet night: every task is past its horizon at the next claim.
      yield* TestClock.adjust(Duration.hours(8))
      const due = (db.prepare("SELECT count(*) AS n FROM tasks WHERE priority_refresh_at IS NOT NULL").get() as { n: number }).n
      expect(due).toBe(400)
      // Count the statements the claim runs (every prepared statement runs through these).
      const proto = Object.getPrototypeOf(db.prepare("SELECT 1")) as Record<"run" | "get" | "all" | "iterate" | "raw", unknown>
      const spies = (["run", "get", "all", "iterate"] as const).map((m) => vi.spyOn(proto as never, m as never))
      const first = yield* q.claim({ worker: "w" })
      const statements = spies.reduce((n, s) => n + s.mock.calls.length, 0)
      for (const s of spies) s.mockRestore()
      expect(first).not.toBeNull()
      expect(statements, "statements run by the first claim after the idle").toBeLessThanOrEqual(12)
      expect((db.prepare("SELECT count(*) AS n FROM tasks WHERE priority_starved = 1 AND status = 'ready'").get() as { n: number }).n).toBe(399)
      yield* checkInvariants({ freshness: true })
    })
  )

  queueTest("a plan's tasks with a deadline cross the horizon spread over many claims too, not all at its instant", () =>
    Effect.gen(function* () {
      const q = yield* TaskQueue
      const { db } = yield* Database
      const starved = () => (db.prepare("SELECT count(*) AS n FROM tasks WHERE priority_starved = 1").get() as { n: number }).n
      const start = yield* Clock.currentTimeMillis
      // Deadlines two days away: urgency hardly moves, so the horizon is what falls due.
      yield* q.submitPlan({
        tasks: Array.from({ length: 300 }, (_, i) => ({
          key: `t${i}`,
          prompt: `t${i}`,
          priority: i % 11,
          deadline: formatTimestamp(start + 2 * 86_400_000 + i * 60_000)
        }))
      })
      yield* TestClock.adjust(Duration.minutes(56))
      const { crossed, starvedAtEnd } = yield* claimEvery20Seconds(starved, 0.5)
      expect(starvedAtEnd).toBe(300)
      expect(crossed.filter((n) => n > 0).length).toBeGreaterThanOrEqual(8)
      expect(Math.max(...crossed)).toBeLessThan(100)
    })
  )

  queueTest("a task with a deadline is refreshed as its urgency rises, and not after the deadline", () =>
    Effect.gen(function* () {
      const q = yield* TaskQueue
      const start = yield* Clock.currentTimeMillis
      yield* q.submit({ prompt: "due in two hours", deadline: formatTimestamp(start + 2 * 3_600_000) })
      yield* q.submit({ prompt: "no deadline" })
      let refreshes = 0
      for (let m = 0; m < 180; m += 5) {
        yield* TestClock.adjust(Duration.minutes(5))
        refreshes += yield* q.refreshPriorities()
        yield* checkInvariants({ freshness: true, tolerance: 0.5 })
      }
      // Urgency rises by up to 33 weighted points over the two hours: tens of refreshes, then none.
      expect(refreshes).toBeGreaterThan(10)
      yield* TestClock.adjust(Duration.hours(3))
      expect(yield* q.refreshPriorities()).toBe(0)
    })
  )

  queueTest("after a long idle the first claim still takes the true best, across both classes", () =>
    Effect.gen(function* () {
      const q = yield* TaskQueue
      // An old task long past the horizon, and a newer one. Read without the horizon, the old
      // one's rank would stand at (20 + 0.5 x 300 + 100) / 6 = 45; its true score is capped at
      // (20 + 50 + 100) / 6 = 28.3, below the newer one's (80 + 0.5 x 1.7 + 100) / 6 = 30.1.
      const old = yield* q.submit({ prompt: "old", priority: 2 })
      yield* TestClock.adjust(Duration.hours(3))
      const fresh = yield* q.submit({ prompt: "fresh", priority: 8 })
      yield* TestClock.adjust(Duration.minutes(2))
      const { db } = yield* Database
      const repo = yield* TaskRepository
      const now = yield* Clock.currentTimeMillis
      const truth = (id: string) => formulaOf(taskRows(db).find((r) => r.id === id)!, repo.countOpenDependents(id), now, defaultQueueSettings)
      expect(truth(fresh.id)).toBeGreaterThan(truth(old.id))
      const first = yield* q.claim({ worker: "w" })
      expect(first!.id).toBe(fresh.id)
      const second = yield* q.claim({ worker: "w" })
      expect(second!.id).toBe(old.id)
      expect(second!.calculatedPriority).toBeCloseTo(truth(old.id), 6)
      yield* checkInvariants({ freshness: true })
    })
  )
})

describe("the claim does not scan", () => {
  queueTest("after the refresh, the claim queries walk idx_tasks_ready_rank (and the refresh its own index)", () =>
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
      const next = pick((s) => /status = 'ready'/.test(s) && /ORDER BY priority_rank DESC/.test(s) && !/agent_type/.test(s), "the claim query")
      const nextPlan = plan(next)
      expect(nextPlan).toContain("idx_tasks_ready_rank")
      expect(nextPlan).not.toMatch(/TEMP B-TREE/)
      const typed = pick((s) => /status = 'ready'/.test(s) && /agent_type = \?/.test(s), "the typed claim query")
      const typedPlan = plan(typed)
      expect(typedPlan).toContain("idx_tasks_ready_agent_rank")
      expect(typedPlan).not.toMatch(/TEMP B-TREE/)
      const due = pick((s) => /priority_refresh_at <= \?/.test(s), "the refresh query")
      expect(plan(due)).toMatch(/SEARCH tasks USING INDEX idx_tasks_priority_refresh/)
      const leases = pick((s) => /lease_expires_at <= \?/.test(s), "the lease recovery query")
      expect(plan(leases)).toMatch(/idx_tasks_lease_expiry/)
    })
  )
})
