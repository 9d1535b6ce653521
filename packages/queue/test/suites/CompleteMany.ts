/**
 * `completeMany` over a store (run from ServiceRules.ts, so for SQLite by Service.test.ts and for
 * PostgreSQL by @abathur/postgres): many completions in one transaction, each by the single
 * complete's rules, all or nothing.
 */
import { aNode, aTask } from "@abathur/testing"
import { describe, expect } from "@effect/vitest"
import { Effect, Queue } from "effect"
import { TaskQueue } from "../../src/TaskQueue.js"
import { checkInvariants } from "../Invariants.js"
import { dump, flip, statuses, type StoreUnderTest, suiteOver } from "../StoreUnderTest.js"

interface Item {
  readonly id: string
  readonly leaseToken: string
}

/** Submits `n` independent tasks and claims them all (worker "w"). */
const claimedTasks = (n: number) =>
  Effect.gen(function* () {
    const q = yield* TaskQueue
    for (let i = 0; i < n; i++) yield* q.submit(aTask({ prompt: `task ${i}` }))
    return yield* q.claimMany({ worker: "w", limit: n })
  })

export const completeManyRules = (store: StoreUnderTest) => {
  const { queueTest } = suiteOver(store)

  describe("completeMany: many completions in one transaction", () => {
    queueTest("every task ends COMPLETED with its result and its audit row, in the order given, published after the commit", () =>
      Effect.scoped(
        Effect.gen(function* () {
          const q = yield* TaskQueue
          const held = yield* claimedTasks(5)
          const changes = yield* q.subscribe
          const batch = [...held].reverse()
          const r = yield* q.completeMany(
            batch.map((t, i) => ({ id: t.id, leaseToken: t.leaseToken, result: { n: i } })),
            { actor: "batcher" }
          )
          expect(r.completed.map((c) => c.task.id)).toEqual(batch.map((t) => t.id))
          expect(r.completed.map((c) => [c.task.status, c.task.resultData, c.unblocked])).toEqual(batch.map((_, i) => ["completed", { n: i }, []]))
          expect(r.next).toEqual([])
          for (const [i, t] of batch.entries()) {
            const got = yield* q.get(t.id)
            expect(got).toMatchObject({ status: "completed", resultData: { n: i } })
            const last = (yield* q.audit(t.id)).at(-1)!
            expect(last).toMatchObject({ fromStatus: "running", toStatus: "completed", actor: "batcher" })
            // One transaction: one instant for every completion of the batch.
            expect(last.at).toBe(r.completed[0]!.task.completedAt)
          }
          const seen = [...(yield* Queue.takeAll(changes))].map((c) => [c.taskId, c.from, c.to])
          expect(seen).toEqual(batch.map((t) => [t.id, "running", "completed"]))
          yield* checkInvariants()
        })
      )
    )

    queueTest(
      "a dependent unblocked by several items is listed once, by the item that unblocked it; a parent's last subtask releases its dependents",
      () =>
        Effect.gen(function* () {
          const q = yield* TaskQueue
          const { tasks } = yield* q.submitPlan({
            tasks: [
              aNode("a", { agentType: "a" }),
              aNode("b", { agentType: "b" }),
              aNode("afterA", { dependsOn: ["a"], agentType: "later" }),
              aNode("afterBoth", { dependsOn: ["a", "b"], agentType: "later" }),
              aNode("parent", { agentType: "parent", children: [aNode("c1", { agentType: "sub" }), aNode("c2", { agentType: "sub" })] }),
              aNode("ship", { dependsOn: ["parent"], agentType: "later" })
            ]
          })
          const id = (k: string) => tasks[k]!.id
          // The umbrella task completes first; its dependent waits for its subtasks.
          const parent = yield* q.claim({ agentType: "parent" })
          yield* q.complete(parent!.id, { leaseToken: parent!.leaseToken })
          expect(yield* statuses([id("ship")])).toEqual(["blocked"])
          const held = [
            ...(yield* q.claimMany({ agentType: "a" })),
            ...(yield* q.claimMany({ agentType: "b" })),
            ...(yield* q.claimMany({ agentType: "sub", limit: 2 }))
          ]
          expect(held.map((t) => t.id).sort()).toEqual([id("a"), id("b"), id("c1"), id("c2")].sort())
          const r = yield* q.completeMany(held.map((t) => ({ id: t.id, leaseToken: t.leaseToken })))
          const unblocked = new Map(r.completed.map((c) => [c.task.id, c.unblocked]))
          expect(unblocked.get(id("a"))).toEqual([id("afterA")])
          expect(unblocked.get(id("b"))).toEqual([id("afterBoth")])
          // Whichever subtask came last in the batch closed the parent's subtree.
          const lastSub = held.findLast((t) => t.id === id("c1") || t.id === id("c2"))!.id
          const firstSub = lastSub === id("c1") ? id("c2") : id("c1")
          expect(unblocked.get(lastSub)).toEqual([id("ship")])
          expect(unblocked.get(firstSub)).toEqual([])
          expect(yield* statuses(["afterA", "afterBoth", "ship"].map(id))).toEqual(["ready", "ready", "ready"])
          yield* checkInvariants()
        })
    )

    queueTest("a refused item anywhere in the batch changes nothing, and the error names it", () =>
      Effect.gen(function* () {
        const q = yield* TaskQueue
        const held = yield* claimedTasks(3)
        const waiting = yield* q.submit(aTask({ dependsOn: [held[0]!.id] }))
        const [a, b, c] = held.map((t) => ({ id: t.id, leaseToken: t.leaseToken })) as [Item, Item, Item]
        const before = yield* dump
        const missing = "3f2b8c1e-9d4a-4f6b-8e2a-1c5d7e9f0a2b"
        const cases = [
          { items: [a, { ...b, leaseToken: c.leaseToken }, c], tag: "LeaseMismatch", names: b.id },
          { items: [a, { id: b.id }, c], tag: "LeaseMismatch", names: b.id },
          { items: [a, { id: missing, force: true }, c], tag: "TaskNotFound", names: missing },
          { items: [a, { id: waiting.id, force: true }, c], tag: "InvalidTransition", names: waiting.id },
          { items: [a, b, { ...a, result: 2 }], tag: "ValidationError", names: a.id },
          { items: [a, { id: "nope" }, c], tag: "ValidationError", names: "nope" }
        ]
        for (const { items, tag, names } of cases) {
          const e = yield* flip(q.completeMany(items, { next: { limit: 3 } }))
          expect(e._tag).toBe(tag)
          expect(e.message).toContain(names)
          expect(yield* dump).toBe(before)
        }
        expect((yield* flip(q.completeMany([]))).message).toMatch(/at least one/)
        expect((yield* flip(q.completeMany(Array.from({ length: 101 }, () => ({ id: missing }))))).message).toMatch(/at most 100/)
        expect((yield* flip(q.completeMany([a], { next: { limit: 0 } }))).message).toMatch(/limit must be at least 1/)
        expect(yield* statuses(held.map((t) => t.id))).toEqual(["running", "running", "running"])
        expect(yield* dump).toBe(before)
      })
    )

    queueTest("next claims up to its limit in the same transaction, none of them from the batch", () =>
      Effect.gen(function* () {
        const q = yield* TaskQueue
        const held = yield* claimedTasks(3)
        const rest = [yield* q.submit(aTask({ priority: 9 })), yield* q.submit(aTask({ priority: 8 }))]
        const r = yield* q.completeMany(
          held.map((t) => ({ id: t.id, leaseToken: t.leaseToken })),
          { next: { limit: 5, worker: "w2", leaseSeconds: 60 } }
        )
        expect(r.next.map((t) => t.id)).toEqual(rest.map((t) => t.id))
        for (const t of r.next) {
          expect(t).toMatchObject({ status: "running" })
          expect(Date.parse(t.leaseExpiresAt) - Date.parse(t.startedAt!)).toBe(60_000)
          expect((yield* q.audit(t.id)).at(-1)).toMatchObject({ toStatus: "running", actor: "w2" })
        }
        expect(yield* statuses(held.map((t) => t.id))).toEqual(["completed", "completed", "completed"])
        // The tasks handed out are the worker's: their tokens complete them.
        const again = yield* q.completeMany(
          r.next.map((t) => ({ id: t.id, leaseToken: t.leaseToken })),
          { next: { limit: 1 } }
        )
        expect(again.next).toEqual([])
        yield* checkInvariants()
      })
    )
  })
}
