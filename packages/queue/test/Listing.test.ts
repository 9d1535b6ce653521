/**
 * The reads an operator's dashboard pages through: text search and paging in `list`, the worker
 * and lease end of RUNNING tasks, and completions/failures per minute from the audit trail.
 */
import { aTask } from "@abathur/testing"
import { Database } from "@abathur/storage"
import { describe, expect } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import { TaskQueue } from "../src/TaskQueue.js"
import { flip, queueTest } from "./TestQueue.js"

describe("list: search and paging", () => {
  queueTest("text matches prompt or summary in any case, or an id prefix; % and _ are plain characters", () =>
    Effect.gen(function* () {
      const q = yield* TaskQueue
      const parser = yield* q.submit(aTask({ prompt: "Write the PARSER for the config files" }))
      const lexer = yield* q.submit(aTask({ prompt: "long text", summary: "Tokenise: the lexer" }))
      const pct = yield* q.submit(aTask({ prompt: "raise coverage to 100% in core_utils" }))
      yield* q.submit(aTask({ prompt: "unrelated work" }))
      const prompts = (tasks: ReadonlyArray<{ readonly id: string }>) => tasks.map((t) => t.id).sort()
      expect(prompts(yield* q.list({ text: "parser" }))).toEqual([parser.id])
      expect(prompts(yield* q.list({ text: "LEXER" }))).toEqual([lexer.id])
      expect(prompts(yield* q.list({ text: "100%" }))).toEqual([pct.id])
      expect(prompts(yield* q.list({ text: "core_u" }))).toEqual([pct.id])
      // `_` and `%` do not act as wildcards
      expect(yield* q.list({ text: "e_t" })).toEqual([])
      expect(yield* q.list({ text: "%" })).toHaveLength(1)
      expect(prompts(yield* q.list({ text: parser.id.slice(0, 8).toUpperCase() }))).toEqual([parser.id])
      // with the other filters
      expect(yield* q.list({ text: "parser", status: "completed" })).toEqual([])
      expect((yield* flip(q.list({ text: "" })))._tag).toBe("ValidationError")
    })
  )

  queueTest("limit and offset page through the order without gaps or repeats", () =>
    Effect.gen(function* () {
      const q = yield* TaskQueue
      for (let i = 0; i < 25; i++) {
        yield* q.submit(aTask({ prompt: `task ${i}`, priority: i % 11 }))
        yield* TestClock.adjust("1 millis")
      }
      const all = (yield* q.list({})).map((t) => t.id)
      const pages: Array<string> = []
      for (let offset = 0; offset < 30; offset += 10) pages.push(...(yield* q.list({ limit: 10, offset })).map((t) => t.id))
      expect(pages).toEqual(all)
      expect(yield* q.list({ limit: 10, offset: 30 })).toEqual([])
      expect((yield* q.list({ offset: 20 })).map((t) => t.id)).toEqual(all.slice(20))
      // a page of a search
      const searched = (yield* q.list({ text: "task 1", limit: 3, offset: 2 })).map((t) => t.prompt)
      const allSearched = (yield* q.list({ text: "task 1" })).map((t) => t.prompt)
      expect(allSearched).toHaveLength(11)
      expect(searched).toEqual(allSearched.slice(2, 5))
      expect((yield* flip(q.list({ offset: -1 })))._tag).toBe("ValidationError")
    })
  )

  queueTest("a page reads whole rows only for the page (the order is found over an inner query)", () =>
    Effect.gen(function* () {
      const { db } = yield* Database
      const plan = db
        .prepare(
          "EXPLAIN QUERY PLAN SELECT * FROM tasks WHERE rowid IN (SELECT rowid FROM tasks WHERE (prompt LIKE ? ESCAPE '\\' OR summary LIKE ? ESCAPE '\\' OR id LIKE ? ESCAPE '\\') ORDER BY calculated_priority DESC, submitted_at ASC, rowid ASC LIMIT ? OFFSET ?) ORDER BY calculated_priority DESC, submitted_at ASC, rowid ASC"
        )
        .all("%a%", "%a%", "a%", 10, 0) as Array<{ detail: string }>
      expect(plan.map((r) => r.detail).join("\n")).toMatch(/SEARCH tasks USING INTEGER PRIMARY KEY \(rowid=\?\)/)
    })
  )
})

describe("list and show: who holds a RUNNING task", () => {
  queueTest("a RUNNING task carries its worker and lease end, never its lease token; other tasks carry neither", () =>
    Effect.gen(function* () {
      const q = yield* TaskQueue
      const a = yield* q.submit(aTask({ prompt: "held", priority: 9 }))
      const b = yield* q.submit(aTask({ prompt: "waiting", priority: 1 }))
      const claimed = yield* q.claim({ worker: "worker-7", leaseSeconds: 120 })
      expect(claimed?.id).toBe(a.id)
      const [running] = yield* q.list({ status: "running" })
      expect(running).toMatchObject({ id: a.id, worker: "worker-7", leaseExpiresAt: claimed!.leaseExpiresAt })
      expect(running).not.toHaveProperty("leaseToken")
      const detail = yield* q.get(a.id)
      expect(detail).toMatchObject({ worker: "worker-7", leaseExpiresAt: claimed!.leaseExpiresAt })
      expect(detail).not.toHaveProperty("leaseToken")
      const [ready] = yield* q.list({ status: "ready" })
      expect(ready?.id).toBe(b.id)
      expect(ready).not.toHaveProperty("worker")
      expect(ready).not.toHaveProperty("leaseExpiresAt")
      // an anonymous claim: worker null
      yield* q.claim({})
      expect((yield* q.get(b.id)).worker).toBeNull()
      // completed: no worker any more
      yield* q.complete(a.id, { leaseToken: claimed!.leaseToken })
      expect(yield* q.get(a.id)).not.toHaveProperty("worker")
    })
  )
})

describe("activity: completions and failures per minute", () => {
  queueTest("counts completions, retried attempts and failures by minute inside the window, and lists the newest failures", () =>
    Effect.gen(function* () {
      const q = yield* TaskQueue
      yield* TestClock.setTime(Date.parse("2026-12-03T10:00:00.000Z"))
      const run = (prompt: string, outcome: "complete" | "fail", maxRetries = 0) =>
        Effect.gen(function* () {
          const t = yield* q.submit(aTask({ prompt, maxRetries }))
          const c = yield* q.claim({ worker: "w1" })
          expect(c?.id).toBe(t.id)
          if (outcome === "complete") yield* q.complete(t.id, { leaseToken: c!.leaseToken })
          else yield* q.fail(t.id, { error: `${prompt} broke`, leaseToken: c!.leaseToken })
          return t
        })
      // two hours ago: outside a 60-minute window
      yield* run("old", "complete")
      yield* TestClock.adjust("110 minutes")
      yield* run("a", "complete")
      yield* run("b", "complete")
      const flaky = yield* run("flaky", "fail", 1) // retried, back to READY
      yield* TestClock.adjust("3 minutes")
      const again = yield* q.claim({ worker: "w2" })
      expect(again?.id).toBe(flaky.id)
      yield* q.fail(flaky.id, { error: "flaky broke for good", leaseToken: again!.leaseToken }) // final
      yield* TestClock.adjust("7 minutes") // now 12:00

      const act = yield* q.activity({})
      expect(act.since).toBe("2026-12-03T11:00:00.000Z")
      expect(act.until).toBe("2026-12-03T12:00:00.000Z")
      expect(act.minutes).toEqual([
        { minute: "2026-12-03T11:50", completed: 2, retried: 1, failed: 0 },
        { minute: "2026-12-03T11:53", completed: 0, retried: 0, failed: 1 }
      ])
      expect(act.recentFailures.map((f) => [f.taskId, f.toStatus, f.actor])).toEqual([
        [flaky.id, "failed", "w2"],
        [flaky.id, "ready", "w1"]
      ])
      expect(act.recentFailures[0]!.reason).toContain("flaky broke for good")
      // a wider window takes in the old completion; failures: 1 keeps the newest only
      const day = yield* q.activity({ minutes: 1440, failures: 1 })
      expect(day.minutes.reduce((n, m) => n + m.completed, 0)).toBe(3)
      expect(day.recentFailures).toHaveLength(1)
      expect((yield* flip(q.activity({ minutes: 0 })))._tag).toBe("ValidationError")
      expect((yield* flip(q.activity({ minutes: 1441 })))._tag).toBe("ValidationError")
    })
  )

  queueTest("reads only the window's audit entries (a rowid range found by bisection)", () =>
    Effect.gen(function* () {
      const { db } = yield* Database
      const plan = db
        .prepare(
          "EXPLAIN QUERY PLAN SELECT task_id FROM task_audit WHERE id >= ? AND at >= ? AND from_status = 'running' AND to_status IN ('completed', 'failed', 'ready')"
        )
        .all(1, "x") as Array<{ detail: string }>
      expect(plan.map((r) => r.detail).join("\n")).toMatch(/SEARCH task_audit USING INTEGER PRIMARY KEY \(rowid>\?\)/)
    })
  )
})
