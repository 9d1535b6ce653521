import { startServerProcess } from "@abathur/testing/vitest"
import { existsSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { Sandbox, type Task } from "./support/Cli.js"
import { summaryOf, WorkSandbox } from "./support/Work.js"

/**
 * The hierarchy gates the work (CONTRACT, "Additions of December 2026"), driven through the real
 * CLI: subtree-aware readiness, edge failure policies, deps remove, idempotent submits, delayed
 * starts, and what `show`, `tree`, `graph` and `list` print about them.
 */

interface Detail extends Task {
  readonly prerequisites: ReadonlyArray<{ taskId: string; onFailure: string; resolvedAt: string | null }>
  readonly dependents: ReadonlyArray<{ taskId: string; onFailure: string; resolvedAt: string | null }>
  readonly subtree: { total: number; completed: number; open: number; failed: number; cancelled: number }
  readonly notBefore: string | null
  readonly stallCount: number
  readonly idempotencyKey: string | null
}

/** The README's plan example: impl depends on spec and has subtasks api and ui; ship depends on impl. */
const readmePlan = (uiMaxRetries = 3) => ({
  tasks: [
    { key: "spec", prompt: "Write the spec", source: "agent_requirements" },
    {
      key: "impl",
      prompt: "Implement it",
      dependsOn: ["spec"],
      children: [
        { key: "api", prompt: "The API" },
        { key: "ui", prompt: "The UI", dependsOn: ["api"], maxRetries: uiMaxRetries }
      ]
    },
    { key: "ship", prompt: "Ship it", dependsOn: ["impl"] }
  ]
})

const submitPlan = async (s: Sandbox, plan: unknown, name = "plan.json"): Promise<Record<string, Task>> => {
  const file = join(s.dir, name)
  writeFileSync(file, JSON.stringify(plan))
  return (await s.json<{ tasks: Record<string, Task> }>(["submit", "--file", file])).tasks
}

/** Claims exactly `id` (the queue's choice must be it) and completes it; returns `unblocked`. */
const runTask = async (s: Sandbox, id: string): Promise<Array<string>> => {
  const claimed = await s.json<Task & { leaseToken: string }>(["next", "--worker", "w"])
  expect(claimed?.id).toBe(id)
  const r = await s.json<{ unblocked: Array<string> }>(["complete", id, "--lease-token", claimed.leaseToken])
  return r.unblocked
}

const statusOf = async (s: Sandbox, id: string): Promise<string> => (await s.json<Detail>(["show", id])).status

describe("the README's plan example", () => {
  it.concurrent("subtasks wait for their parent's prerequisites; dependents wait for the whole subtree", async () => {
    const s = new Sandbox()
    const t = await submitPlan(s, readmePlan())
    expect(t["api"]!.status).toBe("blocked")
    expect(t["impl"]!.status).toBe("blocked")
    // Only spec can be claimed: api is not offered while impl waits for spec.
    const unblockedBySpec = await runTask(s, t["spec"]!.id)
    expect(unblockedBySpec.sort()).toEqual([t["impl"]!.id, t["api"]!.id].sort())
    expect(await statusOf(s, t["api"]!.id)).toBe("ready")
    expect(await statusOf(s, t["ui"]!.id)).toBe("blocked")

    // impl's own part done while its subtasks are open: ship still waits.
    const implClaim = await s.json<Task & { leaseToken: string }>(["next", "--worker", "w"])
    const apiFirst = implClaim.id === t["api"]!.id
    await s.json(["complete", implClaim.id, "--lease-token", implClaim.leaseToken])
    await runTask(s, apiFirst ? t["impl"]!.id : t["api"]!.id)
    expect(await statusOf(s, t["impl"]!.id)).toBe("completed")
    expect(await statusOf(s, t["ship"]!.id)).toBe("blocked")

    // People see why: the tree marks impl, show prints its subtree.
    const tree = await s.text(["tree"])
    expect(tree).toMatch(/✔ Implement it {2}\[completed, 1 of 2 subtasks open\]/)
    expect(tree).toMatch(/└─ ● The UI {2}\[ready\]/)
    const show = await s.text(["show", t["impl"]!.id])
    expect(show).toContain("subtree: 2 tasks below, 1 completed, 1 open")
    expect(show).toMatch(new RegExp(`${t["ship"]!.id} +sequential +on failure cancel +open`))
    const detail = await s.json<Detail>(["show", t["impl"]!.id])
    expect(detail.subtree).toEqual({ total: 2, completed: 1, open: 1, failed: 0, cancelled: 0 })
    expect(detail.dependents).toEqual([expect.objectContaining({ taskId: t["ship"]!.id, onFailure: "cancel", resolvedAt: null })])

    // The last open subtask unblocks ship.
    expect(await runTask(s, t["ui"]!.id)).toEqual([t["ship"]!.id])
    expect(await statusOf(s, t["ship"]!.id)).toBe("ready")
    expect(await s.text(["tree"])).toMatch(/✔ Implement it {2}\[completed\]/)
  })

  it.concurrent("a failed subtask cancels ship; retry of the subtask revives it", async () => {
    const s = new Sandbox()
    const t = await submitPlan(s, readmePlan(0))
    await runTask(s, t["spec"]!.id)
    for (let i = 0; i < 2; i++) {
      const c = await s.json<Task & { leaseToken: string }>(["next", "--worker", "w"])
      await s.json(["complete", c.id, "--lease-token", c.leaseToken])
    }
    const ui = await s.json<Task & { leaseToken: string }>(["next", "--worker", "w"])
    expect(ui.id).toBe(t["ui"]!.id)
    const failed = await s.json<{ retried: boolean; cancelled: Array<string> }>(["fail", ui.id, "--error", "broken", "--lease-token", ui.leaseToken])
    expect(failed.retried).toBe(false)
    expect(failed.cancelled).toEqual([t["ship"]!.id])
    expect(await statusOf(s, t["ship"]!.id)).toBe("cancelled")
    expect((await s.json<Detail>(["show", t["impl"]!.id])).subtree).toMatchObject({ failed: 1, open: 0 })

    const retried = await s.json<{ task: Task; revived: Array<string> }>(["retry", ui.id])
    expect(retried.revived).toEqual([t["ship"]!.id])
    expect(await statusOf(s, t["ship"]!.id)).toBe("blocked")
    expect(await runTask(s, t["ui"]!.id)).toEqual([t["ship"]!.id])
  })

  it.concurrent("graph draws parent -> child links apart from the dependencies", async () => {
    const s = new Sandbox()
    const t = await submitPlan(s, readmePlan())
    const node = (id: string) => `t${id.replaceAll("-", "")}`
    const mermaid = await s.text(["graph"])
    const lines = mermaid.split("\n").filter((l) => l.includes(" -.-> ") || l.includes(" --> "))
    expect(lines).toContain(`  ${node(t["impl"]!.id)} -.-> ${node(t["api"]!.id)}`)
    expect(lines).toContain(`  ${node(t["impl"]!.id)} -.-> ${node(t["ui"]!.id)}`)
    expect(lines).toContain(`  ${node(t["spec"]!.id)} -.-> ${node(t["impl"]!.id)}`)
    expect(mermaid).toMatch(/linkStyle [\d,]+ stroke:#999/)
    const dot = await s.text(["graph", "--format", "dot"])
    expect(dot).toContain(`"${t["impl"]!.id}" -> "${t["ui"]!.id}" [style=dashed`)
  })
})

describe("edges", () => {
  it.concurrent("--after runs after a failure; --depends-on does not", async () => {
    const s = new Sandbox()
    const a = await s.submit("Try the migration", "--max-retries", "0")
    const cleanup = await s.submit("Clean up either way", "--after", a.id)
    const report = await s.submit("Report success", "--depends-on", a.id)
    expect(cleanup.status).toBe("blocked")
    const d = await s.json<Detail>(["show", cleanup.id])
    expect(d.prerequisites).toEqual([expect.objectContaining({ taskId: a.id, onFailure: "ignore" })])
    expect(await s.text(["show", cleanup.id])).toMatch(new RegExp(`${a.id} +sequential +on failure ignore +open`))
    const claimed = await s.json<Task & { leaseToken: string }>(["next"])
    expect(claimed.id).toBe(a.id)
    const failed = await s.json<{ cancelled: Array<string> }>(["fail", a.id, "--error", "no", "--lease-token", claimed.leaseToken])
    expect(failed.cancelled).toEqual([report.id])
    expect(await statusOf(s, cleanup.id)).toBe("ready")
    expect((await s.json<Task>(["next"])).id).toBe(cleanup.id)
  })

  it.concurrent("deps add --on-failure ignore, and deps remove readies the dependent", async () => {
    const s = new Sandbox()
    const a = await s.submit("A")
    const b = await s.submit("B")
    const c = await s.submit("C")
    const added = await s.json<Detail>(["deps", "add", c.id, a.id, "--on-failure", "ignore"])
    expect(added.prerequisites).toEqual([expect.objectContaining({ taskId: a.id, onFailure: "ignore" })])
    await s.json(["deps", "add", c.id, b.id])
    expect(await statusOf(s, c.id)).toBe("blocked")
    const once = await s.json<Detail>(["deps", "remove", c.id, a.id])
    expect(once.status).toBe("blocked")
    expect(once.prerequisites.map((p) => p.taskId)).toEqual([b.id])
    const text = await s.text(["deps", "remove", c.id, b.id])
    expect(text).toContain(`Removed: ${c.id} no longer depends on ${b.id}`)
    expect(text).toMatch(/● ready/)
    const again = await s.fails(["deps", "remove", c.id, b.id], "TaskNotFound", 3)
    expect(again.message).toContain("does not depend on")
    await s.fails(["deps", "add", c.id, a.id, "--on-failure", "sometimes"], "ValidationError", 2)
    await s.fails(["deps", "remove", c.id], "ValidationError", 2)
  })
})

describe("idempotent submits", () => {
  it.concurrent("a repeated key gives one task; other fields are IdempotencyConflict (exit 4, taskId)", async () => {
    const s = new Sandbox()
    const first = await s.submit("Write the notes", "--idempotency-key", "notes-1")
    const second = await s.submit("Write the notes", "--idempotency-key", "notes-1")
    expect(second.id).toBe(first.id)
    expect((await s.json<Array<Task>>(["list"])).length).toBe(1)
    expect(await s.text(["submit", "Write the notes", "--idempotency-key", "notes-1"])).toContain(`Already submitted ${first.id}`)
    const conflict = await s.fails(["submit", "Write other notes", "--idempotency-key", "notes-1"], "IdempotencyConflict", 4)
    expect(conflict["taskId"]).toBe(first.id)
    await s.fails(["submit", "x", "--idempotency-key", ""], "ValidationError", 2)
    expect((await s.json<Array<Task>>(["list"])).length).toBe(1)
  })

  it.concurrent("a plan with a top-level idempotencyKey (or --idempotency-key) posted twice returns the same tasks", async () => {
    const s = new Sandbox()
    const plan = { ...readmePlan(), idempotencyKey: "release-2" }
    const a = await submitPlan(s, plan)
    const b = await submitPlan(s, plan, "again.json")
    expect(Object.fromEntries(Object.entries(b).map(([k, t]) => [k, t.id]))).toEqual(Object.fromEntries(Object.entries(a).map(([k, t]) => [k, t.id])))
    expect((await s.json<Array<Task>>(["list"])).length).toBe(5)
    const file = join(s.dir, "keyless.json")
    writeFileSync(file, JSON.stringify({ tasks: [{ key: "x", prompt: "X" }] }))
    const k1 = await s.json<{ tasks: Record<string, Task> }>(["submit", "--file", file, "--idempotency-key", "k"])
    const k2 = await s.json<{ tasks: Record<string, Task> }>(["submit", "--file", file, "--idempotency-key", "k"])
    expect(k2.tasks["x"]!.id).toBe(k1.tasks["x"]!.id)
    expect(await s.text(["submit", "--file", file, "--idempotency-key", "k"])).toContain("Already submitted")
    const withKey = join(s.dir, "with-key.json")
    writeFileSync(withKey, JSON.stringify({ idempotencyKey: "other", tasks: [{ key: "x", prompt: "X" }] }))
    expect((await s.fails(["submit", "--file", withKey, "--idempotency-key", "k"], "ValidationError", 2)).message).toContain("differs")
    await s.fails(["submit", "--file", file, "--after", a["spec"]!.id], "ValidationError", 2)
    expect((await s.json<Array<Task>>(["list"])).length).toBe(6)
  })
})

describe("delayed starts", () => {
  it.concurrent("--not-before delays a claim; show tells when", async () => {
    const s = new Sandbox()
    const later = new Date(Date.now() + 3_600_000).toISOString()
    const t = await s.json<Detail>(["submit", "Later", "--not-before", later])
    expect(t.status).toBe("ready")
    expect(t.notBefore).toBe(later)
    expect(await s.json(["next"])).toBeNull()
    expect(await s.text(["show", t.id])).toMatch(/not before +\S+ \(in (59m|1h)/)
    const now = await s.submit("Now")
    expect((await s.json<Task>(["next"])).id).toBe(now.id)
    await s.fails(["submit", "x", "--not-before", "tomorrow"], "ValidationError", 2)
    await s.fails(["submit", "x", "--retry-backoff", "-1"], "ValidationError", 2)
  })

  it.concurrent("a failed attempt waits for its backoff; --retry-backoff 0 retries at once", async () => {
    const s = new Sandbox()
    const slow = await s.submit("Backs off", "--retry-backoff", "600")
    let c = await s.json<Task & { leaseToken: string }>(["next"])
    await s.json(["fail", slow.id, "--error", "x", "--lease-token", c.leaseToken])
    const waiting = await s.json<Detail>(["show", slow.id])
    expect(waiting.status).toBe("ready")
    expect(Date.parse(waiting.notBefore!)).toBeGreaterThan(Date.now() + 200_000)
    expect(await s.json(["next"])).toBeNull()
    const fast = await s.submit("At once", "--retry-backoff", "0")
    c = await s.json<Task & { leaseToken: string }>(["next"])
    await s.json(["fail", fast.id, "--error", "x", "--lease-token", c.leaseToken])
    expect((await s.json<Task>(["next"])).id).toBe(fast.id)
  })

  it.concurrent("list and show tell how often a task's workers stopped (stallCount)", async () => {
    const s = new Sandbox()
    const t = await s.submit("Crashes its workers")
    await s.json(["next", "--lease", "1"])
    await new Promise((r) => setTimeout(r, 1300))
    expect((await s.json<{ recovered: Array<string> }>(["recover"])).recovered).toEqual([t.id])
    const d = await s.json<Detail>(["show", t.id])
    expect(d).toMatchObject({ status: "ready", stallCount: 1, retryCount: 0 })
    expect(await s.text(["list"])).toContain("Crashes its workers (stalled 1×)")
    expect(await s.text(["show", t.id])).toMatch(/stalls +1 \(its workers stopped reporting/)
  })

  it.concurrent("a delayed task wakes a `work --until-empty` run when its notBefore comes", async () => {
    const s = new WorkSandbox()
    const at = new Date(Date.now() + 2500).toISOString()
    const t = await s.json<Task>(["submit", "Delayed", "--not-before", at])
    const run = await s.run(["work", "--exec", "node -e 'console.log(JSON.stringify({at: Date.now()}))'", "--shell", "--until-empty", "--json"])
    expect(summaryOf(run)).toMatchObject({ completed: 1, failed: 0 })
    const done = await s.json<Task & { resultData: { at: number } }>(["show", t.id])
    expect(done.status).toBe("completed")
    // It ran when its time came, not before (the wait is a timer, not a claim every few ms).
    expect(done.resultData.at).toBeGreaterThanOrEqual(Date.parse(at))
    expect(Date.parse(done.startedAt!)).toBeGreaterThanOrEqual(Date.parse(at))
  })
})

// `abathur work --server` against the real abathur-server (built by `cd apps/server && node build.mjs`).
const SERVER = fileURLToPath(new URL("../../server/dist/main.js", import.meta.url))

describe.skipIf(!existsSync(SERVER))("work --server and delayed starts", () => {
  it("the server's long poll wakes the worker when a delayed task's notBefore comes", async () => {
    const s = new WorkSandbox()
    const server = await startServerProcess(SERVER, { db: s.db })
    const url = server.url
    const at = new Date(Date.now() + 2500).toISOString()
    const t = await s.json<Task>(["submit", "Delayed over HTTP", "--not-before", at])
    const run = await s.run(["work", "--server", url, "--exec", "true", "--until-empty", "--json"])
    expect(summaryOf(run)).toMatchObject({ completed: 1 })
    const done = await s.json<Task>(["show", t.id])
    expect(done.status).toBe("completed")
    expect(Date.parse(done.startedAt!)).toBeGreaterThanOrEqual(Date.parse(at))
    await server.dispose()
  })
})
