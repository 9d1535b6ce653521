import { randomUUID } from "node:crypto"
import type { Socket } from "node:net"
import { connect } from "node:net"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { dumpDatabase, Hang, httpText, type RawReply, rawRequest, type RequestParts } from "./support/raw.js"
import { client, type RunningServer, startServer } from "./support/server.js"

// A hostile-request campaign against the real server (issue 10): well over 100 kinds of malformed,
// foreign, oversized, deep, slow and unauthenticated requests. For every one: an answer (never a
// hang: each request has a client timeout), never a 5xx, the contract's Error shape, and after the
// whole batch the database holds exactly what it held before (no request here may write).
// It stays whole (issue 12): most of it is the one table of cases, sent as one batch against one
// pair of servers and checked against one snapshot of each database.

const TOKEN = "hostile-s3cret-token"

let open: RunningServer // no token: loopback rules
let guarded: RunningServer // with a token
let ready: string
let running: { id: string; leaseToken: string }
let failed: string
let guardedTask: string

beforeAll(async () => {
  ;[open, guarded] = await Promise.all([startServer(), startServer({ env: { ABATHUR_TOKEN: TOKEN } })])
  const api = client(open.url)
  ready = (await api.post("/v1/tasks", { prompt: "a ready task", priority: 0 })).body.id
  const r = await api.post("/v1/tasks", { prompt: "a running task", priority: 10 })
  const claimed = await api.post("/v1/claims", { worker: "owner", leaseSeconds: 3600 })
  expect(claimed.body.id).toBe(r.body.id)
  running = { id: r.body.id, leaseToken: claimed.body.leaseToken }
  const f = await api.post("/v1/tasks", { prompt: "a task that fails", priority: 10, maxRetries: 0 })
  const c = await api.post("/v1/claims", {})
  expect(c.body.id).toBe(f.body.id)
  expect((await api.post(`/v1/tasks/${f.body.id}/fail`, { error: "broken", leaseToken: c.body.leaseToken })).body.task.status).toBe("failed")
  failed = f.body.id
  guardedTask = (await client(guarded.url, { authorization: `Bearer ${TOKEN}` }).post("/v1/tasks", { prompt: "guarded" })).body.id
})
afterAll(async () => {
  await Promise.all([open?.dispose(), guarded?.dispose()])
})

interface Case {
  readonly name: string
  readonly data: string | Buffer | ReadonlyArray<string | Buffer>
  /** The status it must get (default: any 4xx). */
  readonly status?: number
  readonly tag?: string
  readonly server?: "open" | "guarded"
  readonly pauseMs?: number
}

const JSON_TYPE = { "content-type": "application/json" }
const MCP_HEADERS = { "content-type": "application/json", accept: "application/json, text/event-stream" }
const nested = (depth: number) => `${"[".repeat(depth)}${"]".repeat(depth)}`

/** Every kind of hostile request, against the server without a token unless said otherwise. */
const cases = (): Array<Case> => {
  const port = open.port
  const gport = guarded.port
  const req = (method: string, path: string, parts: RequestParts = {}) => httpText(port, method, path, parts)
  const json = (method: string, path: string, body: string, headers: Record<string, string> = {}) =>
    req(method, path, { headers: { ...JSON_TYPE, ...headers }, body })
  const greq = (method: string, path: string, parts: RequestParts = {}) => httpText(gport, method, path, parts)
  const auth = { authorization: `Bearer ${TOKEN}` }
  const submit = '{"prompt":"posted by a hostile page"}'
  const mcpCall = (name: string, args: unknown) => JSON.stringify({ jsonrpc: "2.0", id: 7, method: "tools/call", params: { name, arguments: args } })
  const c = (name: string, data: Case["data"], status?: number, tag?: string): Case => ({
    name,
    data,
    ...(status !== undefined && { status }),
    ...(tag !== undefined && { tag })
  })
  const list: Array<Case> = [
    // ---- content types (CSRF): 415, nothing written ----
    c("text/plain submit", req("POST", "/v1/tasks", { headers: { "content-type": "text/plain" }, body: submit }), 415, "ValidationError"),
    c("form submit", req("POST", "/v1/tasks", { headers: { "content-type": "application/x-www-form-urlencoded" }, body: submit }), 415),
    c("multipart submit", req("POST", "/v1/tasks", { headers: { "content-type": "multipart/form-data; boundary=b" }, body: submit }), 415),
    c("no content type with a body", req("POST", "/v1/tasks", { body: submit }), 415),
    c("text/json submit", req("POST", "/v1/tasks", { headers: { "content-type": "text/json" }, body: submit }), 415),
    c("application/jsonx", req("POST", "/v1/tasks", { headers: { "content-type": "application/jsonx" }, body: submit }), 415),
    c("two types in one header", req("POST", "/v1/tasks", { headers: { "content-type": "text/plain, application/json" }, body: submit }), 415),
    c("text/plain plan", req("POST", "/v1/plans", { headers: { "content-type": "text/plain" }, body: '{"tasks":[{"key":"a","prompt":"x"}]}' }), 415),
    c("text/plain claim", req("POST", "/v1/claims", { headers: { "content-type": "text/plain" }, body: "{}" }), 415),
    c("empty text/plain claim", req("POST", "/v1/claims", { headers: { "content-type": "text/plain" }, body: "" }), 415),
    c("chunked claim without a type", req("POST", "/v1/claims", { headers: { "transfer-encoding": "chunked" }, body: "2\r\n{}\r\n0\r\n\r\n" }), 415),
    c("text/plain complete", req("POST", `/v1/tasks/${running.id}/complete`, { headers: { "content-type": "text/plain" }, body: "{}" }), 415),
    c("text/plain fail", req("POST", `/v1/tasks/${running.id}/fail`, { headers: { "content-type": "text/plain" }, body: '{"error":"x"}' }), 415),
    c("text/plain cancel", req("POST", `/v1/tasks/${ready}/cancel`, { headers: { "content-type": "text/plain" }, body: "{}" }), 415),
    c("text/plain retry", req("POST", `/v1/tasks/${failed}/retry`, { headers: { "content-type": "text/plain" }, body: "{}" }), 415),
    c("text/plain recover", req("POST", "/v1/recover", { headers: { "content-type": "text/plain" }, body: "{}" }), 415),
    c(
      "text/plain MCP enqueue",
      req("POST", "/mcp", { headers: { ...MCP_HEADERS, "content-type": "text/plain" }, body: mcpCall("task_enqueue", { prompt: "x" }) }),
      415
    ),
    // ---- foreign Host (DNS rebinding): 403 ----
    c("rebinding name, no port", req("GET", "/v1/tasks", { host: "rebind.evil.example" }), 403, "Forbidden"),
    c("rebinding name at the port", req("GET", "/v1/tasks", { host: `rebind.evil.example:${port}` }), 403, "Forbidden"),
    c("rebinding submit", req("POST", "/v1/tasks", { host: `rebind.evil.example:${port}`, headers: JSON_TYPE, body: submit }), 403),
    c("rebinding claim", req("POST", "/v1/claims", { host: "rebind.evil.example", headers: JSON_TYPE, body: "{}" }), 403),
    c(
      "rebinding MCP",
      req("POST", "/mcp", { host: "rebind.evil.example", headers: MCP_HEADERS, body: mcpCall("task_enqueue", { prompt: "x" }) }),
      403
    ),
    c("rebinding events", req("GET", "/v1/events", { host: "rebind.evil.example" }), 403),
    c("rebinding dashboard", req("GET", "/", { host: "rebind.evil.example" }), 403),
    c("private address", req("GET", "/v1/status", { host: `10.0.0.1:${port}` }), 403),
    c("any address", req("GET", "/v1/status", { host: `0.0.0.0:${port}` }), 403),
    c("IPv6 any address", req("GET", "/v1/status", { host: `[::]:${port}` }), 403),
    c("loopback at another port", req("GET", "/v1/status", { host: `127.0.0.1:${port === 65535 ? 1 : port + 1}` }), 403),
    c("localhost as a subdomain", req("GET", "/v1/status", { host: `localhost.evil.example:${port}` }), 403),
    c("loopback-looking name", req("GET", "/v1/status", { host: `127.0.0.1.nip.io:${port}` }), 403),
    c("mapped private IPv6", req("GET", "/v1/status", { host: `[::ffff:10.0.0.1]:${port}` }), 403),
    c("decimal IPv4", req("GET", "/v1/status", { host: `2130706433:${port}` }), 403),
    // ---- foreign Origin: 403 ----
    c("foreign origin submit", json("POST", "/v1/tasks", submit, { origin: "http://evil.example" }), 403, "Forbidden"),
    c("null origin submit", json("POST", "/v1/tasks", submit, { origin: "null" }), 403),
    c("https origin", json("POST", "/v1/tasks", submit, { origin: `https://127.0.0.1:${port}` }), 403),
    c("origin at another port", json("POST", "/v1/claims", "{}", { origin: `http://localhost:${port === 65535 ? 1 : port + 1}` }), 403),
    c("origin with credentials", json("POST", "/v1/tasks", submit, { origin: `http://127.0.0.1:${port}@evil.example` }), 403),
    c("origin with a path", json("POST", "/v1/tasks", submit, { origin: `http://127.0.0.1:${port}/x` }), 403),
    c("foreign origin read", req("GET", "/v1/tasks", { headers: { origin: "http://evil.example" } }), 403),
    c(
      "foreign origin MCP",
      req("POST", "/mcp", { headers: { ...MCP_HEADERS, origin: "http://evil.example" }, body: mcpCall("task_claim", {}) }),
      403
    ),
    c("foreign origin cancel", req("POST", `/v1/tasks/${ready}/cancel`, { headers: { origin: "http://evil.example" } }), 403),
    c("empty origin", json("POST", "/v1/tasks", submit, { origin: "" }), 403),
    // ---- malformed Host: 400 ----
    c("port out of range", req("GET", "/v1/status", { host: "a:99999" }), 400, "ValidationError"),
    c(
      "port out of range on MCP",
      req("POST", "/mcp", { host: "a:99999", headers: MCP_HEADERS, body: mcpCall("task_queue_status", {}) }),
      400,
      "ValidationError"
    ),
    c("unclosed bracket on MCP", req("POST", "/mcp", { host: "[::1", headers: MCP_HEADERS, body: mcpCall("task_queue_status", {}) }), 400),
    c("unclosed bracket", req("GET", "/healthz", { host: "[::1" }), 400),
    c("empty host", req("GET", "/v1/status", { host: "" }), 400),
    c("empty host on MCP", req("POST", "/mcp", { host: "", headers: MCP_HEADERS, body: mcpCall("task_queue_status", {}) }), 400),
    c("no host", req("GET", "/v1/status", { host: null }), 400),
    c("no host, HTTP/1.0", "GET /v1/status HTTP/1.0\r\n\r\n", 400),
    c("negative port", req("GET", "/v1/status", { host: "127.0.0.1:-1" }), 400),
    c("two ports", req("GET", "/v1/status", { host: "127.0.0.1:80:80" }), 400),
    c("space in host", req("GET", "/v1/status", { host: "local host" }), 400),
    c("junk after bracket", req("GET", "/v1/status", { host: "[::1]x" }), 400),
    c("not an address in brackets", req("GET", "/v1/status", { host: "[zz]:80" }), 400),
    c("userinfo in host", req("GET", "/v1/status", { host: `evil@127.0.0.1:${port}` }), 400),
    c("percent-encoded host", req("GET", "/v1/status", { host: "%31%32%37.0.0.1" }), 400),
    c("empty port", req("GET", "/v1/status", { host: "127.0.0.1:" }), 400),
    // ---- methods and routes ----
    c("GET /mcp event stream", req("GET", "/mcp", { headers: { accept: "text/event-stream" } }), 405, "MethodNotAllowed"),
    c("GET /mcp JSON", req("GET", "/mcp", { headers: { accept: "application/json" } }), 405),
    c("DELETE /mcp", req("DELETE", "/mcp", { headers: { "mcp-session-id": "x" } }), 405),
    c("PUT /mcp", req("PUT", "/mcp", { headers: MCP_HEADERS, body: mcpCall("task_enqueue", { prompt: "x" }) }), 405),
    c("PUT tasks", json("PUT", "/v1/tasks", submit), 404, "NotFound"),
    c("PATCH a task", json("PATCH", `/v1/tasks/${ready}`, '{"priority":10}'), 404),
    c("DELETE a task", req("DELETE", `/v1/tasks/${ready}`), 404),
    c(
      "OPTIONS preflight",
      req("OPTIONS", "/v1/tasks", { headers: { origin: `http://127.0.0.1:${port}`, "access-control-request-method": "POST" } }),
      404
    ),
    c("TRACE", req("TRACE", "/")),
    c("CONNECT", `CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n`, 405),
    c("unknown method", req("BREW", "/coffee"), 400),
    c("lower-case method", req("get", "/v1/status"), 400),
    c("unknown route", req("GET", "/nope"), 404),
    c("unknown v1 route", req("POST", `/v1/tasks/${ready}/explode`, { headers: JSON_TYPE, body: "{}" }), 404),
    c("GET on a POST route", req("GET", "/v1/claims"), 404),
    // ---- path traversal ----
    c("dot segments", req("GET", "/../../etc/passwd"), 404),
    c("encoded dot segments as an id", req("GET", "/v1/tasks/..%2F..%2F..%2Fetc%2Fpasswd"), 400),
    c("encoded dots", req("GET", "/%2e%2e/%2e%2e/etc/passwd"), 404),
    c("backslashes", req("GET", "/..\\..\\windows\\win.ini"), 404),
    c("NUL in path", req("GET", "/v1/tasks/%00"), 400),
    c("double slash write", json("POST", "//v1/tasks", submit, { origin: "http://evil.example" }), 403),
    c("docs then up", req("GET", "/docs/../openapi.json")),
    c("absolute-form target", req("GET", "http://evil.example/v1/tasks"), 400),
    c("absolute-form POST", json("POST", `http://127.0.0.1:${port}/v1/tasks`, submit), 400),
    c("asterisk target", req("GET", "*"), 400),
    c("OPTIONS asterisk", req("OPTIONS", "*"), 400),
    // ---- bad ids ----
    c("id not a UUID", req("GET", "/v1/tasks/not-a-uuid"), 400, "ValidationError"),
    c("numeric id", req("GET", "/v1/tasks/123"), 400),
    c("id with extra characters", req("GET", `/v1/tasks/${ready}0`), 400),
    c("complete a bad id", json("POST", "/v1/tasks/zzzz/complete", "{}"), 400),
    c("heartbeat a bad id", json("POST", "/v1/tasks/%27%20OR%201=1--/heartbeat", "{}"), 400),
    c("cancel an unknown id", json("POST", `/v1/tasks/${randomUUID()}/cancel`, "{}"), 404, "TaskNotFound"),
    c("audit of an unknown id", req("GET", `/v1/tasks/${randomUUID()}/audit`), 404),
    c("bad prerequisite id", json("POST", `/v1/tasks/${ready}/dependencies`, '{"prerequisiteId":"nope"}'), 400),
    c("CRLF in the path", req("GET", "/v1/tasks/%0d%0aSet-Cookie:%20pwned=1"), 400),
    // ---- query strings ----
    c("limit not a number", req("GET", "/v1/tasks?limit=abc"), 400),
    c("negative limit", req("GET", "/v1/tasks?limit=-1"), 400),
    c("limit 1e999", req("GET", "/v1/tasks?limit=1e999"), 400),
    c("limit NaN", req("GET", "/v1/tasks?limit=NaN"), 400),
    c("limit Infinity", req("GET", "/v1/tasks?limit=Infinity"), 400),
    c("fractional limit", req("GET", "/v1/tasks?limit=1.5"), 400),
    c("unknown status", req("GET", "/v1/tasks?status=bogus"), 400),
    c("bad percent-encoding", req("GET", "/v1/tasks?%zz=1"), 400),
    c("__proto__ parameter", req("GET", "/v1/tasks?__proto__[polluted]=1"), 400),
    c("constructor parameter", req("GET", "/v1/status?constructor=x"), 400),
    c("parent not a UUID", req("GET", "/v1/tasks?parent=..%2F"), 400),
    c("heartbeat 0 s", req("GET", "/v1/events?heartbeatSeconds=0"), 400),
    c("heartbeat Infinity", req("GET", "/v1/events?heartbeatSeconds=Infinity"), 400),
    c("graph as svg", req("GET", "/v1/graph?format=svg"), 400),
    c("plan of bad ids", req("GET", "/v1/plan?ids=nope,also-nope"), 400),
    c("query over 16 KiB", req("GET", `/v1/tasks?status=${"x".repeat(20_000)}`), 431),
    // ---- bodies ----
    c(
      "body over 1 MiB, declared",
      req("POST", "/v1/tasks", { headers: { ...JSON_TYPE, "content-length": String(2 * 1024 * 1024) }, body: "{" }),
      413,
      "PayloadTooLarge"
    ),
    c("body over 1 MiB, sent", json("POST", "/v1/tasks", JSON.stringify({ prompt: "x".repeat(1024 * 1024 + 10) })), 413),
    c(
      "body over 1 MiB, chunked",
      req("POST", "/v1/tasks", {
        headers: { ...JSON_TYPE, "transfer-encoding": "chunked" },
        body: `${(1100 * 1024).toString(16)}\r\n${"x".repeat(1100 * 1024)}\r\n0\r\n\r\n`
      }),
      413
    ),
    c("malformed JSON", json("POST", "/v1/tasks", "{"), 400, "ValidationError"),
    c("JSON array", json("POST", "/v1/tasks", "[]"), 400),
    c("JSON string", json("POST", "/v1/tasks", '"hello"'), 400),
    c("JSON null", json("POST", "/v1/tasks", "null"), 400),
    c("BOM before JSON", json("POST", "/v1/tasks", `\ufeff${submit}`), 400),
    c("inputData 1,600 levels deep", json("POST", "/v1/tasks", `{"prompt":"x","inputData":{"a":${nested(1_600)}}}`), 400),
    c("objects 1,600 levels deep", json("POST", "/v1/tasks", `{"prompt":"x","inputData":${'{"a":'.repeat(1_600)}1${"}".repeat(1_600)}}`), 400),
    c(
      "result 200,000 levels deep",
      json("POST", `/v1/tasks/${running.id}/complete`, `{"leaseToken":"${running.leaseToken}","result":${nested(200_000)}}`),
      400
    ),
    c("unclosed 500,000 levels", json("POST", "/v1/tasks", "[".repeat(500_000)), 400),
    c("deep plan body", json("POST", "/v1/plans", `{"tasks":${nested(5_000)}}`), 400),
    c("deep claim body", json("POST", "/v1/claims", `{"worker":${nested(1_000)}}`), 400),
    c(
      "deep MCP arguments",
      req("POST", "/mcp", {
        headers: MCP_HEADERS,
        body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"task_enqueue","arguments":{"prompt":"x","inputData":{"a":${nested(2_000)}}}}}`
      }),
      400
    ),
    c("NaN literal", json("POST", "/v1/tasks", '{"prompt":"x","priority":NaN}'), 400),
    c("Infinity literal", json("POST", "/v1/tasks", '{"prompt":"x","priority":Infinity}'), 400),
    c("negative priority", json("POST", "/v1/tasks", '{"prompt":"x","priority":-1}'), 400),
    c("huge priority", json("POST", "/v1/tasks", '{"prompt":"x","priority":1e308}'), 400),
    c("overflowing number", json("POST", "/v1/tasks", '{"prompt":"x","priority":1e999}'), 400),
    c("priority as a string", json("POST", "/v1/tasks", '{"prompt":"x","priority":"5"}'), 400),
    c("prompt as a number", json("POST", "/v1/tasks", '{"prompt":5}'), 400),
    c("prompt as an object", json("POST", "/v1/tasks", '{"prompt":{"toString":"x"}}'), 400),
    c("empty prompt", json("POST", "/v1/tasks", '{"prompt":""}'), 400),
    c("unknown key", json("POST", "/v1/tasks", '{"prompt":"x","bogus":1}'), 400),
    c("__proto__ key", json("POST", "/v1/tasks", '{"prompt":"x","__proto__":{"polluted":true}}'), 400),
    c("__proto__ instead of fields", json("POST", "/v1/tasks", '{"__proto__":{"prompt":"x"}}'), 400),
    c("constructor.prototype key", json("POST", "/v1/tasks", '{"prompt":"x","constructor":{"prototype":{"polluted":true}}}'), 400),
    c("__proto__ in a claim", json("POST", "/v1/claims", '{"__proto__":{"leaseSeconds":1}}'), 400),
    c("inputData not an object", json("POST", "/v1/tasks", '{"prompt":"x","inputData":"x"}'), 400),
    c("negative maxRetries", json("POST", "/v1/tasks", '{"prompt":"x","maxRetries":-1}'), 400),
    c("deadline not a date", json("POST", "/v1/tasks", '{"prompt":"x","deadline":"tomorrow-ish"}'), 400),
    c("dependsOn a string", json("POST", "/v1/tasks", `{"prompt":"x","dependsOn":"${ready}"}`), 400),
    c("dependsOn an unknown task", json("POST", "/v1/tasks", `{"prompt":"x","dependsOn":["${randomUUID()}"]}`), 404),
    c("parent unknown", json("POST", "/v1/tasks", `{"prompt":"x","parentTaskId":"${randomUUID()}"}`), 404),
    c("plan without tasks", json("POST", "/v1/plans", "{}"), 400),
    c("plan with duplicate keys", json("POST", "/v1/plans", '{"tasks":[{"key":"a","prompt":"x"},{"key":"a","prompt":"y"}]}'), 400),
    c(
      "plan with a cycle",
      json("POST", "/v1/plans", '{"tasks":[{"key":"a","prompt":"x","dependsOn":["b"]},{"key":"b","prompt":"y","dependsOn":["a"]}]}'),
      409
    ),
    // ---- durations and worker bodies ----
    c("lease 2^53-1 s", json("POST", "/v1/claims", '{"leaseSeconds":9007199254740991}'), 400, "ValidationError"),
    c("lease 1e13 s", json("POST", "/v1/claims", '{"leaseSeconds":1e13}'), 400),
    c("lease 7 days and 1 s", json("POST", "/v1/claims", '{"leaseSeconds":604801}'), 400),
    c("negative lease", json("POST", "/v1/claims", '{"leaseSeconds":-5}'), 400),
    c("fractional lease", json("POST", "/v1/claims", '{"leaseSeconds":0.5}'), 400),
    c("lease as a string", json("POST", "/v1/claims", '{"leaseSeconds":"60"}'), 400),
    c("heartbeat lease 1e13 s", json("POST", `/v1/tasks/${running.id}/heartbeat`, `{"leaseToken":"${running.leaseToken}","leaseSeconds":1e13}`), 400),
    c("wait 1e9 s", json("POST", "/v1/claims", '{"waitSeconds":1e9}'), 400),
    c("negative wait", json("POST", "/v1/claims", '{"waitSeconds":-1}'), 400),
    c("worker as a number", json("POST", "/v1/claims", '{"worker":5}'), 400),
    c("unknown claim key", json("POST", "/v1/claims", '{"priority":10}'), 400),
    c("complete with a wrong lease", json("POST", `/v1/tasks/${running.id}/complete`, '{"leaseToken":"stolen"}'), 409, "LeaseMismatch"),
    c("fail with a wrong lease", json("POST", `/v1/tasks/${running.id}/fail`, '{"error":"x","leaseToken":"stolen"}'), 409),
    c("heartbeat with a wrong lease", json("POST", `/v1/tasks/${running.id}/heartbeat`, '{"leaseToken":"stolen"}'), 409),
    c("fail without an error", json("POST", `/v1/tasks/${running.id}/fail`, '{"error":"   "}'), 400),
    c("cancel with a bad reason", json("POST", `/v1/tasks/${ready}/cancel`, '{"reason":5}'), 400),
    c("retry a running task", json("POST", `/v1/tasks/${running.id}/retry`, "{}"), 409, "InvalidTransition"),
    c("retry with fields", json("POST", `/v1/tasks/${failed}/retry`, '{"force":true}'), 400),
    c("complete a ready task", json("POST", `/v1/tasks/${ready}/complete`, "{}"), 409),
    c("depend on itself", json("POST", `/v1/tasks/${ready}/dependencies`, `{"prerequisiteId":"${ready}"}`), 409),
    c("depend on a failed task", json("POST", `/v1/tasks/${ready}/dependencies`, `{"prerequisiteId":"${failed}"}`), 409),
    // ---- header injection and broken HTTP ----
    c("bare CR in a header", `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nX-Abathur-Actor: a\rInjected: 1\r\n\r\n`, 400),
    c("NUL in a header", `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nX-Abathur-Actor: a\0b\r\n\r\n`, 400),
    c("space in a header name", `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nBad Header: x\r\n\r\n`, 400),
    c(
      "folded header",
      `POST /v1/tasks HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: text/plain\r\n application/json\r\nContent-Length: ${submit.length}\r\n\r\n${submit}`
    ),
    c(
      "two content lengths",
      `POST /v1/tasks HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: 5\r\nContent-Length: ${submit.length}\r\n\r\n${submit}`,
      400
    ),
    c(
      "length and chunked (smuggling)",
      `POST /v1/tasks HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nPOST /v1/tasks HTTP/1.1\r\n\r\n`,
      400
    ),
    c(
      "bad chunk size",
      `POST /v1/tasks HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`,
      400
    ),
    c("negative length", `POST /v1/tasks HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: -1\r\n\r\n`, 400),
    c(
      "length not a number",
      `POST /v1/tasks HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: abc\r\n\r\n`,
      400
    ),
    c("headers over 16 KiB", req("GET", "/v1/status", { headers: { "x-filler": "y".repeat(20_000) } }), 431),
    c("HTTP/0.9", "GET /\r\n\r\n", 400),
    c("HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
    c("HTTP/9.9", `GET /healthz HTTP/9.9\r\nHost: 127.0.0.1:${port}\r\n\r\n`, 400),
    c("binary junk", Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, 0x0d, 0x0a, 0x0d, 0x0a]), 400),
    c(
      "latin-1 actor on a refused body",
      req("POST", "/v1/tasks", { headers: { "content-type": "text/plain", "x-abathur-actor": "r\u00e9sum\u00e9" }, body: submit }),
      415
    ),
    // ---- MCP JSON-RPC ----
    c("MCP malformed JSON", req("POST", "/mcp", { headers: MCP_HEADERS, body: "{" }), 400),
    c("MCP empty object", req("POST", "/mcp", { headers: MCP_HEADERS, body: "{}" }), 400),
    c("MCP empty batch", req("POST", "/mcp", { headers: MCP_HEADERS, body: "[]" }), 202),
    c("MCP wrong version", req("POST", "/mcp", { headers: MCP_HEADERS, body: '{"jsonrpc":"1.0","id":1,"method":"tools/list"}' }), 400),
    c(
      "MCP JSON only in Accept",
      req("POST", "/mcp", { headers: { ...JSON_TYPE, accept: "application/json" }, body: mcpCall("task_enqueue", { prompt: "x" }) }),
      406
    ),
    c("MCP bad arguments", req("POST", "/mcp", { headers: MCP_HEADERS, body: mcpCall("task_enqueue", { prompt: 5 }) }), 200),
    c("MCP unknown tool", req("POST", "/mcp", { headers: MCP_HEADERS, body: mcpCall("rm_rf", {}) }), 200),
    c("MCP arguments a string", req("POST", "/mcp", { headers: MCP_HEADERS, body: mcpCall("task_enqueue", "prompt") }), 200),
    c(
      "MCP __proto__ argument",
      req("POST", "/mcp", { headers: MCP_HEADERS, body: mcpCall("task_enqueue", JSON.parse('{"__proto__":{"prompt":"x"}}')) }),
      200
    ),
    c(
      "MCP complete with a wrong lease",
      req("POST", "/mcp", { headers: MCP_HEADERS, body: mcpCall("task_complete", { taskId: running.id, leaseToken: "stolen" }) }),
      200
    ),
    c("MCP no body", req("POST", "/mcp", { headers: MCP_HEADERS }), 400),
    // ---- auth probes on the server with a token ----
    ...[
      ["no Authorization", {}],
      ["wrong token", { authorization: "Bearer wrong" }],
      ["empty Authorization", { authorization: "" }],
      ["Bearer alone", { authorization: "Bearer" }],
      ["Bearer and spaces", { authorization: "Bearer    " }],
      ["token with a space inside", { authorization: `Bearer ${TOKEN.slice(0, 5)} ${TOKEN.slice(5)}` }],
      ["token plus a character", { authorization: `Bearer ${TOKEN}x` }],
      ["token minus a character", { authorization: `Bearer ${TOKEN.slice(0, -1)}` }],
      ["token in upper case", { authorization: `Bearer ${TOKEN.toUpperCase()}` }],
      ["token without a scheme", { authorization: TOKEN }],
      ["Basic scheme", { authorization: `Basic ${Buffer.from(`user:${TOKEN}`).toString("base64")}` }],
      ["token in another header", { "x-abathur-token": TOKEN }],
      ["latin-1 token", { authorization: "Bearer t\u00f6ken" }]
    ].map(([name, headers]) => ({
      name: `auth: ${name as string}`,
      data: greq("POST", "/v1/tasks", { headers: { ...JSON_TYPE, ...(headers as Record<string, string>) }, body: submit }),
      status: 401,
      tag: "Unauthorized",
      server: "guarded" as const
    })),
    { name: "auth: empty access_token", data: greq("GET", "/v1/tasks?access_token="), status: 401, server: "guarded" },
    {
      name: "auth: wrong access_token",
      data: greq("POST", "/v1/claims?access_token=wrong", { headers: JSON_TYPE, body: "{}" }),
      status: 401,
      server: "guarded"
    },
    {
      name: "auth: MCP without a token",
      data: greq("POST", "/mcp", { headers: MCP_HEADERS, body: mcpCall("task_enqueue", { prompt: "x" }) }),
      status: 401,
      server: "guarded"
    },
    { name: "auth: events without a token", data: greq("GET", "/v1/events"), status: 401, server: "guarded" },
    { name: "auth: cancel without a token", data: greq("POST", `/v1/tasks/${guardedTask}/cancel`), status: 401, server: "guarded" },
    {
      name: "auth: valid token, text/plain body",
      data: greq("POST", "/v1/tasks", { headers: { ...auth, "content-type": "text/plain" }, body: submit }),
      status: 415,
      server: "guarded"
    },
    {
      name: "auth: valid token, malformed Host",
      data: greq("POST", "/v1/tasks", { host: "a:99999", headers: { ...auth, ...JSON_TYPE }, body: submit }),
      status: 400,
      server: "guarded"
    },
    { name: "auth: foreign Host without a token", data: greq("GET", "/v1/tasks", { host: "queue.example.com" }), status: 401, server: "guarded" },
    // ---- slow clients whose requests complete ----
    {
      name: "slow text/plain body: refused before it arrives",
      data: [req("POST", "/v1/tasks", { headers: { "content-type": "text/plain", "content-length": "100" } }), '{"prom'],
      status: 415
    },
    {
      name: "slow JSON body, dribbled, with an unknown key",
      data: [
        "POST /v1/claims HTTP/1.1\r\nHost: 127.0.0.1:",
        `${port}\r\nContent-Type: application/json\r\nConnection: close\r\n`,
        "Content-Length: 11\r\n\r\n",
        '{"bogus',
        '":1}'
      ],
      pauseMs: 100,
      status: 400
    }
  ]
  return list
}

/** Runs `tasks` with at most `n` at a time. */
const pool = async <T>(items: ReadonlyArray<T>, n: number, run: (item: T) => Promise<void>) => {
  let next = 0
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < items.length) await run(items[next++]!)
    })
  )
}

/** A client that sends a request's first bytes and then nothing (slowloris). */
const stall = (port: number, text: string): Promise<Socket> =>
  new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port }, () => {
      socket.write(text)
      resolve(socket)
    })
    socket.on("error", () => {})
  })

describe("hostile requests", () => {
  it("over 100 kinds: every one answered (no hang), no 5xx, the Error shape, nothing written", async () => {
    const all = cases()
    expect(all.length).toBeGreaterThanOrEqual(150)
    expect(new Set(all.map((c) => c.name)).size).toBe(all.length)
    const before = { open: dumpDatabase(open.db), guarded: dumpDatabase(guarded.db) }

    // slowloris and stalled bodies hold connections all along the batch
    const stalled = await Promise.all([
      ...Array.from({ length: 10 }, () => stall(open.port, `GET /v1/status HTTP/1.1\r\nHost: 127.0.0.1:${open.port}\r\nX-Slow: `)),
      ...Array.from({ length: 5 }, () =>
        stall(
          open.port,
          `POST /v1/tasks HTTP/1.1\r\nHost: 127.0.0.1:${open.port}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"prompt":"sto`
        )
      ),
      ...Array.from({ length: 5 }, () =>
        stall(open.port, `POST /v1/claims HTTP/1.1\r\nHost: 127.0.0.1:${open.port}\r\nContent-Type: application/json\r\nContent-Length: 50\r\n\r\n{`)
      )
    ])

    const problems: Array<string> = []
    const seen: Array<[string, number]> = []
    await pool(all, 6, async (c) => {
      const port = c.server === "guarded" ? guarded.port : open.port
      let r: RawReply
      try {
        r = await rawRequest(port, c.data, { timeoutMs: 10_000, ...(c.pauseMs !== undefined && { pauseMs: c.pauseMs }) })
      } catch (error) {
        problems.push(`${c.name}: ${error instanceof Hang ? "no answer (hang)" : String(error)}`)
        return
      }
      seen.push([c.name, r.status])
      if (r.status === 0) problems.push(`${c.name}: closed without an answer`)
      if (r.status >= 500) problems.push(`${c.name}: ${r.status} ${r.text.slice(0, 200)}`)
      if (c.status !== undefined && r.status !== c.status) problems.push(`${c.name}: expected ${c.status}, got ${r.status} ${r.text.slice(0, 200)}`)
      if (c.status === undefined && (r.status < 400 || r.status >= 500)) problems.push(`${c.name}: expected a 4xx, got ${r.status}`)
      if (r.status >= 400 && c.name.startsWith("MCP ") && r.json?.jsonrpc === "2.0") {
        // /mcp speaks JSON-RPC: its errors are JSON-RPC errors
        if (typeof r.json.error?.code !== "number" || typeof r.json.error?.message !== "string")
          problems.push(`${c.name}: not a JSON-RPC error: ${r.text.slice(0, 200)}`)
      } else if (r.status >= 400) {
        const error = r.json?.error
        if (typeof error?._tag !== "string" || typeof error?.message !== "string")
          problems.push(`${c.name}: not the Error shape: ${r.status} ${r.text.slice(0, 200)}`)
        else if (c.tag !== undefined && error._tag !== c.tag) problems.push(`${c.name}: expected ${c.tag}, got ${error._tag}`)
      }
      if (r.status === 200 && c.name.startsWith("MCP ")) {
        // a tool error, in JSON-RPC: never a result that did something
        const body = r.json ?? JSON.parse(r.text)
        if (body.error === undefined && body.result?.isError !== true) problems.push(`${c.name}: the tool call succeeded: ${r.text.slice(0, 200)}`)
      }
      if (Object.keys(r.headers).some((h) => h === "set-cookie")) problems.push(`${c.name}: a Set-Cookie header came back`)
    })

    // the server kept answering while the stalled clients held their connections
    expect((await client(open.url).get("/healthz")).status).toBe(200)
    for (const s of stalled) s.destroy()

    expect(problems, JSON.stringify(seen)).toEqual([])
    expect(seen.length).toBe(all.length)
    // nothing any of them sent was written (stalled bodies included)
    expect(dumpDatabase(open.db)).toBe(before.open)
    expect(dumpDatabase(guarded.db)).toBe(before.guarded)
    // and the server still works normally
    const api = client(open.url)
    expect((await api.get(`/v1/tasks/${running.id}`)).body.status).toBe("running")
    expect((await api.post("/v1/tasks", { prompt: "after the storm" })).status).toBe(201)
  })
})
