/**
 * Short ids and names for people: every command that takes a task id accepts a unique prefix of it
 * (at least 4 hex digits); an ambiguous prefix is a ValidationError listing the candidates; an
 * unknown one is TaskNotFound. Cycle paths and cascade lists name their tasks.
 */
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { Sandbox, type Task } from "./support/Cli.js"

const short = (t: Task, n = 6) => t.id.slice(0, n)

describe("short ids", () => {
  it("every command that takes a task id takes a unique prefix of it", async () => {
    const s = new Sandbox()
    const parent = await s.submit("Parent task")
    const a = await s.submit("First step")
    // --parent and --depends-on
    const b = await s.json<Task>(["submit", "Second step", "--depends-on", short(a, 4), "--parent", short(parent, 8)])
    expect(b.parentTaskId).toBe(parent.id)
    expect((await s.json(["show", b.id.slice(0, 13)])).prerequisites.map((p: { taskId: string }) => p.taskId)).toEqual([a.id])
    // show, list --parent, plan, tree, graph
    expect((await s.json(["show", short(a).toUpperCase()])).id).toBe(a.id)
    expect((await s.json<Array<Task>>(["list", "--parent", short(parent)])).map((t) => t.id)).toEqual([b.id])
    expect((await s.json(["plan", short(b)])).batches).toEqual([[a.id], [b.id]])
    expect((await s.json(["tree", short(parent)])).task.id).toBe(parent.id)
    expect((await s.json(["graph", short(b)])).text).toContain(a.id.replaceAll("-", ""))
    // deps add
    const c = await s.submit("Third step")
    expect((await s.json(["deps", "add", short(c), short(b)])).prerequisites.map((p: { taskId: string }) => p.taskId)).toEqual([b.id])
    // heartbeat, release, complete
    const claimed = await s.json<Task>(["next", "--worker", "w"])
    const leaseToken = claimed.leaseToken!
    expect((await s.json(["heartbeat", short(claimed), "--lease-token", leaseToken, "--lease", "60"])).id).toBe(claimed.id)
    expect((await s.json(["release", short(claimed), "--lease-token", leaseToken])).status).toBe("ready")
    const again = await s.json<Task>(["next", "--worker", "w"])
    expect((await s.json(["complete", short(again), "--lease-token", again.leaseToken!])).task.status).toBe("completed")
    // fail, retry, cancel
    const d = await s.submit("Flaky", "--max-retries", "0")
    while (true) {
      const t = await s.json<Task | null>(["next", "--worker", "w"])
      if (t === null) break
      if (t.id === d.id) {
        expect((await s.json(["fail", short(d), "--lease-token", t.leaseToken!, "--error", "boom"])).task.status).toBe("failed")
        break
      }
      await s.json(["complete", t.id, "--lease-token", t.leaseToken!])
    }
    expect((await s.json(["retry", short(d)])).task.status).toBe("ready")
    expect((await s.json(["cancel", short(d)])).task.status).toBe("cancelled")
  })

  it("a prefix of fewer than 4 hex digits or with other characters is a ValidationError; an unknown prefix is TaskNotFound; nothing changes", async () => {
    const s = new Sandbox()
    const a = await s.submit("Only task")
    const before = s.dump()
    for (const bad of [a.id.slice(0, 3), "zzzz", `${a.id.slice(0, 4)}x`]) {
      expect((await s.fails(["cancel", bad], "ValidationError", 2)).message).toContain("is not a task id")
    }
    const unknown = a.id.startsWith("ffff") ? "0000" : "ffff"
    const e = await s.fails(["cancel", unknown], "TaskNotFound", 3)
    expect(e.message).toContain(`no task id starts with ${unknown}`)
    expect(e["taskId"]).toBe(unknown)
    await s.fails(["submit", "x", "--depends-on", unknown], "TaskNotFound", 3)
    expect(s.dump()).toEqual(before)
  })

  it("an ambiguous prefix is a ValidationError that lists the candidates, id and summary", async () => {
    const s = new Sandbox()
    // 1500 random ids share a first 4 hex digits somewhere (the chance they do not is below 1e-7).
    const file = join(s.dir, "many.json")
    writeFileSync(file, JSON.stringify({ tasks: Array.from({ length: 1500 }, (_, i) => ({ key: `k${i}`, prompt: `Task number ${i}` })) }))
    const { tasks } = await s.json<{ tasks: Record<string, Task> }>(["submit", "--file", file])
    const ids = Object.values(tasks)
      .map((t) => t.id)
      .sort()
    const i = ids.findIndex((id, j) => j > 0 && ids[j - 1]!.slice(0, 4) === id.slice(0, 4))
    const prefix = ids[i]!.slice(0, 4)
    const matching = Object.values(tasks)
      .filter((t) => t.id.startsWith(prefix))
      .sort((x, y) => (x.id < y.id ? -1 : 1))
    const e = await s.fails(["show", prefix], "ValidationError", 2)
    expect(e.message).toContain(`the id prefix ${prefix} is ambiguous`)
    expect(e["candidates"]).toEqual(matching.slice(0, 5).map((t) => ({ id: t.id, summary: t.summary })))
    // For people: one line that names them.
    const r = await s.run(["cancel", prefix])
    expect(r.code).toBe(2)
    for (const t of matching.slice(0, 5)) expect(r.stderr).toContain(`${t.id} "${t.summary}"`)
  })
})

describe("names, not bare ids, for people", () => {
  it("a dependency cycle is shown with each task's summary; --json keeps the contract's ids", async () => {
    const s = new Sandbox()
    const a = await s.submit("Write the spec")
    const b = await s.submit("Review the spec", "--depends-on", a.id)
    const c = await s.submit("Ship it", "--depends-on", b.id)
    const r = await s.run(["deps", "add", short(a), short(c)])
    expect(r.code).toBe(4)
    expect(r.stderr).toContain("DependencyCycle")
    const path = [a, c, b, a].map((t) => `${t.id.slice(0, 8)} "${t.summary}"`)
    expect(r.stderr).toContain(path.join("\n  -> "))
    const e = await s.fails(["deps", "add", a.id, c.id], "DependencyCycle", 4)
    expect(e["cycle"]).toEqual([a.id, c.id, b.id, a.id])
  })

  it("cancelled, unblocked and revived lists show each task's short id and summary", async () => {
    const s = new Sandbox()
    const a = await s.submit("Build the parser", "--max-retries", "0")
    const b = await s.submit("Test the parser", "--depends-on", a.id)
    const c = await s.submit("Document the parser", "--depends-on", b.id)
    const t = await s.json<Task>(["next"])
    const failed = await s.text(["fail", a.id, "--lease-token", t.leaseToken!, "--error", "syntax error"])
    expect(failed).toContain(`${b.id.slice(0, 8)}  Test the parser`)
    expect(failed).toContain(`${c.id.slice(0, 8)}  Document the parser`)
    const retried = await s.text(["retry", short(a)])
    expect(retried).toContain(`${b.id.slice(0, 8)}  Test the parser`)
    const t2 = await s.json<Task>(["next"])
    const done = await s.text(["complete", short(a), "--lease-token", t2.leaseToken!])
    expect(done).toContain(`${b.id.slice(0, 8)}  Test the parser`)
    const cancelled = await s.text(["cancel", short(b)])
    expect(cancelled).toContain(`${c.id.slice(0, 8)}  Document the parser`)
    // --json: the lists stay plain ids.
    const d = await s.submit("Another", "--depends-on", a.id)
    const e = await s.submit("Waits for another", "--depends-on", d.id)
    expect(await s.json(["cancel", d.id])).toEqual({ task: expect.objectContaining({ id: d.id }), cancelled: [e.id] })
  })
})
