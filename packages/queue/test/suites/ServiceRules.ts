/**
 * The service's smaller paths over a store (called for SQLite by Service.test.ts, for PostgreSQL by
 * @abathur/postgres): change notifications, the hierarchy reach of a cancel, plan problems,
 * reads and id prefixes.
 */
import { Task } from "@abathur/domain"
import { aNode, aTask } from "@abathur/testing"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Queue, Scope } from "effect"
import type { TreeNode } from "../../src/Model.js"
import { errorBody, type ValidationError } from "../../src/QueueError.js"
import { TaskQueue } from "../../src/TaskQueue.js"
import { checkInvariants } from "../Invariants.js"
import { completeManyRules } from "./CompleteMany.js"
import { dump as databaseDump, flip, statuses, type StoreUnderTest, suiteOver } from "../StoreUnderTest.js"

export const serviceRules = (store: StoreUnderTest) => {
  const { queueTest, testQueue } = suiteOver(store)

  describe("notifications", () => {
    it.scoped("subscribe() receives every state change after it commits, and nothing from a rejected operation", () =>
      Effect.gen(function* () {
        const q = yield* TaskQueue
        const changes = yield* q.subscribe
        const a = yield* q.submit(aTask())
        const b = yield* q.submit(aTask({ dependsOn: [a.id] }))
        const c = yield* q.claim({ worker: "w" })
        yield* q.complete(a.id, { leaseToken: c!.leaseToken })
        const seen = [...(yield* Queue.takeAll(changes))].map((x) => [x.taskId, x.from, x.to])
        expect(seen).toEqual([
          [a.id, null, "ready"],
          [b.id, null, "blocked"],
          [a.id, "ready", "running"],
          [a.id, "running", "completed"],
          [b.id, "blocked", "ready"]
        ])
        // Rejected: nothing was committed, so nothing is published.
        yield* flip(q.complete(a.id))
        yield* flip(q.submit({ prompt: "x", dependsOn: [a.id, "3f2b8c1e-9d4a-4f6b-8e2a-1c5d7e9f0a2b"] }))
        expect(yield* Queue.size(changes)).toBe(0)
        // A read publishes nothing either.
        yield* q.status()
        expect(yield* Queue.size(changes)).toBe(0)
      }).pipe(Effect.provide(testQueue()))
    )

    queueTest("onCommit() listeners see each commit's changes synchronously, while their scope is open", () =>
      Effect.gen(function* () {
        const q = yield* TaskQueue
        const seen: Array<Array<string>> = []
        const scope = yield* Scope.make()
        yield* Scope.extend(
          q.onCommit((changes) => seen.push(changes.map((c) => `${c.from ?? "new"}>${c.to}`))),
          scope
        )
        // A listener that throws changes nothing for the commit or the other listeners.
        yield* Scope.extend(
          q.onCommit(() => {
            throw new Error("a broken listener")
          }),
          scope
        )
        const a = yield* q.submit(aTask())
        // Already there when the operation returns: no fiber in between.
        expect(seen).toEqual([["new>ready"]])
        yield* q.submit(aTask({ dependsOn: [a.id] }))
        const c = yield* q.claim({ worker: "w" })
        yield* q.complete(a.id, { leaseToken: c!.leaseToken })
        yield* flip(q.complete(a.id))
        yield* q.status()
        expect(seen).toEqual([["new>ready"], ["new>blocked"], ["ready>running"], ["running>completed", "blocked>ready"]])
        expect((yield* q.get(a.id)).status).toBe("completed")
        yield* Scope.close(scope, Exit.void)
        yield* q.submit(aTask())
        expect(seen.length).toBe(4)
      })
    )
  })

  describe("cancel reaches the whole hierarchy below the task", () => {
    queueTest("open subtasks below a finished subtask are cancelled too; the finished one stays as it is", () =>
      Effect.gen(function* () {
        const q = yield* TaskQueue
        const parent = yield* q.submit(aTask({ priority: 0 }))
        const child = yield* q.submit(aTask({ parentTaskId: parent.id, priority: 10 }))
        const c = yield* q.claim()
        expect(c!.id).toBe(child.id)
        // While it runs, the child's agent spawns work below it, then the child completes.
        const grandchild = yield* q.submit(aTask({ parentTaskId: child.id }))
        const after = yield* q.submit(aTask({ dependsOn: [grandchild.id] }))
        yield* q.complete(child.id, { leaseToken: c!.leaseToken })
        // A dependent of the completed child waits for the child's whole subtree (the grandchild):
        // cancelling the grandchild dooms that edge, so it is cancelled too; one under `ignore` runs.
        const next = yield* q.submit(aTask({ dependsOn: [child.id] }))
        const anyway = yield* q.submit(aTask({ dependsOn: [{ id: child.id, onFailure: "ignore" }] }))
        expect(yield* statuses([next.id, anyway.id])).toEqual(["blocked", "blocked"])
        const r = yield* q.cancel(parent.id)
        expect(r.cancelled.sort()).toEqual([grandchild.id, after.id, next.id].sort())
        expect(yield* statuses([parent.id, child.id, grandchild.id, after.id, next.id, anyway.id])).toEqual([
          "cancelled",
          "completed",
          "cancelled",
          "cancelled",
          "cancelled",
          "ready"
        ])
        yield* checkInvariants()
      })
    )

    queueTest("a subtask submitted under a cancelled task is reached when an ancestor is cancelled", () =>
      Effect.gen(function* () {
        const q = yield* TaskQueue
        const root = yield* q.submit(aTask())
        const mid = yield* q.submit(aTask({ parentTaskId: root.id }))
        yield* q.cancel(mid.id)
        const late = yield* q.submit(aTask({ parentTaskId: mid.id }))
        const r = yield* q.cancel(root.id)
        expect(r.cancelled).toEqual([late.id])
        yield* checkInvariants()
      })
    )

    queueTest("a failure does not reach subtasks (only dependents)", () =>
      Effect.gen(function* () {
        const q = yield* TaskQueue
        const a = yield* q.submit(aTask({ maxRetries: 0, priority: 10 }))
        const kid = yield* q.submit(aTask({ parentTaskId: a.id }))
        const dep = yield* q.submit(aTask({ dependsOn: [a.id] }))
        const c = yield* q.claim()
        expect(c!.id).toBe(a.id)
        const r = yield* q.fail(a.id, { error: "no", leaseToken: c!.leaseToken })
        expect(r.cancelled).toEqual([dep.id])
        expect(yield* statuses([kid.id])).toEqual(["ready"])
        yield* checkInvariants()
      })
    )
  })

  describe("plan problems are ValidationErrors that write nothing", () => {
    queueTest("duplicate keys, a parent id on a nested node, a reference that is neither key nor id", () =>
      Effect.gen(function* () {
        const q = yield* TaskQueue
        const existing = yield* q.submit(aTask())
        const before = yield* databaseDump
        const dup = yield* flip(q.submitPlan({ tasks: [aNode("a"), aNode("b", { children: [aNode("a")] })] }))
        expect(dup).toMatchObject({ _tag: "ValidationError" })
        expect(dup.message).toMatch(/"a"/)
        const nested = yield* flip(q.submitPlan({ tasks: [aNode("p", { children: [aNode("k", { parentTaskId: existing.id })] })] }))
        expect(nested._tag).toBe("ValidationError")
        const unknown = yield* flip(q.submitPlan({ tasks: [aNode("a", { dependsOn: ["nope"] })] }))
        expect(unknown._tag).toBe("ValidationError")
        expect(unknown.message).toMatch(/nope/)
        const missingParent = yield* flip(q.submitPlan({ tasks: [aNode("a", { parentTaskId: "3f2b8c1e-9d4a-4f6b-8e2a-1c5d7e9f0a2b" })] }))
        expect(missingParent._tag).toBe("TaskNotFound")
        expect(yield* databaseDump).toEqual(before)
      })
    )

    queueTest("a plan on an existing parent and prerequisites: depths, statuses and the dependency factor", () =>
      Effect.gen(function* () {
        const q = yield* TaskQueue
        const parent = yield* q.submit(aTask())
        const done = yield* q.submit(aTask({ priority: 10 }))
        const open = yield* q.submit(aTask())
        const c = yield* q.claim()
        expect(c!.id).toBe(done.id)
        yield* q.complete(done.id, { leaseToken: c!.leaseToken })
        const beforeOpen = (yield* q.get(open.id)).calculatedPriority
        const { tasks } = yield* q.submitPlan({
          tasks: [aNode("x", { parentTaskId: parent.id, dependsOn: [done.id] }), aNode("y", { dependsOn: ["x", open.id] })]
        })
        expect(tasks["x"]).toMatchObject({ status: "ready", dependencyDepth: 1, parentTaskId: parent.id })
        expect(tasks["y"]).toMatchObject({ status: "blocked", dependencyDepth: 2 })
        expect((yield* q.get(tasks["x"]!.id)).prerequisites[0]!.resolvedAt).not.toBeNull()
        // `open` gained an open dependent: its priority rose at once.
        expect((yield* q.get(open.id)).calculatedPriority).toBeGreaterThan(beforeOpen)
        yield* checkInvariants({ freshness: true })
      })
    )
  })

  describe("reads", () => {
    queueTest("execution plan of named tasks skips terminal ones; tree and graph of one task", () =>
      Effect.gen(function* () {
        const q = yield* TaskQueue
        const a = yield* q.submit(aTask({ priority: 10 }))
        const b = yield* q.submit(aTask({ dependsOn: [a.id] }))
        const c = yield* q.claim()
        yield* q.complete(c!.id, { leaseToken: c!.leaseToken })
        expect((yield* q.executionPlan({ taskIds: [a.id, b.id, b.id] })).batches).toEqual([[b.id]])
        expect(yield* q.executionPlan({ taskIds: [a.id] })).toEqual({ batches: [], totalBatches: 0, maxParallelism: 0 })
        const missing = yield* flip(q.executionPlan({ taskIds: ["3f2b8c1e-9d4a-4f6b-8e2a-1c5d7e9f0a2b"] }))
        expect(missing._tag).toBe("TaskNotFound")
        expect(((yield* q.tree(a.id)) as TreeNode).children).toEqual([])
        expect((yield* q.graph(a.id, "dot")).text).toContain(`"${a.id}" -> "${b.id}"`)
        const audit = yield* q.audit(a.id)
        expect(audit.map((x) => x.toStatus)).toEqual(["ready", "running", "completed"])
        expect((yield* flip(q.audit("3f2b8c1e-9d4a-4f6b-8e2a-1c5d7e9f0a2b")))._tag).toBe("TaskNotFound")
      })
    )

    queueTest("every answer's task has exactly the public model's fields, in its order (no lease or bookkeeping field)", () =>
      Effect.gen(function* () {
        const q = yield* TaskQueue
        const fields = Object.keys(Task.parse({ prompt: "x" }))
        const a = yield* q.submit(aTask({ deadline: "2030-01-01T00:00:00Z", idempotencyKey: "fields-a" }))
        const plan = yield* q.submitPlan({ tasks: [aNode("p", { children: [aNode("c", { dependsOn: ["q"] })] }), aNode("q")] })
        const claimed = yield* q.claim({ worker: "w" })
        const answers = [a, ...Object.values(plan.tasks), yield* q.get(a.id), ...(yield* q.list({}))]
        for (const t of answers) expect(Object.keys(t).filter((k) => fields.includes(k))).toEqual(fields)
        for (const t of [a, ...Object.values(plan.tasks)]) expect(Object.keys(t)).toEqual(fields)
        expect(claimed).not.toBeNull()
        expect(Object.keys(claimed!)).toEqual([...fields, "leaseToken", "leaseExpiresAt"])
      })
    )
  })

  describe("id prefixes (resolveId)", () => {
    queueTest("a unique prefix of 4+ hex digits names its task; a whole id comes back lower-cased; a bad one is a ValidationError", () =>
      Effect.gen(function* () {
        const q = yield* TaskQueue
        const a = yield* q.submit(aTask({ prompt: "the only one" }))
        expect(yield* q.resolveId(a.id.slice(0, 8))).toBe(a.id)
        expect(yield* q.resolveId(a.id.slice(0, 4).toUpperCase())).toBe(a.id)
        expect(yield* q.resolveId(a.id.slice(0, 14))).toBe(a.id)
        expect(yield* q.resolveId(` ${a.id.toUpperCase()} `)).toBe(a.id)
        // A whole id is not looked up: the operation says whether it exists.
        expect(yield* q.resolveId("3f2b8c1e-9d4a-4f6b-8e2a-1c5d7e9f0a2b")).toBe("3f2b8c1e-9d4a-4f6b-8e2a-1c5d7e9f0a2b")
        for (const bad of ["abc", "", "xyz12345", `${a.id.slice(0, 8)}x`, "abcd1234abcd"]) {
          const e = yield* flip(q.resolveId(bad))
          expect(e._tag).toBe("ValidationError")
          expect(e.message).toContain("is not a task id")
        }
        const other = a.id.startsWith("0000") ? "ffff" : "0000"
        const missing = yield* flip(q.resolveId(other))
        expect(missing._tag).toBe("TaskNotFound")
        expect(missing.message).toContain(`no task id starts with ${other}`)
      })
    )

    queueTest("an ambiguous prefix is a ValidationError that lists the candidates with their summaries", () =>
      Effect.gen(function* () {
        const q = yield* TaskQueue
        // 1500 random ids share a first 4 hex digits somewhere (the chance they do not is below 1e-7).
        const { tasks } = yield* q.submitPlan({ tasks: Array.from({ length: 1500 }, (_, i) => ({ key: `k${i}`, prompt: `task number ${i}` })) })
        const ids = Object.values(tasks)
          .map((t) => t.id)
          .sort()
        const i = ids.findIndex((id, j) => j > 0 && ids[j - 1]!.slice(0, 4) === id.slice(0, 4))
        expect(i).toBeGreaterThan(0)
        const prefix = ids[i]!.slice(0, 4)
        const matching = ids.filter((id) => id.startsWith(prefix))
        const e = yield* flip(q.resolveId(prefix))
        expect(e._tag).toBe("ValidationError")
        expect(e.message).toContain(`the id prefix ${prefix} is ambiguous`)
        const candidates = (e as ValidationError).candidates!
        expect(candidates.map((c) => c.id)).toEqual(matching.slice(0, 5))
        for (const c of candidates) {
          expect(c.summary).toMatch(/^task number \d+$/)
          expect(e.message).toContain(`${c.id} "${c.summary}"`)
        }
        expect(errorBody(e).error["candidates"]).toEqual(candidates)
        // Enough digits make it unique again.
        expect(yield* q.resolveId(ids[i]!.slice(0, 13))).toBe(ids[i])
      })
    )

    queueTest("summaries names the tasks that exist, in the order asked", () =>
      Effect.gen(function* () {
        const q = yield* TaskQueue
        const a = yield* q.submit(aTask({ prompt: "first\nmore text" }))
        const b = yield* q.submit(aTask({ prompt: "second", dependsOn: [a.id] }))
        expect(yield* q.summaries([b.id, "3f2b8c1e-9d4a-4f6b-8e2a-1c5d7e9f0a2b", a.id, b.id])).toEqual([
          { id: b.id, summary: "second", status: "blocked" },
          { id: a.id, summary: "first", status: "ready" },
          { id: b.id, summary: "second", status: "blocked" }
        ])
      })
    )
  })

  completeManyRules(store)
}
