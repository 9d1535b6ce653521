/** makeMcpServer: the tools and their schemas, a plan through its lifecycle, bad input as the contract's error document. */
import { describe, expect, it } from "vitest"
import { toolDefinitions } from "../src/index.js"
import { ToolNames, propertiesOf, open } from "./harness.js"

describe("makeMcpServer", () => {
  it("lists the contract's tools with JSON schemas derived from the domain", async () => {
    const h = await open()
    try {
      const { tools } = await h.client.listTools()
      expect(tools.map((t) => t.name).sort()).toEqual([...ToolNames].sort())
      expect(toolDefinitions).toHaveLength(ToolNames.length)
      const enqueue = tools.find((t) => t.name === "task_enqueue")!
      const props = enqueue.inputSchema.properties as Record<string, { type?: string; enum?: Array<string>; maximum?: number }>
      expect(enqueue.inputSchema.required).toEqual(["prompt"])
      expect(props["priority"]?.maximum).toBe(10)
      expect(props["source"]?.enum).toEqual(["human", "agent_requirements", "agent_planner", "agent_implementation"])
      expect((enqueue.inputSchema as Record<string, unknown>)["additionalProperties"]).toBe(false)
      const complete = tools.find((t) => t.name === "task_complete")!
      expect(Object.keys(complete.inputSchema.properties ?? {})).toContain("taskId")
      expect(complete.inputSchema.required).toContain("taskId")
      const list = tools.find((t) => t.name === "task_list")!
      const status = (list.inputSchema.properties as Record<string, { type?: string; items?: { enum?: Array<string> } }>)["status"]
      expect(status?.type).toBe("array")
      expect(status?.items?.enum).toContain("ready")
      const plan = tools.find((t) => t.name === "task_plan_submit")!
      expect(plan.inputSchema.required).toEqual(["tasks"])
      const claim = tools.find((t) => t.name === "task_claim")!
      expect(claim.annotations?.readOnlyHint).toBe(false)
      expect(tools.find((t) => t.name === "task_get")!.annotations?.readOnlyHint).toBe(true)
    } finally {
      await h.close()
    }
  })

  it("submits, claims and completes a plan in dependency order", async () => {
    const h = await open()
    try {
      const root = await h.ok("task_enqueue", { prompt: "Ship the feature", source: "human", priority: 8 })
      expect(root.status).toBe("ready")
      const plan = await h.ok("task_plan_submit", {
        tasks: [
          { key: "design", prompt: "Design it", parentTaskId: root.id, source: "agent_planner" },
          { key: "build", prompt: "Build it", parentTaskId: root.id, dependsOn: ["design"] },
          { key: "test", prompt: "Test it", parentTaskId: root.id, dependsOn: ["build"] }
        ]
      })
      expect(Object.keys(plan.tasks).sort()).toEqual(["build", "design", "test"])
      expect(plan.tasks.build.status).toBe("blocked")
      const execution = await h.ok("task_execution_plan", { taskIds: [plan.tasks.test.id] })
      expect(execution.batches).toEqual([[plan.tasks.design.id], [plan.tasks.build.id], [plan.tasks.test.id]])
      expect(execution.totalBatches).toBe(3)

      // The human's task first (higher priority), then the plan in order.
      const first = await h.ok("task_claim", { worker: "w1" })
      expect(first.task.id).toBe(root.id)
      expect(first.task.leaseToken).toEqual(expect.any(String))
      const order: Array<string> = []
      for (;;) {
        const claimed = await h.ok("task_claim", { worker: "w1", leaseSeconds: 60 })
        if (claimed.task === null) break
        order.push(claimed.task.id)
        const done = await h.ok("task_complete", {
          taskId: claimed.task.id,
          leaseToken: claimed.task.leaseToken,
          result: { ok: true }
        })
        expect(done.task.status).toBe("completed")
        expect(done.task.leaseToken).toBeUndefined()
      }
      expect(order).toEqual([plan.tasks.design.id, plan.tasks.build.id, plan.tasks.test.id])
      const got = await h.ok("task_get", { taskId: plan.tasks.test.id })
      expect(got.resultData).toEqual({ ok: true })
      expect(got.prerequisites).toEqual([expect.objectContaining({ taskId: plan.tasks.build.id, resolvedAt: expect.any(String) })])
      expect(got.priorityBreakdown).toEqual(expect.objectContaining({ base: expect.any(Number), source: expect.any(Number) }))
      const status = await h.ok("task_queue_status")
      expect(status.total).toBe(4)
      expect(status.byStatus.completed).toBe(3)
      expect(status.byStatus.running).toBe(1)
      const list = await h.ok("task_list", { status: ["completed"] })
      expect(list.tasks).toHaveLength(3)
      const parentList = await h.ok("task_list", { parentTaskId: root.id, limit: 2 })
      expect(parentList.tasks).toHaveLength(2)
    } finally {
      await h.close()
    }
  })

  it("claims several tasks with limit, and completes one while claiming the next", async () => {
    const h = await open()
    try {
      const ids: Array<string> = []
      for (const priority of [9, 8, 7, 1]) ids.push((await h.ok("task_enqueue", { prompt: `p${priority}`, priority })).id)
      const two = await h.ok("task_claim", { worker: "w", limit: 2 })
      expect(Object.keys(two)).toEqual(["tasks"])
      expect(two.tasks.map((t: { id: string }) => t.id)).toEqual([ids[0], ids[1]])
      expect(two.tasks[1].leaseToken).toEqual(expect.any(String))
      const done = await h.ok("task_complete", { taskId: ids[0], leaseToken: two.tasks[0].leaseToken, next: { worker: "w" } })
      expect(done.task.status).toBe("completed")
      expect(done.next).toEqual(expect.objectContaining({ id: ids[2], status: "running", leaseToken: expect.any(String) }))
      const last = await h.ok("task_complete", { taskId: ids[2], leaseToken: done.next.leaseToken, next: {} })
      expect(last.next.id).toBe(ids[3])
      const end = await h.ok("task_complete", { taskId: ids[3], leaseToken: last.next.leaseToken, next: {} })
      expect(end.next).toBeNull()
      expect(await h.ok("task_claim", { limit: 3 })).toEqual({ tasks: [] })
      expect((await h.err("task_claim", { limit: 101 }))._tag).toBe("ValidationError")
      const forced = await h.ok("task_complete", { taskId: ids[1], force: true })
      expect(forced.task.status).toBe("completed")
    } finally {
      await h.close()
    }
  })

  it("fails with retries, then cancels dependents; cancel cascades", async () => {
    const h = await open()
    try {
      const a = await h.ok("task_enqueue", { prompt: "a", maxRetries: 1, retryBackoffSeconds: 0 })
      const b = await h.ok("task_enqueue", { prompt: "b", dependsOn: [a.id] })
      let claimed = await h.ok("task_claim", {})
      const first = await h.ok("task_fail", { taskId: a.id, error: "boom", leaseToken: claimed.task.leaseToken })
      expect(first.retried).toBe(true)
      expect(first.task.status).toBe("ready")
      claimed = await h.ok("task_claim", {})
      // Without the token a RUNNING task is refused; an operator's force goes through.
      const refused = await h.err("task_fail", { taskId: a.id, error: "boom again" })
      expect(refused).toEqual(expect.objectContaining({ _tag: "LeaseMismatch", taskId: a.id }))
      expect(refused.message).toContain("force")
      const second = await h.ok("task_fail", { taskId: a.id, error: "boom again", force: true })
      expect(second.retried).toBe(false)
      expect(second.cancelled).toEqual([b.id])
      const c = await h.ok("task_enqueue", { prompt: "c" })
      const d = await h.ok("task_enqueue", { prompt: "d", dependsOn: [c.id] })
      const cancelled = await h.ok("task_cancel", { taskId: c.id })
      expect(cancelled.task.status).toBe("cancelled")
      expect(cancelled.cancelled).toEqual([d.id])
      const none = await h.ok("task_claim", { waitSeconds: 0.3 })
      expect(none).toEqual({ task: null })
    } finally {
      await h.close()
    }
  })

  it("describes every input property of every tool, and names shared schemas readably", async () => {
    const h = await open()
    try {
      const { tools } = await h.client.listTools()
      for (const tool of tools) {
        expect(tool.description?.length, tool.name).toBeGreaterThan(20)
        const props = propertiesOf(tool.inputSchema)
        if (tool.name !== "task_queue_status") expect(props.length, tool.name).toBeGreaterThan(0)
        for (const p of props) {
          const d = p.schema["description"]
          expect(typeof d === "string" && d.length > 10 ? "described" : `${tool.name} ${p.path} has no description`).toBe("described")
        }
        expect(JSON.stringify(tool.inputSchema), tool.name).not.toMatch(/__schema\d/)
      }
      const plan = tools.find((t) => t.name === "task_plan_submit")!
      const defs = (plan.inputSchema as { $defs?: Record<string, { properties?: Record<string, { description?: string }> }> }).$defs ?? {}
      expect(Object.keys(defs).sort()).toEqual(["JsonValue", "PlanNode"])
      expect(defs["PlanNode"]?.properties?.["dependsOn"]?.description).toContain("by key")
      const claim = tools.find((t) => t.name === "task_claim")!
      expect((claim.inputSchema.properties as Record<string, { description?: string }>)["agentType"]?.description).toBe(
        "Only claim tasks for this kind of agent."
      )
    } finally {
      await h.close()
    }
  })

  it("an unknown argument is a ValidationError that lists the accepted ones, and changes nothing", async () => {
    const h = await open()
    try {
      const e = await h.err("task_claim", { wroker: "me" })
      expect(e._tag).toBe("ValidationError")
      expect(e.message).toBe(
        'unknown argument "wroker" for task_claim: remove it or fix the spelling (accepted: worker, leaseSeconds, agentType, waitSeconds, limit)'
      )
      const t = await h.ok("task_enqueue", { prompt: "x" })
      const two = await h.err("task_get", { taskId: t.id, verbose: true, depth: 2 })
      expect(two.message).toContain('unknown arguments "verbose", "depth" for task_get')
      expect(two.message).toContain("(accepted: taskId)")
      expect((await h.err("task_queue_status", { all: true })).message).toContain("(accepted: none)")
      expect((await h.err("task_cancel", { taskId: t.id, reason: "why" })).message).toContain("accepted: taskId")
      expect((await h.err("task_plan_submit", { tasks: [{ key: "a", prompt: "a" }], parent: t.id })).message).toContain("accepted: tasks")
      // Nothing was claimed or cancelled.
      expect((await h.ok("task_get", { taskId: t.id })).status).toBe("ready")
      expect((await h.ok("task_queue_status")).total).toBe(1)
    } finally {
      await h.close()
    }
  })

  it("task_heartbeat renews a lease, task_release gives the task back, task_retry revives a failed task", async () => {
    const h = await open()
    try {
      const a = await h.ok("task_enqueue", { prompt: "flaky", maxRetries: 0 })
      const b = await h.ok("task_enqueue", { prompt: "after flaky", dependsOn: [a.id] })
      const { task } = await h.ok("task_claim", { worker: "agent", leaseSeconds: 30 })
      expect(task.id).toBe(a.id)
      const renewed = await h.ok("task_heartbeat", { taskId: a.id, leaseToken: task.leaseToken, leaseSeconds: 600 })
      expect(renewed.leaseToken).toBe(task.leaseToken)
      expect(Date.parse(renewed.leaseExpiresAt)).toBeGreaterThan(Date.parse(task.leaseExpiresAt))
      expect((await h.err("task_heartbeat", { taskId: a.id, leaseToken: "stale" }))._tag).toBe("LeaseMismatch")
      const released = await h.ok("task_release", { taskId: a.id, leaseToken: task.leaseToken })
      expect(released).toEqual(expect.objectContaining({ id: a.id, status: "ready", retryCount: 0 }))
      expect(released).not.toHaveProperty("leaseToken")
      expect((await h.err("task_release", { taskId: a.id }))._tag).toBe("InvalidTransition")
      const again = await h.ok("task_claim", {})
      const failed = await h.ok("task_fail", { taskId: a.id, leaseToken: again.task.leaseToken, error: "boom" })
      expect(failed.cancelled).toEqual([b.id])
      const retried = await h.ok("task_retry", { taskId: a.id })
      expect(retried).toEqual({ task: expect.objectContaining({ id: a.id, status: "ready", errorMessage: null }), revived: [b.id] })
      expect((await h.err("task_retry", { taskId: a.id }))._tag).toBe("InvalidTransition")
    } finally {
      await h.close()
    }
  })

  it("answers bad input with tool errors carrying the contract's error document", async () => {
    const h = await open({ maxDependencies: 1 })
    try {
      expect((await h.err("task_enqueue", { prompt: "x", priority: 11 }))._tag).toBe("ValidationError")
      expect((await h.err("task_enqueue", {}))._tag).toBe("ValidationError")
      expect((await h.err("task_enqueue", { prompt: "x", bogus: 1 })).message).toContain("bogus")
      expect((await h.err("task_enqueue", { prompt: "x", source: "robot" })).message).toContain("robot")
      expect((await h.err("task_get", { taskId: "nope" }))._tag).toBe("ValidationError")
      expect((await h.err("task_get", {}))._tag).toBe("ValidationError")
      const missing = "3f2b8c1e-9d4a-4f6b-8e2a-1c5d7e9f0a2b"
      const notFound = await h.err("task_get", { taskId: missing })
      expect(notFound).toEqual(expect.objectContaining({ _tag: "TaskNotFound", taskId: missing }))
      expect((await h.err("task_list", { status: ["bogus"] }))._tag).toBe("ValidationError")
      const cycle = await h.err("task_plan_submit", {
        tasks: [
          { key: "a", prompt: "a", dependsOn: ["b"] },
          { key: "b", prompt: "b", dependsOn: ["a"] }
        ]
      })
      expect(cycle._tag).toBe("DependencyCycle")
      expect(cycle["cycle"]).toEqual(expect.arrayContaining(["a", "b"]))
      const x = await h.ok("task_enqueue", { prompt: "x" })
      const y = await h.ok("task_enqueue", { prompt: "y" })
      const limit = await h.err("task_enqueue", { prompt: "z", dependsOn: [x.id, y.id] })
      expect(limit).toEqual(expect.objectContaining({ _tag: "LimitExceeded", limit: "dependencies", max: 1, actual: 2 }))
      const blocked = await h.ok("task_enqueue", { prompt: "w", dependsOn: [x.id] })
      expect((await h.err("task_complete", { taskId: blocked.id }))._tag).toBe("InvalidTransition")
      const claimed = await h.ok("task_claim", {})
      const stale = await h.err("task_complete", { taskId: claimed.task.id, leaseToken: "not-the-token" })
      expect(stale._tag).toBe("LeaseMismatch")
      expect((await h.err("task_fail", { taskId: claimed.task.id }))._tag).toBe("ValidationError")
      expect((await h.err("task_cancel", { taskId: claimed.task.id, extra: true }))._tag).toBe("ValidationError")
      expect((await h.err("task_claim", { waitSeconds: 100 }))._tag).toBe("ValidationError")
      // Nothing of the rejected calls was stored.
      const status = await h.ok("task_queue_status")
      expect(status.total).toBe(3)
    } finally {
      await h.close()
    }
  })
})
