import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { Sandbox, type Task, TaskKeys } from "./support/Cli.js"

/** The task commands, each with and without --json. */
describe("submit", () => {
  it("submits a task with every flag, and prints it for people", async () => {
    const s = new Sandbox()
    const parent = await s.submit("The parent")
    const prereq = await s.submit("A prerequisite")
    const task = await s.json<Task>([
      "submit",
      "Implement the endpoint",
      "--priority",
      "7",
      "--source",
      "agent_planner",
      "--depends-on",
      prereq.id,
      "--dependency-type",
      "parallel",
      "--parent",
      parent.id,
      "--deadline",
      "2099-01-31T17:00:00Z",
      "--estimate",
      "600",
      "--agent-type",
      "coder",
      "--max-retries",
      "1",
      "--timeout",
      "120",
      "--summary",
      "Endpoint",
      "--input",
      '{"repo": "api", "n": 1}'
    ])
    expect(Object.keys(task).sort()).toEqual(TaskKeys)
    expect(task).toMatchObject({
      prompt: "Implement the endpoint",
      summary: "Endpoint",
      priority: 7,
      source: "agent_planner",
      dependencyType: "parallel",
      parentTaskId: parent.id,
      deadline: "2099-01-31T17:00:00.000Z",
      estimatedDurationSeconds: 600,
      agentType: "coder",
      maxRetries: 1,
      maxExecutionTimeoutSeconds: 120,
      inputData: { repo: "api", n: 1 },
      status: "blocked",
      dependencyDepth: 1
    })
    const text = await s.text(["submit", "Write the docs", "--priority", "3"])
    expect(text).toMatch(/^Submitted [0-9a-f-]{36} +. ready +score [\d.]+\n +Write the docs\n$/)
  })

  it("submits a plan file (and stdin with -), with --parent for its top-level tasks", async () => {
    const s = new Sandbox()
    const parent = await s.submit("Plan the work", "--source", "agent_planner")
    const review = await s.submit("Review the plan")
    // (A subtask cannot depend on its own ancestor: it already waits for what the ancestor waits for.)
    const plan = {
      tasks: [
        { key: "design", prompt: "Design", source: "agent_planner" },
        { key: "build", prompt: "Build", dependsOn: ["design"], children: [{ key: "api", prompt: "API" }] },
        { key: "ship", prompt: "Ship", dependsOn: ["build", review.id] }
      ]
    }
    const file = join(s.dir, "plan.json")
    writeFileSync(file, JSON.stringify(plan))
    const r = await s.json<{ tasks: Record<string, Task> }>(["submit", "--file", file, "--parent", parent.id])
    expect(Object.keys(r).sort()).toEqual(["tasks"])
    expect(Object.keys(r.tasks).sort()).toEqual(["api", "build", "design", "ship"])
    expect(r.tasks["design"]!.parentTaskId).toBe(parent.id)
    expect(r.tasks["build"]!.parentTaskId).toBe(parent.id)
    expect(r.tasks["api"]!.parentTaskId).toBe(r.tasks["build"]!.id)
    expect(r.tasks["ship"]!.status).toBe("blocked")
    expect(r.tasks["design"]!.status).toBe("ready")

    const text = await s.text(["submit", "--file", "-"], { input: JSON.stringify({ tasks: [{ key: "k1", prompt: "From stdin" }] }) })
    expect(text).toContain("Submitted a plan of 1 task")
    expect(text).toMatch(/KEY +ID +STATUS +SCORE +SUMMARY/)
    expect(text).toMatch(/k1 +[0-9a-f-]{36} +. ready/)
  })
})

describe("show and list", () => {
  it("shows a task's detail and explains its priority", async () => {
    const s = new Sandbox()
    const a = await s.submit("First line\nsecond line of the prompt", "--priority", "9")
    const b = await s.submit("Waits for a", "--depends-on", a.id)
    const d = await s.json(["show", a.id])
    expect(Object.keys(d).sort()).toEqual(
      [...TaskKeys, "children", "dependents", "prerequisites", "priorityBreakdown", "priorityExplanation", "subtree"].sort()
    )
    expect(d.dependents).toEqual([{ taskId: b.id, dependencyType: "sequential", onFailure: "cancel", resolvedAt: null }])
    expect(d.prerequisites).toEqual([])
    expect(d.children).toEqual([])
    expect(Object.keys(d.priorityBreakdown).sort()).toEqual(["base", "dependency", "source", "starvation", "urgency"])
    expect(d.priorityBreakdown.base).toBe(90)
    const text = await s.text(["show", a.id])
    expect(text).toContain("First line")
    expect(text).toContain("second line of the prompt")
    expect(text).toMatch(/FACTOR +SCORE +WEIGHT +CONTRIBUTION +WHY/)
    expect(text).toMatch(/base +90\.0 +×1\.0 +15\.0 +submitted priority 9 of 10/)
    expect(text).toMatch(/urgency +0\.0 +×2\.0 +0\.0 +no deadline/)
    expect(text).toMatch(/dependency +10\.0 +×1\.5 +2\.5 +1 open task waits on it/)
    expect(text).toMatch(/source +100\.0 +×1\.0 +16\.7 +source human/)
    expect(text).toContain(`Dependents (1)`)
    expect(text).toContain(b.id)
  })

  it("lists by calculated priority, with filters", async () => {
    const s = new Sandbox()
    const low = await s.submit("Low", "--priority", "1", "--source", "agent_implementation")
    const high = await s.submit("High", "--priority", "10")
    const child = await s.submit("Child", "--parent", high.id, "--depends-on", low.id)
    const all = await s.json<Array<Task>>(["list"])
    expect(all.map((t) => t.id)).toEqual([high.id, child.id, low.id])
    for (let i = 1; i < all.length; i++) expect(all[i - 1]!.calculatedPriority).toBeGreaterThanOrEqual(all[i]!.calculatedPriority)
    expect((await s.json<Array<Task>>(["list", "--status", "blocked"])).map((t) => t.id)).toEqual([child.id])
    expect((await s.json<Array<Task>>(["list", "--status", "blocked", "--status", "ready", "--limit", "2"])).length).toBe(2)
    expect((await s.json<Array<Task>>(["list", "--exclude-status", "ready"])).map((t) => t.id)).toEqual([child.id])
    expect((await s.json<Array<Task>>(["list", "--source", "agent_implementation"])).map((t) => t.id)).toEqual([low.id])
    expect((await s.json<Array<Task>>(["list", "--parent", high.id])).map((t) => t.id)).toEqual([child.id])
    const text = await s.text(["list"])
    const lines = text.trimEnd().split("\n")
    expect(lines[0]).toMatch(/^ID +STATUS +PRI +SCORE +SOURCE +AGE +SUMMARY$/)
    expect(lines[1]).toContain(high.id)
    expect(lines[1]).toMatch(/● ready +10 +[\d.]+ +human +\d+s +High$/)
    expect(lines.at(-1)).toBe("3 tasks")
    expect(await s.text(["list", "--status", "failed"])).toBe("No tasks match.\n")
  })
})

describe("the worker's commands", () => {
  it("next, heartbeat, complete: claims by priority, renews the lease, unblocks dependents", async () => {
    const s = new Sandbox()
    expect(await s.json(["next"])).toBeNull()
    expect(await s.text(["next"])).toBe("Nothing is ready to claim.\n")
    const a = await s.submit("A", "--priority", "9")
    const b = await s.submit("B", "--depends-on", a.id)
    const claimed = await s.json<Task>(["next", "--worker", "w1", "--lease", "60"])
    expect(claimed.id).toBe(a.id)
    expect(claimed.status).toBe("running")
    expect(Object.keys(claimed).sort()).toEqual([...TaskKeys, "leaseExpiresAt", "leaseToken"].sort())
    const expires = Date.parse(claimed.leaseExpiresAt!)
    expect(expires - Date.now()).toBeGreaterThan(50_000)
    expect(expires - Date.now()).toBeLessThan(61_000)
    const beat = await s.json<Task>(["heartbeat", a.id, "--lease-token", claimed.leaseToken!, "--lease", "600"])
    expect(beat.leaseToken).toBe(claimed.leaseToken)
    expect(Date.parse(beat.leaseExpiresAt!) - Date.now()).toBeGreaterThan(500_000)
    const beatText = await s.text(["heartbeat", a.id, "--lease-token", claimed.leaseToken!])
    expect(beatText).toContain(`Lease extended ${a.id}`)
    // Only next and heartbeat show the lease token.
    expect((await s.json<Task>(["show", a.id])).leaseToken).toBeUndefined()
    expect((await s.json<Array<Task>>(["list", "--status", "running"]))[0]!.leaseToken).toBeUndefined()
    const done = await s.json(["complete", a.id, "--lease-token", claimed.leaseToken!, "--result", '{"pr": 42}'])
    expect(Object.keys(done).sort()).toEqual(["task", "unblocked"])
    expect(done.task.status).toBe("completed")
    expect(done.task.resultData).toEqual({ pr: 42 })
    expect(done.task.leaseToken).toBeUndefined()
    expect(done.unblocked).toEqual([b.id])
    const text = await s.text(["next", "--worker", "w2"])
    expect(text).toContain(`Claimed ${b.id}`)
    expect(text).toMatch(/lease token +[0-9a-f-]{36}/)
    expect(text).toContain(`abathur complete ${b.id} --lease-token`)
    // Without the lease token the worker's task is refused; --force is the operator's override.
    const refused = await s.fails(["complete", b.id, "--result", "7"], "LeaseMismatch", 4)
    expect(refused["taskId"]).toBe(b.id)
    expect(refused.message).toContain("w2")
    expect(refused.message).toContain("--force")
    expect((await s.json<Task>(["show", b.id])).status).toBe("running")
    const completedText = await s.text(["complete", b.id, "--result", "7", "--force"])
    expect(completedText).toBe(`Completed ${b.id}  B\n`)
    expect((await s.json<Task>(["show", b.id])).resultData).toBe(7)
  })

  it("next --limit claims several in one go; complete --next claims the next in the same transaction", async () => {
    const s = new Sandbox()
    const a = await s.submit("A", "--priority", "9")
    const b = await s.submit("B", "--priority", "8")
    const c = await s.submit("C", "--priority", "7", "--agent-type", "coder")
    const d = await s.submit("D", "--priority", "1")
    const two = await s.json<Array<Task>>(["next", "--limit", "2", "--worker", "w"])
    expect(two.map((t) => t.id)).toEqual([a.id, b.id])
    expect(two.every((t) => typeof t.leaseToken === "string" && t.status === "running")).toBe(true)
    const done = await s.json([
      "complete",
      a.id,
      "--lease-token",
      two[0]!.leaseToken!,
      "--next",
      "--worker",
      "w",
      "--lease",
      "60",
      "--agent-type",
      "coder"
    ])
    expect(Object.keys(done).sort()).toEqual(["next", "task", "unblocked"])
    expect(done.task.status).toBe("completed")
    expect(done.next).toMatchObject({ id: c.id, status: "running" })
    expect(Date.parse(done.next.leaseExpiresAt) - Date.parse(done.next.startedAt)).toBe(60_000)
    const text = await s.text(["complete", c.id, "--lease-token", done.next.leaseToken, "--next", "--agent-type", "coder"])
    expect(text).toContain(`Completed ${c.id}`)
    expect(text).toContain("Nothing is ready to claim.")
    const last = await s.json(["complete", b.id, "--lease-token", two[1]!.leaseToken!, "--next"])
    expect(last.next).toMatchObject({ id: d.id })
    const end = await s.json(["complete", d.id, "--lease-token", last.next.leaseToken, "--next"])
    expect(end.next).toBeNull()
    expect(await s.json(["next", "--limit", "3"])).toEqual([])
    expect(await s.text(["next", "--limit", "3"])).toContain("Nothing is ready to claim.")
  })

  it("fail retries, then fails for good and cancels dependents; retry revives them", async () => {
    const s = new Sandbox()
    const a = await s.submit("Flaky", "--max-retries", "1", "--retry-backoff", "0")
    const b = await s.submit("After flaky", "--depends-on", a.id)
    let claimed = await s.json<Task>(["next"])
    const first = await s.json(["fail", a.id, "--error", "network down", "--lease-token", claimed.leaseToken!])
    expect(Object.keys(first).sort()).toEqual(["cancelled", "retried", "task"])
    expect(first).toMatchObject({ retried: true, cancelled: [], task: { status: "ready", retryCount: 1, errorMessage: "network down" } })
    claimed = await s.json<Task>(["next"])
    expect(claimed.id).toBe(a.id)
    const text = await s.text(["fail", a.id, "--error", "still down", "--force"])
    expect(text).toContain(`Failed ${a.id}: no retries left`)
    expect(text).toContain(`${b.id.slice(0, 8)}  ${b.summary}`)
    expect((await s.json<Task>(["show", b.id])).status).toBe("cancelled")
    const retried = await s.json(["retry", a.id])
    expect(Object.keys(retried).sort()).toEqual(["revived", "task"])
    expect(retried).toMatchObject({ task: { id: a.id, status: "ready", retryCount: 0, errorMessage: null }, revived: [b.id] })
    expect((await s.json<Task>(["show", b.id])).status).toBe("blocked")
    // And once more for people.
    await s.json(["next"])
    await s.json(["fail", a.id, "--error", "x", "--force"])
    await s.json(["next"])
    await s.json(["fail", a.id, "--error", "y", "--force"])
    expect(await s.text(["retry", a.id])).toContain(`Retrying ${a.id}: now ● ready`)
  })

  it("cancel cascades to dependents and subtasks", async () => {
    const s = new Sandbox()
    const a = await s.submit("A")
    const b = await s.submit("B", "--depends-on", a.id)
    const child = await s.submit("Child of A", "--parent", a.id)
    const r = await s.json(["cancel", a.id])
    expect(Object.keys(r).sort()).toEqual(["cancelled", "task"])
    expect(r.task.status).toBe("cancelled")
    expect([...r.cancelled].sort()).toEqual([b.id, child.id].sort())
    const c = await s.submit("C")
    const text = await s.text(["cancel", c.id])
    expect(text).toBe(`Cancelled ${c.id}  C\n`)
  })

  it("deps add makes a task wait; adding it again changes nothing", async () => {
    const s = new Sandbox()
    const a = await s.submit("A")
    const b = await s.submit("B")
    const d = await s.json(["deps", "add", b.id, a.id, "--type", "parallel"])
    expect(d.id).toBe(b.id)
    expect(d.status).toBe("blocked")
    expect(d.prerequisites).toEqual([{ taskId: a.id, dependencyType: "parallel", onFailure: "cancel", resolvedAt: null }])
    const before = s.dump()
    const again = await s.json(["deps", "add", b.id, a.id])
    expect(again.prerequisites).toHaveLength(1)
    expect(s.dump()).toBe(before)
    const c = await s.submit("C")
    const text = await s.text(["deps", "add", c.id, a.id])
    expect(text).toContain(`Added: ${c.id} now depends on ${a.id}`)
    expect(text).toContain("blocked")
  })
})
