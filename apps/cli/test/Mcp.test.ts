import { CONTRACT_MCP_TOOLS } from "@abathur/testing"
import BetterSqlite3 from "better-sqlite3"
import { describe, expect, it, vi } from "vitest"
import { MISSING_ID, Sandbox, type Task } from "./support/Cli.js"
import { connect } from "./support/McpClient.js"

describe("abathur mcp", () => {
  it("lists the tools and runs a small plan through them; the CLI sees the same queue", async () => {
    const s = new Sandbox()
    const mcp = await connect(s)
    try {
      const { tools } = await mcp.client.listTools()
      expect(tools.map((t) => t.name).sort()).toEqual(CONTRACT_MCP_TOOLS)
      for (const t of tools) {
        expect(t.description?.length).toBeGreaterThan(20)
        expect(t.inputSchema.type).toBe("object")
      }
      const enqueue = tools.find((t) => t.name === "task_enqueue")!
      expect(enqueue.inputSchema.required).toEqual(["prompt"])
      expect(Object.keys(enqueue.inputSchema.properties ?? {})).toEqual(
        expect.arrayContaining(["prompt", "priority", "source", "dependsOn", "parentTaskId", "inputData"])
      )
      expect(tools.find((t) => t.name === "task_complete")!.inputSchema.required).toContain("taskId")

      // The plan of packages/mcp's own test, here through the built CLI on stdio: alike in shape by design.
      const goal = await mcp.ok("task_enqueue", { prompt: "Release 1.0", source: "human", priority: 9 })
      expect(goal.status).toBe("ready")
      const plan = await mcp.ok("task_plan_submit", {
        tasks: [
          { key: "notes", prompt: "Write release notes", parentTaskId: goal.id, source: "agent_planner" },
          { key: "tag", prompt: "Tag the release", parentTaskId: goal.id, dependsOn: ["notes"] },
          { key: "announce", prompt: "Announce it", parentTaskId: goal.id, dependsOn: ["tag"] }
        ]
      })
      const ids = { notes: plan.tasks.notes.id, tag: plan.tasks.tag.id, announce: plan.tasks.announce.id }
      const execution = await mcp.ok("task_execution_plan", { taskIds: [ids.announce] })
      expect(execution).toEqual({ batches: [[ids.notes], [ids.tag], [ids.announce]], totalBatches: 3, maxParallelism: 1 })
      const listed = await mcp.ok("task_list", { parentTaskId: goal.id, status: ["ready", "blocked"] })
      expect(listed.tasks.map((t: Task) => t.id).sort()).toEqual(Object.values(ids).sort())

      // The goal first (human, priority 9), then the plan in dependency order.
      const first = await mcp.ok("task_claim", { worker: "agent-1" })
      expect(first.task.id).toBe(goal.id)
      const order: Array<string> = []
      for (;;) {
        const { task } = await mcp.ok("task_claim", { worker: "agent-1", leaseSeconds: 300 })
        if (task === null) break
        expect(task.leaseToken).toEqual(expect.any(String))
        order.push(task.id)
        const done = await mcp.ok("task_complete", { taskId: task.id, leaseToken: task.leaseToken, result: { done: task.summary } })
        expect(done.task.status).toBe("completed")
      }
      expect(order).toEqual([ids.notes, ids.tag, ids.announce])
      expect((await mcp.err("task_fail", { taskId: goal.id, error: "changed my mind" }))._tag).toBe("LeaseMismatch")
      const failed = await mcp.ok("task_fail", { taskId: goal.id, error: "changed my mind", force: true })
      expect(failed.retried).toBe(true)
      const cancelled = await mcp.ok("task_cancel", { taskId: goal.id })
      expect(cancelled.task.status).toBe("cancelled")
      const got = await mcp.ok("task_get", { taskId: ids.announce })
      expect(got.resultData).toEqual({ done: "Announce it" })
      expect(got.priorityBreakdown).toBeDefined()
      const status = await mcp.ok("task_queue_status")
      expect(status.byStatus).toMatchObject({ completed: 3, cancelled: 1 })

      // Errors are tool errors carrying the contract's Error JSON.
      expect((await mcp.err("task_enqueue", { prompt: "x", priority: 11 }))._tag).toBe("ValidationError")
      expect((await mcp.err("task_get", { taskId: MISSING_ID }))._tag).toBe("TaskNotFound")
      // MCP takes whole ids (prefixes are for people at the command line).
      expect((await mcp.err("task_get", { taskId: ids.announce!.slice(0, 8) }))._tag).toBe("ValidationError")
      expect((await mcp.err("task_complete", { taskId: ids.notes }))._tag).toBe("InvalidTransition")
      expect((await mcp.err("task_list", { status: ["finished"] }))._tag).toBe("ValidationError")
      const cycle = await mcp.err("task_plan_submit", { tasks: [{ key: "a", prompt: "a", dependsOn: ["a"] }] })
      expect(cycle._tag).toBe("DependencyCycle")
    } finally {
      await mcp.close()
    }
    // Nothing but the protocol went to stdout (the client would have failed), and the CLI agrees.
    expect(mcp.stderr()).not.toContain("error")
    const status = await s.json(["status"])
    expect(status.total).toBe(4)
    expect(status.byStatus.completed).toBe(3)
  })

  it("checkpoints the WAL on a background thread while it runs (the worker beside the bundle)", async () => {
    const s = new Sandbox()
    const mcp = await connect(s)
    try {
      for (let i = 0; i < 5; i++) await mcp.ok("task_enqueue", { prompt: `task ${i}` })
      // Read without checkpointing: the frames in the WAL, and how many are in the database file.
      const walState = () => {
        const db = new BetterSqlite3(s.db, { fileMustExist: true })
        try {
          return (db.pragma("wal_checkpoint(NOOP)") as Array<{ log: number; checkpointed: number }>)[0]!
        } finally {
          db.close()
        }
      }
      await vi.waitFor(
        () => {
          const { log, checkpointed } = walState()
          expect(log).toBeGreaterThan(0)
          expect(checkpointed).toBe(log)
        },
        { timeout: 20_000, interval: 100 }
      )
    } finally {
      await mcp.close()
    }
  })
})
