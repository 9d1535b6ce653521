import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { Sandbox, type Task } from "./support/Cli.js"

/**
 * An agent swarm through the command line: a person asks for a feature, a requirements agent
 * writes requirements, a planner submits a plan of subtasks, and two workers claim and finish the
 * subtasks in dependency order, never the same task twice.
 */
describe("an agent swarm", () => {
  it("goes from a human's request to finished subtasks in dependency order", async () => {
    const s = new Sandbox()

    // A person asks.
    const goal = await s.submit("Build a TODO web app\nWith accounts and sharing.", "--priority", "8", "--source", "human")
    expect(goal.summary).toBe("Build a TODO web app")

    // The requirements agent takes the request and files its own task under it.
    const claimedGoal = await s.json<Task>(["next", "--worker", "requirements-agent"])
    expect(claimedGoal.id).toBe(goal.id)
    const requirements = await s.submit("Write the requirements", "--source", "agent_requirements", "--parent", goal.id, "--priority", "7")
    const planning = await s.submit("Plan the implementation", "--source", "agent_planner", "--parent", goal.id, "--depends-on", requirements.id)
    expect(planning.status).toBe("blocked")
    await s.json(["complete", goal.id, "--lease-token", claimedGoal.leaseToken!, "--result", '{"delegated": true}'])

    // Someone writes the requirements; that unblocks the planner.
    const req = await s.json<Task>(["next", "--worker", "requirements-agent"])
    expect(req.id).toBe(requirements.id)
    const reqDone = await s.json(["complete", req.id, "--lease-token", req.leaseToken!, "--result", '{"doc": "requirements.md"}'])
    expect(reqDone.unblocked).toEqual([planning.id])

    // The planner claims its task and submits a plan file of subtasks under it.
    const plannerTask = await s.json<Task>(["next", "--worker", "planner"])
    expect(plannerTask.id).toBe(planning.id)
    const plan = {
      tasks: [
        { key: "schema", prompt: "Design the database schema", source: "agent_planner", priority: 8 },
        { key: "api", prompt: "Implement the REST API", source: "agent_implementation", dependsOn: ["schema"], agentType: "coder" },
        {
          key: "ui",
          prompt: "Build the web UI",
          source: "agent_implementation",
          dependsOn: ["schema"],
          children: [
            { key: "ui-list", prompt: "The list view", source: "agent_implementation" },
            { key: "ui-share", prompt: "The sharing dialog", source: "agent_implementation", dependsOn: ["ui-list"] }
          ]
        },
        {
          key: "tests",
          prompt: "End-to-end tests",
          source: "agent_implementation",
          dependsOn: ["api", "ui", "ui-share"],
          dependencyType: "parallel"
        },
        { key: "docs", prompt: "Write the user guide", source: "agent_implementation", dependsOn: [requirements.id], priority: 2 }
      ]
    }
    const planFile = join(s.dir, "plan.json")
    writeFileSync(planFile, JSON.stringify(plan, null, 2))
    const submitted = await s.json<{ tasks: Record<string, Task> }>(["submit", "--file", planFile, "--parent", planning.id])
    const id = (key: string) => submitted.tasks[key]!.id
    expect(Object.keys(submitted.tasks).sort()).toEqual(["api", "docs", "schema", "tests", "ui", "ui-list", "ui-share"])
    expect(submitted.tasks["schema"]!.parentTaskId).toBe(planning.id)
    expect(submitted.tasks["ui-list"]!.parentTaskId).toBe(id("ui"))
    expect(submitted.tasks["docs"]!.status).toBe("ready") // its prerequisite already completed
    await s.json(["complete", planning.id, "--lease-token", plannerTask.leaseToken!])

    // The plan, as the queue sees it: what can run side by side. ui-list waits for schema (its
    // parent ui does), and tests wait for ui's whole subtree.
    const executionPlan = await s.json(["plan"])
    const batchOf = new Map<string, number>()
    executionPlan.batches.forEach((batch: Array<string>, i: number) => {
      for (const t of batch) batchOf.set(t, i)
    })
    expect(batchOf.get(id("schema"))).toBe(0)
    expect(batchOf.get(id("docs"))).toBe(0)
    expect(batchOf.get(id("api"))).toBe(1)
    expect(batchOf.get(id("ui"))).toBe(1)
    expect(batchOf.get(id("ui-list"))).toBe(1)
    expect(batchOf.get(id("ui-share"))).toBe(2)
    expect(batchOf.get(id("tests"))).toBe(3)
    expect(executionPlan.totalBatches).toBe(4)
    expect(executionPlan.maxParallelism).toBe(3)
    let status = await s.json(["status"])
    // ui-list waits too: its parent ui waits for schema.
    expect(status.byStatus).toMatchObject({ completed: 3, ready: 2, blocked: 5, running: 0 })

    // Two workers drain the queue.
    const finishedAt = new Map<string, number>()
    const claimedAt = new Map<string, number>()
    let clock = 0
    const worker = async (name: string) => {
      for (;;) {
        const t = await s.json<Task | null>(["next", "--worker", name])
        if (t === null) {
          // Nothing ready: either all done, or the other worker holds the last prerequisite.
          const st = await s.json(["status"])
          if (st.byStatus.ready + st.byStatus.running + st.byStatus.blocked === 0) return
          await new Promise((r) => setTimeout(r, 100))
          continue
        }
        expect(claimedAt.has(t.id)).toBe(false)
        claimedAt.set(t.id, clock++)
        await s.json(["heartbeat", t.id, "--lease-token", t.leaseToken!, "--lease", "120"])
        await s.json(["complete", t.id, "--lease-token", t.leaseToken!, "--result", JSON.stringify({ by: name })])
        finishedAt.set(t.id, clock++)
      }
    }
    await Promise.all([worker("worker-1"), worker("worker-2")])
    expect([...claimedAt.keys()].sort()).toEqual(
      Object.values(submitted.tasks)
        .map((t) => t.id)
        .sort()
    )

    // Every task started only after its prerequisites had finished.
    const edges: Array<[string, string]> = [
      ["api", "schema"],
      ["ui", "schema"],
      ["ui-list", "schema"],
      ["ui-share", "ui-list"],
      ["tests", "api"],
      ["tests", "ui"],
      ["tests", "ui-share"]
    ]
    for (const [dependent, prerequisite] of edges) {
      expect(claimedAt.get(id(dependent))!).toBeGreaterThan(finishedAt.get(id(prerequisite))!)
    }

    status = await s.json(["status"])
    expect(status).toMatchObject({ total: 10, avgPriority: null, maxDepth: null, oldestWaitingAt: null })
    expect(status.byStatus.completed).toBe(10)
    expect(await s.json(["plan"])).toEqual({ batches: [], totalBatches: 0, maxParallelism: 0 })

    // The hierarchy: goal > requirements, planning > the plan's tasks > ui's children.
    const tree = await s.json(["tree", goal.id])
    expect(tree.children.map((n: { task: Task }) => n.task.id)).toEqual([requirements.id, planning.id])
    const planNode = tree.children[1]
    expect(planNode.children.map((n: { task: Task }) => n.task.summary)).toEqual([
      "Design the database schema",
      "Implement the REST API",
      "Build the web UI",
      "End-to-end tests",
      "Write the user guide"
    ])
    const text = await s.text(["tree", goal.id])
    expect(text).toContain("└─ ✔ Plan the implementation")
    expect(text).toContain("│  ├─ ✔ The list view")
    const graph = await s.text(["graph", id("tests")])
    expect(graph).toContain(`t${id("schema").replaceAll("-", "")} --> t${id("api").replaceAll("-", "")}`)
  })
})
