/**
 * The read routes behind the dashboard, over HTTP against the built server: the work-log tail
 * (bounded, ids only), throughput, search and paging in GET /v1/tasks, and the graph data.
 */
import { mkdirSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { describe, expect, it } from "vitest"
import { sharedServer } from "./support/server.js"

const { server, api } = sharedServer()

describe("GET /v1/tasks/{id}/log", () => {
  it("gives the last kib KiB of logs/<id>.log beside the database, cut at a line start", async () => {
    const t = (await api.post("/v1/tasks", { prompt: "logged" })).body
    const logs = join(dirname(server().db), "logs")
    mkdirSync(logs, { recursive: true })
    const lines = Array.from({ length: 3000 }, (_, i) => `line ${String(i).padStart(4, "0")} ${"é".repeat(10)}`)
    writeFileSync(join(logs, `${t.id}.log`), `${lines.join("\n")}\n`)
    const whole = await api.get(`/v1/tasks/${t.id}/log?kib=1024`)
    expect(whole.status).toBe(200)
    expect(whole.body).toMatchObject({ taskId: t.id, truncated: false })
    expect(whole.body.text.startsWith("line 0000 ")).toBe(true)
    const tail = (await api.get(`/v1/tasks/${t.id}/log?kib=1`)).body
    expect(tail.truncated).toBe(true)
    expect(tail.size).toBe(Buffer.byteLength(`${lines.join("\n")}\n`))
    expect(Buffer.byteLength(tail.text)).toBeLessThanOrEqual(1024)
    expect(tail.text.startsWith("line ")).toBe(true) // a whole first line, no half character
    expect(tail.text.endsWith("line 2999 éééééééééé\n")).toBe(true)
    // the default is 64 KiB
    expect(Buffer.byteLength((await api.get(`/v1/tasks/${t.id}/log`)).body.text)).toBeLessThanOrEqual(64 * 1024)
  })

  it("404 without a log, 404 for an unknown task, 400 for a bad id or size (no path outside logs/)", async () => {
    const t = (await api.post("/v1/tasks", { prompt: "never ran" })).body
    const none = await api.get(`/v1/tasks/${t.id}/log`)
    expect(none.status).toBe(404)
    expect(none.body.error.message).toContain("no log")
    expect((await api.get("/v1/tasks/3f2b8c1e-9d4a-4f6b-8e2a-1c5d7e9f0a2b/log")).body.error._tag).toBe("TaskNotFound")
    for (const bad of ["..%2F..%2Fetc%2Fpasswd", "..%2Fabathur.db", "not-a-uuid"]) {
      const r = await api.get(`/v1/tasks/${bad}/log`)
      expect(r.status, bad).toBe(400)
      expect(r.body.error._tag).toBe("ValidationError")
    }
    for (const kib of ["0", "1025", "x", "1.5"]) expect((await api.get(`/v1/tasks/${t.id}/log?kib=${kib}`)).status, kib).toBe(400)
    expect((await api.get(`/v1/tasks/${t.id}/log?lines=5`)).status).toBe(400)
  })
})

describe("GET /v1/tasks: search and paging", () => {
  it("text and offset filter and page on the server", async () => {
    for (let i = 0; i < 30; i++) await api.post("/v1/tasks", { prompt: `paged item ${i}`, priority: i % 11 })
    const all = (await api.get("/v1/tasks?text=paged%20item")).body.map((t: { id: string }) => t.id)
    expect(all).toHaveLength(30)
    const pages = [
      ...(await api.get("/v1/tasks?text=paged%20item&limit=12")).body,
      ...(await api.get("/v1/tasks?text=paged%20item&limit=12&offset=12")).body,
      ...(await api.get("/v1/tasks?text=PAGED%20ITEM&limit=12&offset=24")).body
    ].map((t: { id: string }) => t.id)
    expect(pages).toEqual(all)
    expect((await api.get("/v1/tasks?text=paged%20item%202")).body.map((t: { prompt: string }) => t.prompt).sort()).toEqual([
      "paged item 2",
      "paged item 20",
      "paged item 21",
      "paged item 22",
      "paged item 23",
      "paged item 24",
      "paged item 25",
      "paged item 26",
      "paged item 27",
      "paged item 28",
      "paged item 29"
    ])
    expect((await api.get("/v1/tasks?offset=-1")).status).toBe(400)
    expect((await api.get("/v1/tasks?text=")).status).toBe(400)
    expect((await api.get(`/v1/tasks?text=${"x".repeat(201)}`)).status).toBe(400)
  })
})

describe("GET /v1/activity and GET /v1/dashboard/graph", () => {
  it("activity counts this hour's completions and failures; bad windows are 400", async () => {
    const t = (await api.post("/v1/tasks", { prompt: "done soon", agentType: "act" })).body
    const c = (await api.post("/v1/claims", { agentType: "act", worker: "w" })).body
    expect(c.id).toBe(t.id)
    expect((await api.post(`/v1/tasks/${t.id}/complete`, { leaseToken: c.leaseToken })).status).toBe(200)
    const a = (await api.get("/v1/activity")).body
    expect(a.minutes.reduce((n: number, m: { completed: number }) => n + m.completed, 0)).toBeGreaterThanOrEqual(1)
    expect(Date.parse(a.until) - Date.parse(a.since)).toBe(3_600_000)
    for (const q of ["minutes=0", "minutes=1441", "failures=201", "nope=1"]) expect((await api.get(`/v1/activity?${q}`)).status, q).toBe(400)
  })

  it("graph data: open tasks with dependency and parent edges; focus and limits", async () => {
    const plan = (
      await api.post("/v1/plans", {
        tasks: [
          { key: "p", prompt: "graph parent", children: [{ key: "c", prompt: "graph child" }] },
          { key: "d", prompt: "graph dependent", dependsOn: ["p"] }
        ]
      })
    ).body.tasks
    const g = (await api.get(`/v1/dashboard/graph?id=${plan.p.id}&depth=1`)).body
    const ids = g.nodes.map((n: { id: string }) => n.id).sort()
    expect(ids).toEqual([plan.p.id, plan.c.id, plan.d.id].sort())
    expect(g.edges).toContainEqual(expect.objectContaining({ from: plan.p.id, to: plan.d.id, kind: "dependency", resolved: false }))
    expect(g.edges).toContainEqual(expect.objectContaining({ from: plan.p.id, to: plan.c.id, kind: "parent" }))
    const parent = g.nodes.find((n: { id: string }) => n.id === plan.p.id)
    expect(parent.subtree).toMatchObject({ total: 1, completed: 0, open: 1 })
    expect((await api.get("/v1/dashboard/graph?limit=2")).body.truncated).toBe(true)
    for (const q of ["limit=0", "limit=1001", "depth=11", "id=nope"]) expect((await api.get(`/v1/dashboard/graph?${q}`)).status, q).toBe(400)
    const page = (await api.get(`/v1/dashboard/tasks/${plan.c.id}`)).body
    expect(page.related[plan.p.id]).toEqual({ summary: "graph parent", status: plan.p.status })
    expect(page.audit[0].reason).toBe("submitted in a plan")
  })
})
