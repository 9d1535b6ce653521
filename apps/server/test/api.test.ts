/**
 * The HTTP API route by route against one real server. It stays whole (issue 12): the server is
 * shared through the file, and the /metrics test at its end reads the claims, completions and
 * failures that the earlier tests made.
 */
import { CONTRACT_TASK_KEYS } from "@abathur/testing"
import { describe, expect, it } from "vitest"
import { sharedServer } from "./support/server.js"

const { server, api } = sharedServer()

const uuid = "3f2b8c1e-9d4a-4f6b-8e2a-1c5d7e9f0a2b"

const submit = async (body: Record<string, unknown>) => {
  const r = await api.post("/v1/tasks", body)
  expect(r.status, r.text).toBe(201)
  return r.body
}

describe("tasks", () => {
  it("POST /v1/tasks creates a task (201) with every field of the contract", async () => {
    const r = await api.post("/v1/tasks", { prompt: "Write the parser\nwith tests", priority: 7, source: "agent_planner", inputData: { repo: "x" } })
    expect(r.status).toBe(201)
    expect(r.headers.get("content-type")).toContain("application/json")
    const t = r.body
    expect(Object.keys(t).sort()).toEqual(CONTRACT_TASK_KEYS)
    expect(t).toMatchObject({ summary: "Write the parser", priority: 7, source: "agent_planner", status: "ready", inputData: { repo: "x" } })
    expect(t.leaseToken).toBeUndefined()
  })

  it("GET /v1/tasks/{id} shows the detail; dependencies block", async () => {
    const a = await submit({ prompt: "a" })
    const b = await submit({ prompt: "b", dependsOn: [a.id] })
    expect(b.status).toBe("blocked")
    const detail = await api.get(`/v1/tasks/${b.id}`)
    expect(detail.status).toBe(200)
    expect(detail.body.prerequisites).toEqual([{ taskId: a.id, dependencyType: "sequential", onFailure: "cancel", resolvedAt: null }])
    expect(detail.body.dependents).toEqual([])
    expect(detail.body.children).toEqual([])
    expect(Object.keys(detail.body.priorityBreakdown).sort()).toEqual(["base", "dependency", "source", "starvation", "urgency"])
    // ids in any case are accepted
    expect((await api.get(`/v1/tasks/${b.id.toUpperCase()}`)).status).toBe(200)
  })

  it("POST /v1/plans submits a plan all or nothing (201)", async () => {
    const r = await api.post("/v1/plans", {
      tasks: [
        { key: "design", prompt: "Design" },
        { key: "build", prompt: "Build", dependsOn: ["design"], children: [{ key: "part", prompt: "Part" }] }
      ]
    })
    expect(r.status, r.text).toBe(201)
    expect(Object.keys(r.body.tasks).sort()).toEqual(["build", "design", "part"])
    expect(r.body.tasks.build.status).toBe("blocked")
    expect(r.body.tasks.part.parentTaskId).toBe(r.body.tasks.build.id)

    const cycle = await api.post("/v1/plans", {
      tasks: [
        { key: "x", prompt: "X", dependsOn: ["y"] },
        { key: "y", prompt: "Y", dependsOn: ["x"] }
      ]
    })
    expect(cycle.status).toBe(409)
    expect(cycle.body.error._tag).toBe("DependencyCycle")
    expect(cycle.body.error.cycle.length).toBeGreaterThan(1)
  })

  it("GET /v1/tasks filters by status (repeatable), source, parent, limit", async () => {
    const parent = await submit({ prompt: "parent", source: "agent_requirements" })
    const c1 = await submit({ prompt: "child 1", parentTaskId: parent.id })
    const c2 = await submit({ prompt: "child 2", parentTaskId: parent.id, dependsOn: [c1.id] })
    const children = await api.get(`/v1/tasks?parent=${parent.id}`)
    expect(children.status).toBe(200)
    expect(children.body.map((t: { id: string }) => t.id).sort()).toEqual([c1.id, c2.id].sort())
    const ready = await api.get(`/v1/tasks?parent=${parent.id}&status=ready`)
    expect(ready.body.map((t: { id: string }) => t.id)).toEqual([c1.id])
    const both = await api.get(`/v1/tasks?parent=${parent.id}&status=ready&status=blocked`)
    expect(both.body).toHaveLength(2)
    const commas = await api.get(`/v1/tasks?parent=${parent.id}&status=ready,blocked`)
    expect(commas.body).toHaveLength(2)
    const bySource = await api.get("/v1/tasks?source=agent_requirements")
    expect(bySource.body.map((t: { id: string }) => t.id)).toEqual([parent.id])
    const limited = await api.get("/v1/tasks?limit=2")
    expect(limited.body).toHaveLength(2)
    const excluded = await api.get(`/v1/tasks?parent=${parent.id}&excludeStatus=blocked`)
    expect(excluded.body.map((t: { id: string }) => t.id)).toEqual([c1.id])
  })

  it("GET /v1/tasks refuses bad query values and unknown parameters (400)", async () => {
    for (const q of ["status=nope", "limit=0", "limit=x", "source=robot", "parent=12", "colour=red"]) {
      const r = await api.get(`/v1/tasks?${q}`)
      expect(r.status, q).toBe(400)
      expect(r.body.error._tag, q).toBe("ValidationError")
      expect(typeof r.body.error.message).toBe("string")
    }
  })

  it("POST /v1/tasks/{id}/dependencies adds an edge (200 TaskDetail), refuses a cycle (409)", async () => {
    const a = await submit({ prompt: "a" })
    const b = await submit({ prompt: "b" })
    const r = await api.post(`/v1/tasks/${b.id}/dependencies`, { prerequisiteId: a.id, dependencyType: "parallel" })
    expect(r.status, r.text).toBe(200)
    expect(r.body.status).toBe("blocked")
    expect(r.body.prerequisites).toEqual([{ taskId: a.id, dependencyType: "parallel", onFailure: "cancel", resolvedAt: null }])
    const cycle = await api.post(`/v1/tasks/${a.id}/dependencies`, { prerequisiteId: b.id })
    expect(cycle.status).toBe(409)
    expect(cycle.body.error).toMatchObject({ _tag: "DependencyCycle", cycle: [a.id, b.id, a.id] })
    const missing = await api.post(`/v1/tasks/${a.id}/dependencies`, { prerequisiteId: uuid })
    expect(missing.status).toBe(404)
    expect(missing.body.error._tag).toBe("TaskNotFound")
  })

  it("cancel and retry (200 as the CLI)", async () => {
    const a = await submit({ prompt: "a", maxRetries: 0 })
    const b = await submit({ prompt: "b", dependsOn: [a.id] })
    const cancelled = await api.post(`/v1/tasks/${a.id}/cancel`, { reason: "not needed" })
    expect(cancelled.status, cancelled.text).toBe(200)
    expect(cancelled.body.task.status).toBe("cancelled")
    expect(cancelled.body.cancelled).toEqual([b.id])
    const again = await api.post(`/v1/tasks/${a.id}/cancel`)
    expect(again.status).toBe(409)
    expect(again.body.error._tag).toBe("InvalidTransition")
    const retryCancelled = await api.post(`/v1/tasks/${a.id}/retry`)
    expect(retryCancelled.status).toBe(409)
    const badBody = await api.post(`/v1/tasks/${a.id}/cancel`, { colour: "red" })
    expect(badBody.status).toBe(400)
  })
})

describe("workers", () => {
  it("claim, heartbeat, complete with the lease token; the next claim is empty (204)", async () => {
    // drain what other tests left
    while ((await api.post("/v1/claims", {})).status === 200) {}
    const a = await submit({ prompt: "work", agentType: "coder" })
    const b = await submit({ prompt: "after", agentType: "coder", dependsOn: [a.id] })
    const none = await api.post("/v1/claims", { agentType: "reviewer" })
    expect(none.status).toBe(204)
    expect(none.text).toBe("")
    const claim = await api.post("/v1/claims", { worker: "w1", leaseSeconds: 60, agentType: "coder" })
    expect(claim.status, claim.text).toBe(200)
    expect(claim.body).toMatchObject({ id: a.id, status: "running" })
    expect(typeof claim.body.leaseToken).toBe("string")
    expect(typeof claim.body.leaseExpiresAt).toBe("string")
    const hb = await api.post(`/v1/tasks/${a.id}/heartbeat`, { leaseToken: claim.body.leaseToken, leaseSeconds: 120 })
    expect(hb.status, hb.text).toBe(200)
    expect(hb.body.leaseToken).toBe(claim.body.leaseToken)
    const wrong = await api.post(`/v1/tasks/${a.id}/complete`, { leaseToken: "not-the-token" })
    expect(wrong.status).toBe(409)
    expect(wrong.body.error._tag).toBe("LeaseMismatch")
    const done = await api.post(`/v1/tasks/${a.id}/complete`, { leaseToken: claim.body.leaseToken, result: { ok: true } })
    expect(done.status, done.text).toBe(200)
    expect(done.body.task).toMatchObject({ id: a.id, status: "completed", resultData: { ok: true } })
    expect(done.body.unblocked).toEqual([b.id])
    const blockedComplete = await api.post(`/v1/tasks/${a.id}/complete`)
    expect(blockedComplete.status).toBe(409)
    expect(blockedComplete.body.error._tag).toBe("InvalidTransition")
  })

  it("claims with limit answer {tasks} (204 when none); complete with next claims in the same transaction; no token needs force", async () => {
    while ((await api.post("/v1/claims", {})).status === 200) {}
    const ids: Array<string> = []
    for (const priority of [9, 8, 7]) ids.push((await submit({ prompt: `batch ${priority}`, priority })).id)
    const many = await api.post("/v1/claims", { worker: "w", limit: 2 })
    expect(many.status, many.text).toBe(200)
    expect(Object.keys(many.body)).toEqual(["tasks"])
    expect(many.body.tasks.map((t: { id: string }) => t.id)).toEqual([ids[0], ids[1]])
    expect(typeof many.body.tasks[0].leaseToken).toBe("string")
    const noToken = await api.post(`/v1/tasks/${ids[0]}/complete`, { result: 1 })
    expect(noToken.status).toBe(409)
    expect(noToken.body.error._tag).toBe("LeaseMismatch")
    expect(noToken.body.error.message).toMatch(/"w"/)
    const next = await api.post(`/v1/tasks/${ids[0]}/complete`, { leaseToken: many.body.tasks[0].leaseToken, next: { worker: "w" } })
    expect(next.status, next.text).toBe(200)
    expect(next.body.task.status).toBe("completed")
    expect(next.body.next).toMatchObject({ id: ids[2], status: "running" })
    expect(typeof next.body.next.leaseToken).toBe("string")
    const last = await api.post(`/v1/tasks/${ids[2]}/complete`, { leaseToken: next.body.next.leaseToken, next: {} })
    expect(last.body.next).toBeNull()
    const forced = await api.post(`/v1/tasks/${ids[1]}/complete`, { force: true })
    expect(forced.status, forced.text).toBe(200)
    const empty = await api.post("/v1/claims", { limit: 5 })
    expect(empty.status).toBe(204)
    expect((await api.post("/v1/claims", { limit: 0 })).status).toBe(400)
    expect((await api.post(`/v1/tasks/${ids[1]}/complete`, { force: "yes" })).status).toBe(400)
  })

  it("fail retries, then fails for good and cancels dependents; retry revives", async () => {
    while ((await api.post("/v1/claims", {})).status === 200) {}
    const a = await submit({ prompt: "flaky", maxRetries: 1, retryBackoffSeconds: 0 })
    const b = await submit({ prompt: "after flaky", dependsOn: [a.id] })
    const c1 = await api.post("/v1/claims", {})
    expect(c1.body.id).toBe(a.id)
    const f1 = await api.post(`/v1/tasks/${a.id}/fail`, { error: "boom", leaseToken: c1.body.leaseToken })
    expect(f1.status, f1.text).toBe(200)
    expect(f1.body).toMatchObject({ retried: true, cancelled: [] })
    const c2 = await api.post("/v1/claims", {})
    expect(c2.body.id).toBe(a.id)
    // Without the token the worker's task is refused; an operator's force goes through.
    const refused = await api.post(`/v1/tasks/${a.id}/fail`, { error: "boom again" })
    expect(refused.status).toBe(409)
    expect(refused.body.error).toMatchObject({ _tag: "LeaseMismatch", taskId: a.id })
    expect(refused.body.error.message).toContain("force")
    const f2 = await api.post(`/v1/tasks/${a.id}/fail`, { error: "boom again", force: true })
    expect(f2.body).toMatchObject({ retried: false, cancelled: [b.id] })
    expect(f2.body.task.status).toBe("failed")
    const noError = await api.post(`/v1/tasks/${a.id}/fail`, {})
    expect(noError.status).toBe(400)
    const retried = await api.post(`/v1/tasks/${a.id}/retry`)
    expect(retried.status, retried.text).toBe(200)
    expect(retried.body.task.status).toBe("ready")
    expect(retried.body.revived).toEqual([b.id])
  })

  it("release gives a running task back; recover answers", async () => {
    while ((await api.post("/v1/claims", {})).status === 200) {}
    const a = await submit({ prompt: "to release" })
    const c = await api.post("/v1/claims", {})
    expect(c.body.id).toBe(a.id)
    const r = await api.post(`/v1/tasks/${a.id}/release`, { leaseToken: c.body.leaseToken })
    expect(r.status, r.text).toBe(200)
    expect(r.body.status).toBe("ready")
    expect((await api.post("/v1/recover")).body).toEqual({ recovered: [] })
  })

  it("claims refuse bad input (400): waitSeconds over 60, unknown fields", async () => {
    for (const body of [{ waitSeconds: 61 }, { waitSeconds: -1 }, { leaseSeconds: 0 }, { colour: "red" }, [1, 2], "text"]) {
      const r = await api.post("/v1/claims", body)
      expect(r.status, JSON.stringify(body)).toBe(400)
      expect(r.body.error._tag).toBe("ValidationError")
    }
  })
})

describe("queue views", () => {
  it("GET /v1/status", async () => {
    const r = await api.get("/v1/status")
    expect(r.status).toBe(200)
    expect(Object.keys(r.body).sort()).toEqual(["avgPriority", "byStatus", "maxDepth", "oldestWaitingAt", "total"])
    expect(Object.keys(r.body.byStatus).sort()).toEqual(["blocked", "cancelled", "completed", "failed", "pending", "ready", "running"])
  })

  it("GET /v1/plan with and without ids", async () => {
    const a = await submit({ prompt: "plan a" })
    const b = await submit({ prompt: "plan b", dependsOn: [a.id] })
    const all = await api.get("/v1/plan")
    expect(all.status).toBe(200)
    expect(all.body).toHaveProperty("batches")
    const mine = await api.get(`/v1/plan?ids=${b.id}`)
    expect(mine.body).toEqual({ batches: [[a.id], [b.id]], totalBatches: 2, maxParallelism: 1 })
    const two = await api.get(`/v1/plan?ids=${a.id},${b.id}`)
    expect(two.body.totalBatches).toBe(2)
    const missing = await api.get(`/v1/plan?ids=${uuid}`)
    expect(missing.status).toBe(404)
    const bad = await api.get("/v1/plan?ids=nope")
    expect(bad.status).toBe(400)
  })

  it("GET /v1/graph as text (mermaid, dot) or JSON with Accept", async () => {
    const a = await submit({ prompt: "graph a" })
    await submit({ prompt: "graph b", dependsOn: [a.id] })
    const mermaid = await api.get("/v1/graph")
    expect(mermaid.status).toBe(200)
    expect(mermaid.headers.get("content-type")).toContain("text/plain")
    expect(mermaid.text).toMatch(/^(graph|flowchart)/)
    const dot = await api.get(`/v1/graph?format=dot&id=${a.id}`)
    expect(dot.text).toMatch(/digraph/)
    const json = await api.get("/v1/graph?format=dot", { accept: "application/json" })
    expect(json.headers.get("content-type")).toContain("application/json")
    expect(json.body.format).toBe("dot")
    expect(json.body.text).toMatch(/digraph/)
    const bad = await api.get("/v1/graph?format=svg")
    expect(bad.status).toBe(400)
    expect(bad.body.error._tag).toBe("ValidationError")
  })

  it("GET /v1/tree and /v1/tasks/{id}/audit", async () => {
    const p = await submit({ prompt: "tree root" })
    const c = await submit({ prompt: "tree child", parentTaskId: p.id })
    const tree = await api.get(`/v1/tree?id=${p.id}`)
    expect(tree.status).toBe(200)
    expect(tree.body.task.id).toBe(p.id)
    expect(tree.body.children[0].task.id).toBe(c.id)
    const forest = await api.get("/v1/tree")
    expect(Array.isArray(forest.body)).toBe(true)
    const audit = await api.get(`/v1/tasks/${c.id}/audit`)
    expect(audit.status).toBe(200)
    expect(audit.body[0]).toMatchObject({ taskId: c.id, fromStatus: null, toStatus: "ready" })
  })
})

describe("errors", () => {
  it("400: malformed JSON, missing body, invalid fields, bad ids", async () => {
    const malformed = await api.post("/v1/tasks", "{ not json")
    expect(malformed.status).toBe(400)
    expect(malformed.body.error._tag).toBe("ValidationError")
    expect(malformed.body.error.message).toMatch(/JSON/)
    const empty = await api.request("POST", "/v1/tasks")
    expect(empty.status).toBe(400)
    const noPrompt = await api.post("/v1/tasks", { priority: 3 })
    expect(noPrompt.status).toBe(400)
    expect(noPrompt.body.error.message).toMatch(/prompt/)
    const priority = await api.post("/v1/tasks", { prompt: "x", priority: 11 })
    expect(priority.status).toBe(400)
    const typo = await api.post("/v1/tasks", { prompt: "x", priorty: 3 })
    expect(typo.status).toBe(400)
    expect(typo.body.error.message).toMatch(/priorty/)
    const badId = await api.get("/v1/tasks/not-a-uuid")
    expect(badId.status).toBe(400)
    expect(badId.body.error._tag).toBe("ValidationError")
  })

  it("404: a task that does not exist, a prerequisite that does not exist", async () => {
    const r = await api.get(`/v1/tasks/${uuid}`)
    expect(r.status).toBe(404)
    expect(r.body.error).toMatchObject({ _tag: "TaskNotFound", taskId: uuid })
    const dep = await api.post("/v1/tasks", { prompt: "x", dependsOn: [uuid] })
    expect(dep.status).toBe(404)
    for (const action of ["complete", "heartbeat", "cancel", "retry", "release"]) {
      expect((await api.post(`/v1/tasks/${uuid}/${action}`)).status, action).toBe(404)
    }
  })

  it("404 in the Error shape for unknown routes and methods", async () => {
    for (const [method, path] of [
      ["GET", "/nope"],
      ["GET", "/v1"],
      ["DELETE", "/v1/tasks"],
      ["GET", "/v1/claims"],
      ["PUT", "/v1/tasks/x"]
    ] as const) {
      const r = await api.request(method, path)
      expect(r.status, `${method} ${path}`).toBe(404)
      expect(r.body.error._tag).toBe("NotFound")
      expect(r.body.error.message).toContain(path)
    }
  })

  it("409: limits exceeded carry limit, max, actual", async () => {
    let prev = await submit({ prompt: "depth 0" })
    for (let i = 1; i <= 10; i++) prev = await submit({ prompt: `depth ${i}`, dependsOn: [prev.id] })
    const r = await api.post("/v1/tasks", { prompt: "too deep", dependsOn: [prev.id] })
    expect(r.status).toBe(409)
    expect(r.body.error).toMatchObject({ _tag: "LimitExceeded", limit: "depth", max: 10, actual: 11 })
  })

  it("413: a body over 1 MiB, declared or streamed, in the Error shape; the connection stays usable", async () => {
    const big = JSON.stringify({ prompt: "x".repeat(1024 * 1024) })
    const r = await api.post("/v1/tasks", big)
    expect(r.status).toBe(413)
    expect(r.body.error._tag).toBe("PayloadTooLarge")
    expect(r.body.error.maxBytes).toBe(1048576)
    // chunked (no Content-Length)
    const chunks = [big.slice(0, 600_000), big.slice(600_000)]
    const stream = new ReadableStream({
      start(controller) {
        for (const c of chunks) controller.enqueue(new TextEncoder().encode(c))
        controller.close()
      }
    })
    const res = await fetch(new URL("/v1/tasks", server().url), {
      method: "POST",
      body: stream,
      headers: { "content-type": "application/json" },
      duplex: "half"
    } as RequestInit)
    expect(res.status).toBe(413)
    expect(((await res.json()) as { error: { _tag: string } }).error._tag).toBe("PayloadTooLarge")
    // just under the limit is fine
    const ok = await api.post("/v1/tasks", JSON.stringify({ prompt: "y".repeat(1024 * 1024 - 100) }))
    expect(ok.status).toBe(201)
    expect((await api.get("/healthz")).status).toBe(200)
  })
})

describe("server routes", () => {
  it("GET /healthz", async () => {
    const r = await api.get("/healthz")
    expect(r.status).toBe(200)
    expect(r.body).toEqual({ status: "ok" })
  })

  it("GET /openapi.json is generated from the schemas and lists every route", async () => {
    const r = await api.get("/openapi.json")
    expect(r.status).toBe(200)
    const doc = r.body
    expect(doc.openapi).toBe("3.1.0")
    const paths = Object.keys(doc.paths)
    for (const p of [
      "/v1/tasks",
      "/v1/plans",
      "/v1/tasks/{id}",
      "/v1/tasks/{id}/dependencies",
      "/v1/claims",
      "/v1/tasks/{id}/heartbeat",
      "/v1/tasks/{id}/complete",
      "/v1/tasks/{id}/fail",
      "/v1/tasks/{id}/cancel",
      "/v1/tasks/{id}/retry",
      "/v1/status",
      "/v1/plan",
      "/v1/graph",
      "/v1/events",
      "/openapi.json",
      "/healthz",
      "/metrics",
      "/mcp",
      "/"
    ])
      expect(paths, p).toContain(p)
    expect(doc.paths["/v1/tasks"].post.responses["201"].content["application/json"].schema).toEqual({ $ref: "#/components/schemas/Task" })
    expect(doc.paths["/v1/claims"].post.responses).toHaveProperty("204")
    const submitSchema = doc.components.schemas.SubmitTaskInput
    expect(submitSchema.required).toEqual(["prompt"])
    expect(submitSchema.properties.priority).toMatchObject({ type: "integer", minimum: 0, maximum: 10 })
    expect(submitSchema.additionalProperties).toBe(false)
    expect(doc.components.schemas.ClaimInput.properties.waitSeconds).toMatchObject({ maximum: 60 })
    expect(doc.components.schemas.Task.required).toContain("calculatedPriority")
    // Every property of every request body says what it means (the words of the CLI and MCP).
    for (const [name, schema] of Object.entries(
      doc.components.schemas as Record<string, { properties?: Record<string, { description?: string }> }>
    )) {
      if (!name.endsWith("Input") && name !== "PlanNode") continue
      for (const [field, prop] of Object.entries(schema.properties ?? {})) {
        expect(typeof prop.description === "string" && prop.description.length > 10 ? "described" : `${name}.${field}`).toBe("described")
      }
    }
    expect(submitSchema.properties.priority.description).toBe("Base priority, a whole number from 0 (lowest) to 10 (highest); default 5.")
    expect(doc.components.schemas.PlanNode.properties.dependsOn.description).toContain("by key")
    // every reference resolves
    const text = JSON.stringify(doc)
    for (const [, name] of text.matchAll(/"#\/components\/schemas\/([^"]+)"/g)) expect(doc.components.schemas, name).toHaveProperty(name!)
    expect(text).not.toContain("__shared")
  })

  it("GET /docs renders the API for people (no external resources)", async () => {
    const r = await api.get("/docs")
    expect(r.status).toBe(200)
    expect(r.headers.get("content-type")).toContain("text/html")
    expect(r.text).toContain("/v1/claims")
    expect(r.text).toContain("SubmitTaskInput")
    expect(r.text).not.toMatch(/<script[^>]+src=|<link[^>]+href="https?:/)
  })

  it("GET /metrics in Prometheus text format", async () => {
    await api.get("/v1/status")
    const r = await api.get("/metrics")
    expect(r.status).toBe(200)
    expect(r.headers.get("content-type")).toContain("text/plain")
    expect(r.text).toMatch(/^# TYPE abathur_tasks gauge$/m)
    expect(r.text).toMatch(/^abathur_tasks\{status="ready"\} \d+$/m)
    expect(r.text).toMatch(/^abathur_claims_total\{result="claimed"\} [1-9]\d*$/m)
    expect(r.text).toMatch(/^abathur_completions_total [1-9]\d*$/m)
    expect(r.text).toMatch(/^abathur_failures_total\{outcome="failed"\} [1-9]\d*$/m)
    expect(r.text).toMatch(/^abathur_http_request_duration_seconds_bucket\{method="GET",route="\/v1\/status",status="200",le="\+Inf"\} [1-9]\d*$/m)
    expect(r.text).toMatch(/^abathur_http_request_duration_seconds_count\{method="GET",route="\/v1\/tasks\/:id",status="200"\} [1-9]\d*$/m)
    // every sample line is well-formed
    for (const line of r.text.trim().split("\n")) {
      if (!line.startsWith("#")) expect(line).toMatch(/^[a-z_]+(\{[^}]*\})? [-+0-9.eInfNa]+$/)
    }
  })

  it("GET / serves the dashboard", async () => {
    const r = await api.get("/")
    expect(r.status).toBe(200)
    expect(r.headers.get("content-type")).toContain("text/html")
  })
})
