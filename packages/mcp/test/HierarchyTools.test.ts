/** The hierarchy tools of December 2026: edges with onFailure, dependsOn objects, idempotent submits. */
import { describe, expect, it } from "vitest"
import { open } from "./harness.js"

describe("hierarchy tools (December 2026)", () => {
  it("describes every new input property, and dependsOn items as ids or edge objects", async () => {
    const h = await open()
    try {
      const { tools } = await h.client.listTools()
      const props = (name: string) => tools.find((t) => t.name === name)!.inputSchema.properties as Record<string, Record<string, unknown>>
      for (const name of ["notBefore", "idempotencyKey", "retryBackoffSeconds", "dependsOn"]) {
        expect(typeof props("task_enqueue")[name]?.["description"], name).toBe("string")
      }
      const items = props("task_enqueue")["dependsOn"]!["items"] as { anyOf: Array<Record<string, unknown>> }
      expect(items.anyOf.map((i) => i["type"])).toEqual(["string", "object"])
      expect(Object.keys(items.anyOf[1]!["properties"] as object).sort()).toEqual(["dependencyType", "id", "onFailure"])
      expect(typeof props("task_plan_submit")["idempotencyKey"]?.["description"]).toBe("string")
      for (const tool of ["task_dependency_add", "task_dependency_remove"]) {
        for (const [name, p] of Object.entries(props(tool))) expect(typeof p["description"], `${tool}.${name}`).toBe("string")
      }
      expect(Object.keys(props("task_dependency_add")).sort()).toEqual(["dependencyType", "onFailure", "prerequisiteId", "taskId"])
      const plan = JSON.stringify(tools.find((t) => t.name === "task_plan_submit")!.inputSchema)
      // The plan's nodes (a recursive definition) describe their fields too.
      expect(plan).toContain("Nodes (by key) or existing tasks (by id) this one waits for, each with all of its subtasks")
    } finally {
      await h.close()
    }
  })

  it("adds an edge with onFailure and removes it; the dependent becomes ready; a missing edge is TaskNotFound", async () => {
    const h = await open()
    try {
      const a = await h.ok("task_enqueue", { prompt: "a" })
      const b = await h.ok("task_enqueue", { prompt: "b" })
      const added = await h.ok("task_dependency_add", { taskId: b.id, prerequisiteId: a.id, onFailure: "ignore" })
      expect(added.status).toBe("blocked")
      expect(added.prerequisites).toEqual([expect.objectContaining({ taskId: a.id, onFailure: "ignore", resolvedAt: null })])
      const removed = await h.ok("task_dependency_remove", { taskId: b.id, prerequisiteId: a.id })
      expect(removed.status).toBe("ready")
      expect(removed.prerequisites).toEqual([])
      expect((await h.err("task_dependency_remove", { taskId: b.id, prerequisiteId: a.id }))._tag).toBe("TaskNotFound")
      expect((await h.err("task_dependency_remove", { taskId: b.id, prerequisiteId: a.id, force: true })).message).toContain("force")
      expect((await h.err("task_dependency_add", { taskId: b.id, prerequisiteId: a.id, onFailure: "maybe" }))._tag).toBe("ValidationError")
    } finally {
      await h.close()
    }
  })

  it("defaults source to agent_planner for MCP submits; an idempotent retry returns the same task", async () => {
    const h = await open()
    try {
      const t = await h.ok("task_enqueue", { prompt: "from an agent", idempotencyKey: "k-1" })
      expect(t.source).toBe("agent_planner")
      expect((await h.ok("task_enqueue", { prompt: "from an agent", source: "human" })).source).toBe("human")
      const again = await h.ok("task_enqueue", { prompt: "from an agent", idempotencyKey: "k-1" })
      expect(again.id).toBe(t.id)
      const conflict = await h.err("task_enqueue", { prompt: "something else", idempotencyKey: "k-1" })
      expect(conflict).toMatchObject({ _tag: "IdempotencyConflict", taskId: t.id })
      const plan = await h.ok("task_plan_submit", { idempotencyKey: "p-1", tasks: [{ key: "x", prompt: "X" }] })
      expect(plan.tasks.x.source).toBe("agent_planner")
      expect((await h.ok("task_plan_submit", { idempotencyKey: "p-1", tasks: [{ key: "x", prompt: "X" }] })).tasks.x.id).toBe(plan.tasks.x.id)
      expect((await h.ok("task_list", {})).tasks).toHaveLength(3)
    } finally {
      await h.close()
    }
  })
})
