/**
 * The hierarchy gates the work (CONTRACT, "Additions of December 2026"): subtree-aware readiness,
 * edge failure policies, removing edges, delayed starts, idempotent submits and source defaults.
 * Each task gets an agent type of its own, so that a claim can take exactly the task a step needs.
 */
import { aNode, aTask } from "@abathur/testing"
import { describe, expect } from "@effect/vitest"
import { Effect } from "effect"
import { TaskQueue } from "../../src/TaskQueue.js"
import { checkInvariants } from "../Invariants.js"
import { dump as databaseDump, flip, statuses, type StoreUnderTest, suiteOver } from "../StoreUnderTest.js"
import { edgesAndSubmits } from "./EdgesAndSubmits.js"
import { claimable, finish, readmePlan } from "./HierarchySteps.js"

/**
 * The hierarchy's rules over a store (called for SQLite by Hierarchy.test.ts, for PostgreSQL by
 * @abathur/postgres); removing edges, delayed starts, idempotent submits and source defaults are in
 * EdgesAndSubmits.ts, run from here.
 */
export const hierarchy = (store: StoreUnderTest) => {
  const { queueTest } = suiteOver(store)

  describe("the README's plan: the hierarchy gates the work", () => {
    queueTest("api waits for spec; ship waits for impl, api and ui; a failed ui cancels ship; its retry revives ship", () =>
      Effect.gen(function* () {
        const q = yield* TaskQueue
        const { tasks } = yield* q.submitPlan(readmePlan)
        const id = (k: string) => tasks[k]!.id
        // api has no prerequisite of its own, but its parent waits for spec: BLOCKED, not claimable.
        expect(yield* statuses(["spec", "impl", "api", "ui", "ship"].map(id))).toEqual(["ready", "blocked", "blocked", "blocked", "blocked"])
        expect(yield* claimable("api")).toBe(false)
        yield* checkInvariants()

        const specDone = yield* finish("spec")
        expect([...specDone.unblocked].sort()).toEqual([id("impl"), id("api")].sort())
        // The umbrella task may complete while its subtasks are open; ship still waits for them.
        yield* finish("impl")
        expect(yield* statuses([id("ship")])).toEqual(["blocked"])
        const impl = yield* q.get(id("impl"))
        expect(impl.subtree).toEqual({ total: 2, completed: 0, open: 2, failed: 0, cancelled: 0 })
        const tree = (yield* q.tree(id("impl"))) as { subtree: { open: number }; task: { status: string } }
        expect(tree.task.status).toBe("completed")
        expect(tree.subtree.open).toBe(2)
        yield* finish("api")
        expect(yield* statuses([id("ui"), id("ship")])).toEqual(["ready", "blocked"])

        // ui fails for good: ship, which waits for impl's whole subtree, is cancelled.
        const failed = yield* finish("ui", "fail")
        expect(failed.cancelled).toEqual([id("ship")])
        expect((yield* q.get(id("ship"))).errorMessage).toContain(id("ui"))
        yield* checkInvariants()

        // Retrying ui revives ship (BLOCKED again), and completing ui unblocks it.
        const retried = yield* q.retry(id("ui"))
        expect(retried.revived).toEqual([id("ship")])
        expect(yield* statuses([id("ui"), id("ship")])).toEqual(["ready", "blocked"])
        const last = yield* finish("ui")
        expect(last.unblocked).toEqual([id("ship")])
        expect((yield* q.get(id("impl"))).subtree).toEqual({ total: 2, completed: 2, open: 0, failed: 0, cancelled: 0 })
        yield* finish("ship")
        yield* checkInvariants()
      })
    )

    queueTest("a subtask submitted under a task whose ancestors wait is BLOCKED; it is readied with them", () =>
      Effect.gen(function* () {
        const q = yield* TaskQueue
        const gate = yield* q.submit(aTask({ agentType: "gate" }))
        const epic = yield* q.submit(aTask({ dependsOn: [gate.id], agentType: "epic" }))
        const mid = yield* q.submit(aTask({ parentTaskId: epic.id, agentType: "mid" }))
        const own = yield* q.submit(aTask({ agentType: "own" }))
        // A grandchild with an open edge of its own stays BLOCKED when its ancestors' edges resolve.
        const leaf = yield* q.submit(aTask({ parentTaskId: mid.id, agentType: "leaf" }))
        const held = yield* q.submit(aTask({ parentTaskId: mid.id, dependsOn: [own.id], agentType: "held" }))
        expect(yield* statuses([epic.id, mid.id, leaf.id, held.id])).toEqual(["blocked", "blocked", "blocked", "blocked"])
        const r = yield* finish("gate")
        expect([...r.unblocked].sort()).toEqual([epic.id, mid.id, leaf.id].sort())
        expect(yield* statuses([held.id])).toEqual(["blocked"])
        yield* checkInvariants()
        // A new edge on an ancestor blocks the READY tasks below it again.
        const late = yield* q.submit(aTask({ agentType: "late" }))
        yield* q.addDependency(epic.id, { prerequisiteId: late.id })
        expect(yield* statuses([epic.id, mid.id, leaf.id])).toEqual(["blocked", "blocked", "blocked"])
        yield* checkInvariants()
      })
    )
  })

  describe("edge failure policies", () => {
    queueTest("onFailure ignore: the dependent runs once the prerequisite's subtree is finished, whatever the outcomes", () =>
      Effect.gen(function* () {
        const q = yield* TaskQueue
        const p = yield* q.submit(aTask({ agentType: "p", maxRetries: 0 }))
        yield* q.submit(aTask({ parentTaskId: p.id, agentType: "kid", maxRetries: 0 }))
        const strict = yield* q.submit(aTask({ dependsOn: [p.id], agentType: "strict" }))
        const lenient = yield* q.submit(aTask({ dependsOn: [{ id: p.id, onFailure: "ignore" }], agentType: "lenient" }))
        const detail = yield* q.get(lenient.id)
        expect(detail.prerequisites).toEqual([{ taskId: p.id, dependencyType: "sequential", onFailure: "ignore", resolvedAt: null }])
        expect((yield* q.get(p.id)).dependents.map((d) => d.onFailure)).toEqual(["cancel", "ignore"])
        const failed = yield* finish("kid", "fail")
        // The failure below p cancels the strict dependent at once; the lenient one still waits for p.
        expect(failed.cancelled).toEqual([strict.id])
        expect(yield* statuses([lenient.id])).toEqual(["blocked"])
        const done = yield* finish("p")
        expect(done.unblocked).toEqual([lenient.id])
        expect((yield* q.get(p.id)).subtree).toEqual({ total: 1, completed: 0, open: 0, failed: 1, cancelled: 0 })
        yield* checkInvariants()
      })
    )

    queueTest("a cancel edge on a prerequisite with a failed task below it is refused; ignore is accepted", () =>
      Effect.gen(function* () {
        const q = yield* TaskQueue
        const p = yield* q.submit(aTask({ agentType: "p" }))
        yield* q.submit(aTask({ parentTaskId: p.id, agentType: "kid", maxRetries: 0 }))
        yield* finish("kid", "fail")
        const before = yield* databaseDump
        const e = yield* flip(q.submit(aTask({ dependsOn: [p.id] })))
        expect(e._tag).toBe("InvalidTransition")
        expect(e.message).toContain("onFailure")
        expect(yield* databaseDump).toEqual(before)
        const ok = yield* q.submit(aTask({ dependsOn: [{ id: p.id, onFailure: "ignore" }] }))
        expect(ok.status).toBe("blocked")
      })
    )
  })

  describe("edges within one line of the hierarchy", () => {
    queueTest("a task cannot depend on its ancestor or its descendant (it would wait for itself): DependencyCycle", () =>
      Effect.gen(function* () {
        const q = yield* TaskQueue
        const top = yield* q.submit(aTask())
        const mid = yield* q.submit(aTask({ parentTaskId: top.id }))
        const before = yield* databaseDump
        const sub = yield* flip(q.submit(aTask({ parentTaskId: mid.id, dependsOn: [top.id] })))
        expect(sub).toMatchObject({ _tag: "DependencyCycle" })
        expect(sub.message).toContain("below")
        const up = yield* flip(q.addDependency(mid.id, { prerequisiteId: top.id }))
        expect(up).toMatchObject({ _tag: "DependencyCycle", cycle: [mid.id, top.id, mid.id] })
        const down = yield* flip(q.addDependency(top.id, { prerequisiteId: mid.id }))
        expect(down._tag).toBe("DependencyCycle")
        const plan = yield* flip(q.submitPlan({ tasks: [aNode("a", { children: [aNode("b", { dependsOn: ["a"] })] })] }))
        expect(plan._tag).toBe("DependencyCycle")
        const planDown = yield* flip(q.submitPlan({ tasks: [aNode("a", { dependsOn: ["b"], children: [aNode("b")] })] }))
        expect(planDown._tag).toBe("DependencyCycle")
        const planExternal = yield* flip(q.submitPlan({ tasks: [aNode("a", { parentTaskId: mid.id, dependsOn: [top.id] })] }))
        expect(planExternal._tag).toBe("DependencyCycle")
        expect(yield* databaseDump).toEqual(before)
      })
    )
  })

  describe("deadlocks through the hierarchy", () => {
    // A depends on B, and D is a subtask of A: D waits for B's whole subtree. B (or anything in its
    // subtree) waiting for D would wait for itself, though no chain of "depends on" closes a cycle.
    queueTest("B depends on D, below A which depends on B: refused as a DependencyCycle that names the chain; nothing changes", () =>
      Effect.gen(function* () {
        const q = yield* TaskQueue
        const b = yield* q.submit(aTask({ agentType: "b" }))
        const a = yield* q.submit(aTask({ dependsOn: [b.id] }))
        const d = yield* q.submit(aTask({ parentTaskId: a.id }))
        const bChild = yield* q.submit(aTask({ parentTaskId: b.id, agentType: "bchild" }))
        const before = yield* databaseDump
        const direct = yield* flip(q.addDependency(b.id, { prerequisiteId: d.id }))
        expect(direct).toMatchObject({ _tag: "DependencyCycle", cycle: [b.id, d.id, a.id, b.id] })
        expect(direct.message).toBe(
          `this dependency would make tasks wait for each other forever: ${b.id} depends on ${d.id}, ${d.id} is below ${a.id}, ${a.id} depends on ${b.id}`
        )
        // B's subtask waiting for D: D waits for B's subtree, which holds that subtask.
        const below = yield* flip(q.addDependency(bChild.id, { prerequisiteId: d.id }))
        expect(below).toMatchObject({ _tag: "DependencyCycle", cycle: [bChild.id, d.id, a.id, b.id, bChild.id] })
        // A new subtask of B that depends on D, and a plan that does the same.
        const sub = yield* flip(q.submit(aTask({ parentTaskId: b.id, dependsOn: [d.id] })))
        expect(sub._tag).toBe("DependencyCycle")
        const plan = yield* flip(q.submitPlan({ tasks: [aNode("x", { parentTaskId: b.id, children: [aNode("y", { dependsOn: [d.id] })] })] }))
        expect(plan._tag).toBe("DependencyCycle")
        expect(yield* databaseDump).toEqual(before)
        // The work still runs to the end: B's subtree, then A's.
        yield* finish("bchild")
        yield* finish("b")
        expect(yield* statuses([a.id, d.id])).toEqual(["ready", "ready"])
        yield* checkInvariants()
      })
    )

    queueTest("a running task counts as waiting: a subtask of its prerequisite may not depend on it (a release would deadlock)", () =>
      Effect.gen(function* () {
        const q = yield* TaskQueue
        const p = yield* q.submit(aTask({ agentType: "p" }))
        yield* finish("p")
        const x = yield* q.submit(aTask({ agentType: "x", dependsOn: [p.id] }))
        const running = yield* q.claim({ agentType: "x", worker: "w" })
        expect(running?.id).toBe(x.id)
        // Were F accepted, P's subtree would open again: X, once released or retried, would wait
        // for F, and F for X.
        const before = yield* databaseDump
        const e = yield* flip(q.submit(aTask({ parentTaskId: p.id, dependsOn: [x.id] })))
        expect(e).toMatchObject({ _tag: "DependencyCycle" })
        expect(e.message).toContain(`${x.id} depends on ${p.id}`)
        expect(yield* databaseDump).toEqual(before)
        yield* q.release(x.id, { leaseToken: running!.leaseToken })
        expect(yield* statuses([x.id])).toEqual(["ready"])
        yield* checkInvariants()
      })
    )

    queueTest("a deadlock inside one plan (ship's subtask waits for a task that waits for ship) is refused whole", () =>
      Effect.gen(function* () {
        const q = yield* TaskQueue
        const before = yield* databaseDump
        const plan = yield* flip(
          q.submitPlan({
            tasks: [aNode("b", { dependsOn: ["d"] }), aNode("a", { dependsOn: ["b"], children: [aNode("d")] })]
          })
        )
        expect(plan).toMatchObject({ _tag: "DependencyCycle" })
        expect(plan.message).toContain("is below")
        expect(yield* databaseDump).toEqual(before)
      })
    )

    queueTest("edges that only look circular are accepted: D below A depends on B, and B's sibling waits for A", () =>
      Effect.gen(function* () {
        const q = yield* TaskQueue
        const b = yield* q.submit(aTask())
        const a = yield* q.submit(aTask())
        const d = yield* q.submit(aTask({ parentTaskId: a.id, dependsOn: [b.id] }))
        const c = yield* q.submit(aTask({ dependsOn: [a.id] }))
        // B does not wait for A (only D, below A, waits for B): B may be a prerequisite of C's work.
        yield* q.addDependency(c.id, { prerequisiteId: b.id })
        expect(yield* statuses([b.id, a.id, d.id, c.id])).toEqual(["ready", "ready", "blocked", "blocked"])
      })
    )
  })

  describe("the README's deadlock example", () => {
    queueTest("spec cannot depend on api: api waits for spec through its parent impl", () =>
      Effect.gen(function* () {
        const q = yield* TaskQueue
        const { tasks } = yield* q.submitPlan(readmePlan)
        const id = (k: string) => tasks[k]!.id
        const e = yield* flip(q.addDependency(id("spec"), { prerequisiteId: id("api") }))
        expect(e.message).toContain(
          `${id("spec")} depends on ${id("api")}, ${id("api")} is below ${id("impl")}, ${id("impl")} depends on ${id("spec")}`
        )
      })
    )
  })

  describe("the execution plan follows the hierarchy", () => {
    queueTest("a subtask comes after its parent's prerequisites; a parent's dependents after its last subtask", () =>
      Effect.gen(function* () {
        const q = yield* TaskQueue
        const { tasks } = yield* q.submitPlan(readmePlan)
        const id = (k: string) => tasks[k]!.id
        const plan = yield* q.executionPlan()
        // spec; then impl and api (both wait for spec only); ui (after api); ship (after impl's subtree).
        expect(plan.batches).toEqual([[id("spec")], [id("impl"), id("api")], [id("ui")], [id("ship")]])
        const sorted = (batches: ReadonlyArray<ReadonlyArray<string>>) => batches.map((b) => [...b].sort())
        const named = yield* q.executionPlan({ taskIds: [id("ship")] })
        expect(sorted(named.batches)).toEqual(sorted(plan.batches))
        const ui = yield* q.executionPlan({ taskIds: [id("ui")] })
        expect(ui.batches).toEqual([[id("spec")], [id("api")], [id("ui")]])
      })
    )
  })

  describe("a subtask under a finished subtree", () => {
    queueTest("re-blocks the dependents that have not started; those that started are left alone", () =>
      Effect.gen(function* () {
        const q = yield* TaskQueue
        const p = yield* q.submit(aTask({ agentType: "p" }))
        const waiting = yield* q.submit(aTask({ dependsOn: [p.id], agentType: "waiting" }))
        const started = yield* q.submit(aTask({ dependsOn: [p.id], agentType: "started" }))
        yield* finish("p")
        const running = yield* q.claim({ agentType: "started" })
        expect(running!.id).toBe(started.id)
        const late = yield* q.submit(aTask({ parentTaskId: p.id, agentType: "late" }))
        expect(yield* statuses([waiting.id, started.id])).toEqual(["blocked", "running"])
        expect((yield* q.get(waiting.id)).prerequisites[0]!.resolvedAt).toBeNull()
        yield* checkInvariants()
        const r = yield* finish("late")
        expect(r.unblocked).toEqual([waiting.id])
        expect(late.source).toBe("agent_planner")
        yield* checkInvariants()
      })
    )

    queueTest("re-blocks a dependent and its subtask that both wait on the reopened task", () =>
      Effect.gen(function* () {
        const q = yield* TaskQueue
        const p = yield* q.submit(aTask({ agentType: "p" }))
        const outer = yield* q.submit(aTask({ dependsOn: [p.id] }))
        const inner = yield* q.submit(aTask({ parentTaskId: outer.id, dependsOn: [p.id] }))
        yield* finish("p")
        expect(yield* statuses([outer.id, inner.id])).toEqual(["ready", "ready"])
        yield* q.submit(aTask({ parentTaskId: p.id }))
        expect(yield* statuses([outer.id, inner.id])).toEqual(["blocked", "blocked"])
        yield* checkInvariants()
      })
    )
  })
  edgesAndSubmits(store)
}
