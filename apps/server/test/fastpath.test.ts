/**
 * The worker routes' fast path (POST /v1/claims, /v1/tasks/{id}/complete, /fail, /heartbeat served
 * without the router): it must answer exactly what the router answers. A server at the debug log
 * level serves every request through the router (the fast path is off there), so the two servers
 * below, on one database file, take the two ways for the same requests.
 */
import { randomUUID } from "node:crypto"
import { describe, expect, it } from "vitest"
import { httpText, type RawReply, rawRequest } from "./support/raw.js"
import { sharedServer, sleep } from "./support/server.js"

const { server, api } = sharedServer()
const { server: routed } = sharedServer(() => ({ db: server().db, args: ["--log-level", "debug"] }))

/** What must be the same on both ways: the status, the headers but Date, and the body's bytes. */
const answer = (r: RawReply) => {
  const { date: _date, ...headers } = r.headers
  return { status: r.status, headers, text: r.text }
}

const both = async (path: string, body?: string, headers: Record<string, string> = { "content-type": "application/json" }) => {
  const send = (port: number) =>
    rawRequest(port, httpText(port, "POST", path, { headers, ...(body !== undefined && { body }) }), { timeoutMs: 10_000 })
  return { fast: answer(await send(server().port)), routed: answer(await send(routed().port)) }
}

const metric = async (line: string): Promise<number> => {
  const text = (await api.get("/metrics")).text
  const found = text.split("\n").find((l) => l.startsWith(`${line} `))
  return found === undefined ? 0 : Number(found.slice(line.length + 1))
}

const requests = (route: string, status: number) => `abathur_http_request_duration_seconds_count{method="POST",route="${route}",status="${status}"}`

describe("the worker routes' fast path", () => {
  it("answers refused requests with the same status, headers and bytes as the router", async () => {
    const running = await api.post("/v1/tasks", { prompt: "held by a worker" })
    const claimed = await api.post("/v1/claims", { worker: "w" })
    expect(claimed.body.id).toBe(running.body.id)
    const ready = await api.post("/v1/tasks", { prompt: "nobody has it" })
    const id = running.body.id as string
    const cases: Array<[string, string, string | undefined]> = [
      ["malformed JSON", `/v1/tasks/${id}/complete`, "{"],
      ["JSON nested too deep", `/v1/tasks/${id}/complete`, `${"[".repeat(300)}${"]".repeat(300)}`],
      ["a body over 1 MiB", `/v1/tasks/${id}/complete`, JSON.stringify({ result: "x".repeat(1024 * 1024) })],
      ["a wrong lease token", `/v1/tasks/${id}/complete`, JSON.stringify({ leaseToken: "not-the-token" })],
      ["a lease token of the wrong type", `/v1/tasks/${id}/complete`, JSON.stringify({ leaseToken: 5 })],
      ["an unknown task", `/v1/tasks/${randomUUID()}/complete`, "{}"],
      ["an id in capitals", `/v1/tasks/${id.toUpperCase()}/complete`, JSON.stringify({ leaseToken: "not-the-token" })],
      ["a complete of a READY task", `/v1/tasks/${ready.body.id}/complete`, "{}"],
      ["a fail without its body", `/v1/tasks/${id}/fail`, undefined],
      ["a fail without an error", `/v1/tasks/${id}/fail`, "{}"],
      ["a heartbeat of a READY task", `/v1/tasks/${ready.body.id}/heartbeat`, "{}"],
      ["a heartbeat with a negative lease", `/v1/tasks/${id}/heartbeat`, JSON.stringify({ leaseSeconds: -1 })],
      ["a claim with limit 0", "/v1/claims", JSON.stringify({ limit: 0 })],
      ["a claim with a text wait", "/v1/claims", JSON.stringify({ waitSeconds: "soon" })],
      ["a claim of an array", "/v1/claims", "[1]"]
    ]
    for (const [what, path, body] of cases) {
      const r = await both(path, body)
      expect(r.fast.status, `${what}: ${r.fast.text}`).toBeGreaterThanOrEqual(400)
      expect(r.fast, what).toEqual(r.routed)
    }
    // the guards: the same function refuses on both ways
    const guarded: Array<[string, string, Record<string, string>]> = [
      ["a text/plain body", `/v1/tasks/${id}/complete`, { "content-type": "text/plain" }],
      ["another site's Origin", "/v1/claims", { "content-type": "application/json", origin: "http://evil.example" }]
    ]
    for (const [what, path, headers] of guarded) {
      const r = await both(path, "{}", headers)
      expect(r.fast.status, `${what}: ${r.fast.text}`).toBeGreaterThanOrEqual(400)
      expect(r.fast, what).toEqual(r.routed)
    }
    // and nothing changed: the task is still held with its lease, the other still READY
    expect((await api.get(`/v1/tasks/${id}`)).body.status).toBe("running")
    expect((await api.get(`/v1/tasks/${ready.body.id}`)).body.status).toBe("ready")
    const done = await api.post(`/v1/tasks/${id}/complete`, { leaseToken: claimed.body.leaseToken })
    expect(done.status, done.text).toBe(200)
  })

  it("counts its requests, claims and completions in the metrics", async () => {
    const t = await api.post("/v1/tasks", { prompt: "counted", agentType: "counted" })
    const before = {
      claims: await metric(requests("/v1/claims", 200)),
      completes: await metric(requests("/v1/tasks/:id/complete", 200)),
      refused: await metric(requests("/v1/tasks/:id/complete", 409)),
      claimed: await metric('abathur_claims_total{result="claimed"}'),
      completions: await metric("abathur_completions_total"),
      started: await metric('abathur_task_transitions_total{from="ready",to="running"}'),
      finished: await metric('abathur_task_transitions_total{from="running",to="completed"}')
    }
    const c = await api.post("/v1/claims", { worker: "counted", agentType: "counted" })
    expect(c.body.id).toBe(t.body.id)
    expect((await api.post(`/v1/tasks/${t.body.id}/complete`, { leaseToken: "wrong" })).status).toBe(409)
    expect((await api.post(`/v1/tasks/${t.body.id}/complete`, { leaseToken: c.body.leaseToken })).status).toBe(200)
    expect(await metric(requests("/v1/claims", 200))).toBe(before.claims + 1)
    expect(await metric(requests("/v1/tasks/:id/complete", 200))).toBe(before.completes + 1)
    expect(await metric(requests("/v1/tasks/:id/complete", 409))).toBe(before.refused + 1)
    expect(await metric('abathur_claims_total{result="claimed"}')).toBe(before.claimed + 1)
    expect(await metric("abathur_completions_total")).toBe(before.completions + 1)
    expect(await metric('abathur_task_transitions_total{from="ready",to="running"}')).toBe(before.started + 1)
    expect(await metric('abathur_task_transitions_total{from="running",to="completed"}')).toBe(before.finished + 1)
  })

  it("a long poll that got its task no longer counts as a waiting claim", async () => {
    while ((await api.post("/v1/claims", {})).status === 200) {}
    const waiting = api.post("/v1/claims", { waitSeconds: 20, worker: "patient" })
    for (let i = 0; i < 500 && (await metric("abathur_claims_waiting")) < 1; i++) await sleep(20)
    expect(await metric("abathur_claims_waiting")).toBe(1)
    const t = await api.post("/v1/tasks", { prompt: "for the patient worker" })
    const r = await waiting
    expect(r.status, r.text).toBe(200)
    expect(r.body.id).toBe(t.body.id)
    expect(await metric("abathur_claims_waiting")).toBe(0)
  })

  it("completes with next in one request, the answer the same as the router's but for the tasks' own fields", async () => {
    const a = await api.post("/v1/tasks", { prompt: "first", agentType: "chain" })
    const b = await api.post("/v1/tasks", { prompt: "second", agentType: "chain" })
    const first = await api.post("/v1/claims", { agentType: "chain", worker: "chain" })
    expect(first.body.id).toBe(a.body.id)
    const r = await api.post(`/v1/tasks/${a.body.id}/complete`, { leaseToken: first.body.leaseToken, next: { agentType: "chain", worker: "chain" } })
    expect(r.status, r.text).toBe(200)
    expect(r.body.task.status).toBe("completed")
    expect(r.body.next.id).toBe(b.body.id)
    expect(r.body.next.status).toBe("running")
    // the router answers the same document for the second one (nothing left to claim next)
    const viaRouter = await rawRequest(
      routed().port,
      httpText(routed().port, "POST", `/v1/tasks/${b.body.id}/complete`, {
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ leaseToken: r.body.next.leaseToken, next: { agentType: "chain" } })
      })
    )
    expect(viaRouter.status, viaRouter.text).toBe(200)
    expect(Object.keys(viaRouter.json).sort()).toEqual(Object.keys(r.body).sort())
    expect(viaRouter.json.next).toBeNull()
  })
})
