import { describe, expect, it } from "vitest"
import { sharedServer } from "./support/server.js"

/**
 * The hierarchy rules of December 2026 over HTTP, against the real server: subtree-aware
 * readiness (the README's plan), edge failure policies, DELETE of an edge, idempotent submits and
 * plans (200 instead of 201, 409 IdempotencyConflict), delayed starts that wake long polls, and
 * parent -> child links in the graph. Each test has its own tasks; none drains the queue.
 */

const { server, api } = sharedServer()
// A second server on the same file: another process committing.
const { api: otherApi } = sharedServer(() => ({ db: server().db }))

const submit = async (body: Record<string, unknown>, expected = 201) => {
  const r = await api.post("/v1/tasks", body)
  expect(r.status, r.text).toBe(expected)
  return r.body
}

const del = (path: string) => api.request("DELETE", path)
const show = async (id: string) => (await api.get(`/v1/tasks/${id}`)).body

/** Claims `id` (each test's tasks carry their own agent type, so claims never cross tests) and completes it. */
const run = async (id: string, agentType: string): Promise<Array<string>> => {
  const c = await api.post("/v1/claims", { agentType, worker: "w" })
  expect(c.status, c.text).toBe(200)
  expect(c.body.id).toBe(id)
  const done = await api.post(`/v1/tasks/${id}/complete`, { leaseToken: c.body.leaseToken })
  expect(done.status, done.text).toBe(200)
  return done.body.unblocked
}

const readmePlan = (agentType: string, extra: Record<string, unknown> = {}) => ({
  ...extra,
  tasks: [
    { key: "spec", prompt: "Write the spec", agentType },
    {
      key: "impl",
      prompt: "Implement it",
      agentType,
      dependsOn: ["spec"],
      children: [
        { key: "api", prompt: "The API", agentType },
        { key: "ui", prompt: "The UI", agentType, dependsOn: ["api"], maxRetries: 0 }
      ]
    },
    { key: "ship", prompt: "Ship it", agentType, dependsOn: ["impl"] }
  ]
})

describe("the README's plan over HTTP", () => {
  it("api waits for spec; ship waits for impl's subtree; complete of the last subtask unblocks ship", async () => {
    const r = await api.post("/v1/plans", readmePlan("plan-a"))
    expect(r.status, r.text).toBe(201)
    const t = r.body.tasks
    expect(t.api.status).toBe("blocked")
    expect(await run(t.spec.id, "plan-a")).toEqual(expect.arrayContaining([t.impl.id, t.api.id]))
    expect((await show(t.api.id)).status).toBe("ready")
    expect((await show(t.ui.id)).status).toBe("blocked")
    // impl and api, in the queue's order.
    for (let i = 0; i < 2; i++) {
      const c = await api.post("/v1/claims", { agentType: "plan-a" })
      expect([t.impl.id, t.api.id]).toContain(c.body.id)
      await api.post(`/v1/tasks/${c.body.id}/complete`, { leaseToken: c.body.leaseToken })
    }
    const detail = await show(t.impl.id)
    expect(detail.status).toBe("completed")
    expect(detail.subtree).toEqual({ total: 2, completed: 1, open: 1, failed: 0, cancelled: 0 })
    expect(detail.dependents).toEqual([expect.objectContaining({ taskId: t.ship.id, onFailure: "cancel", resolvedAt: null })])
    expect((await show(t.ship.id)).status).toBe("blocked")
    expect(await run(t.ui.id, "plan-a")).toEqual([t.ship.id])
    expect((await show(t.ship.id)).status).toBe("ready")
    const tree = await api.get(`/v1/tree?id=${t.impl.id}`)
    expect(tree.body.subtree).toEqual({ total: 2, completed: 2, open: 0, failed: 0, cancelled: 0 })
  })

  it("a failed subtask cancels ship, retry revives it; the graph links parent -> child", async () => {
    const t = (await api.post("/v1/plans", readmePlan("plan-b"))).body.tasks
    await run(t.spec.id, "plan-b")
    for (let i = 0; i < 2; i++) {
      const c = await api.post("/v1/claims", { agentType: "plan-b" })
      await api.post(`/v1/tasks/${c.body.id}/complete`, { leaseToken: c.body.leaseToken })
    }
    const ui = await api.post("/v1/claims", { agentType: "plan-b" })
    expect(ui.body.id).toBe(t.ui.id)
    const failed = await api.post(`/v1/tasks/${t.ui.id}/fail`, { error: "broken", leaseToken: ui.body.leaseToken })
    expect(failed.body).toMatchObject({ retried: false, cancelled: [t.ship.id] })
    expect((await show(t.ship.id)).status).toBe("cancelled")
    const retried = await api.post(`/v1/tasks/${t.ui.id}/retry`)
    expect(retried.body.revived).toEqual([t.ship.id])
    expect((await show(t.ship.id)).status).toBe("blocked")

    const node = (id: string) => `t${id.replaceAll("-", "")}`
    const graph = await api.get(`/v1/graph?id=${t.impl.id}`)
    expect(graph.text).toContain(`  ${node(t.impl.id)} -.-> ${node(t.ui.id)}`)
    expect(graph.text).toContain(`  ${node(t.impl.id)} -.-> ${node(t.api.id)}`)
    const dot = await api.get(`/v1/graph?id=${t.impl.id}&format=dot`)
    expect(dot.text).toContain(`"${t.impl.id}" -> "${t.api.id}" [style=dashed`)
  })
})

describe("edges", () => {
  it("POST dependencies takes onFailure; ignore runs after a failure", async () => {
    const a = await submit({ prompt: "a", agentType: "edges-a", maxRetries: 0 })
    const b = await submit({ prompt: "b", agentType: "edges-a" })
    const added = await api.post(`/v1/tasks/${b.id}/dependencies`, { prerequisiteId: a.id, onFailure: "ignore" })
    expect(added.status, added.text).toBe(200)
    expect(added.body.prerequisites).toEqual([expect.objectContaining({ taskId: a.id, onFailure: "ignore", resolvedAt: null })])
    const c = await submit({ prompt: "c", agentType: "edges-a", dependsOn: [{ id: a.id, onFailure: "cancel" }] })
    expect((await api.post(`/v1/tasks/${b.id}/dependencies`, { prerequisiteId: a.id, onFailure: "never" })).status).toBe(400)
    const claim = await api.post("/v1/claims", { agentType: "edges-a" })
    expect(claim.body.id).toBe(a.id)
    const failed = await api.post(`/v1/tasks/${a.id}/fail`, { error: "no", leaseToken: claim.body.leaseToken })
    expect(failed.body.cancelled).toEqual([c.id])
    expect((await show(b.id)).status).toBe("ready")
  })

  it("DELETE /v1/tasks/{id}/dependencies/{prerequisiteId} removes an edge (200 TaskDetail), 404 when there is none", async () => {
    const a = await submit({ prompt: "a", agentType: "edges-b" })
    const b = await submit({ prompt: "b", agentType: "edges-b", dependsOn: [a.id] })
    expect(b.status).toBe("blocked")
    const r = await del(`/v1/tasks/${b.id}/dependencies/${a.id}`)
    expect(r.status, r.text).toBe(200)
    expect(r.body).toMatchObject({ id: b.id, status: "ready", prerequisites: [] })
    expect(r.body.subtree).toEqual({ total: 0, completed: 0, open: 0, failed: 0, cancelled: 0 })
    const again = await del(`/v1/tasks/${b.id}/dependencies/${a.id}`)
    expect(again.status).toBe(404)
    expect(again.body.error._tag).toBe("TaskNotFound")
    expect((await del(`/v1/tasks/${b.id}/dependencies/not-a-uuid`)).status).toBe(400)
    expect((await show(a.id)).dependents).toEqual([])
  })
})

describe("idempotent submits", () => {
  it("POST /v1/tasks with an idempotencyKey: 201, then 200 with the same task; other fields 409 with taskId", async () => {
    const first = await submit({ prompt: "Write the notes", idempotencyKey: "http-notes" }, 201)
    const again = await submit({ prompt: "Write the notes", idempotencyKey: "http-notes" }, 200)
    expect(again.id).toBe(first.id)
    // Through the other server too (another process, the same file).
    const there = await otherApi.post("/v1/tasks", { prompt: "Write the notes", idempotencyKey: "http-notes" })
    expect(there.status).toBe(200)
    expect(there.body.id).toBe(first.id)
    const conflict = await api.post("/v1/tasks", { prompt: "Other notes", idempotencyKey: "http-notes" })
    expect(conflict.status).toBe(409)
    expect(conflict.body.error).toMatchObject({ _tag: "IdempotencyConflict", taskId: first.id })
    expect((await api.post("/v1/tasks", { prompt: "x", idempotencyKey: "k".repeat(201) })).status).toBe(400)
  })

  it("POST /v1/plans with a top-level idempotencyKey: the same tasks with 200; another plan 409", async () => {
    const plan = readmePlan("plan-idem", { idempotencyKey: "http-plan" })
    const a = await api.post("/v1/plans", plan)
    expect(a.status, a.text).toBe(201)
    const b = await api.post("/v1/plans", plan)
    expect(b.status, b.text).toBe(200)
    expect(Object.keys(b.body)).toEqual(["tasks"])
    for (const key of Object.keys(a.body.tasks)) expect(b.body.tasks[key].id).toBe(a.body.tasks[key].id)
    const conflict = await api.post("/v1/plans", { idempotencyKey: "http-plan", tasks: [{ key: "x", prompt: "X" }] })
    expect(conflict.status).toBe(409)
    expect(conflict.body.error._tag).toBe("IdempotencyConflict")
    expect((await api.get("/v1/tasks?status=ready,blocked")).body.filter((t: { agentType: string }) => t.agentType === "plan-idem")).toHaveLength(5)
  })
})

describe("delayed starts", () => {
  it("a long poll wakes when a delayed task's notBefore comes (submitted here, then by another process)", async () => {
    for (const [via, who] of [
      [api, "here"],
      [otherApi, "other"]
    ] as const) {
      const agentType = `delayed-${who}`
      const notBefore = new Date(Date.now() + 1500).toISOString()
      const t = (await via.post("/v1/tasks", { prompt: `later (${who})`, agentType, notBefore })).body
      expect(t).toMatchObject({ status: "ready", notBefore })
      expect((await api.post("/v1/claims", { agentType })).status).toBe(204)
      const started = Date.now()
      const r = await api.post("/v1/claims", { agentType, waitSeconds: 20 })
      expect(r.status, r.text).toBe(200)
      expect(r.body.id).toBe(t.id)
      expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(notBefore))
      // Woken at the instant, not at the end of the 20 s wait (generous bound for a busy machine).
      expect(Date.now() - started).toBeLessThan(15_000)
    }
  })

  it("the OpenAPI document has the DELETE route, 200 answers of idempotent submits and the new fields", async () => {
    const doc = (await api.get("/openapi.json")).body
    const del = doc.paths["/v1/tasks/{id}/dependencies/{prerequisiteId}"]?.delete
    expect(del?.responses["200"]).toBeDefined()
    expect(del?.responses["404"]).toBeDefined()
    expect(Object.keys(doc.paths["/v1/tasks"].post.responses)).toEqual(expect.arrayContaining(["200", "201", "409"]))
    expect(Object.keys(doc.paths["/v1/plans"].post.responses)).toEqual(expect.arrayContaining(["200", "201", "409"]))
    const s = doc.components.schemas
    expect(s.AddDependencyInput.properties.onFailure).toBeDefined()
    expect(s.SubmitTaskInput.properties.dependsOn.items.anyOf).toHaveLength(2) // anyOf: what MCP clients and function-calling converters read
    for (const f of ["notBefore", "idempotencyKey", "retryBackoffSeconds"])
      expect(typeof s.SubmitTaskInput.properties[f].description, f).toBe("string")
    expect(typeof s.PlanInput.properties.idempotencyKey.description).toBe("string")
    expect(s.TaskDetail.allOf?.[1]?.properties?.subtree ?? s.TaskDetail.properties?.subtree).toBeDefined()
    expect(s.DependencyLink.required).toContain("onFailure")
  })
})
