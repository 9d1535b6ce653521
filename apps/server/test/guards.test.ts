import BetterSqlite3 from "better-sqlite3"
import { closeSync, openSync, writeSync } from "node:fs"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { dumpDatabase, httpText, rawRequest } from "./support/raw.js"
import { type Client, client, type RunningServer, runQueueScript, runServer, startServer, tempDir } from "./support/server.js"

// The fault campaign's defects at the HTTP surface (issue 10): CSRF and DNS rebinding on a server
// without a token, GET /mcp that never answered, a malformed Host that gave 500, deep JSON that
// overflowed the stack, durations that broke claims, and a damaged file served without a word.

let server: RunningServer
let api: Client
let tokenServer: RunningServer

beforeAll(async () => {
  ;[server, tokenServer] = await Promise.all([startServer(), startServer({ env: { ABATHUR_TOKEN: "guard-token" } })])
  api = client(server.url)
})
afterAll(async () => {
  await Promise.all([server?.dispose(), tokenServer?.dispose()])
})

const raw = (method: string, path: string, parts: Parameters<typeof httpText>[3] = {}, port = server.port) =>
  rawRequest(port, httpText(port, method, path, parts), { timeoutMs: 5_000 })

const expectError = (r: { status: number; json: any; text: string }, status: number, tag: string) => {
  expect(r.status, r.text).toBe(status)
  expect(r.json?.error?._tag, r.text).toBe(tag)
  expect(typeof r.json.error.message).toBe("string")
}

const readyCount = async () => (await api.get("/v1/status")).body.byStatus.ready as number

describe("CSRF: a body must be JSON (415 otherwise), and nothing is written", () => {
  it("refuses text/plain, form and multipart bodies and a body without a type", async () => {
    const before = dumpDatabase(server.db)
    const body = JSON.stringify({ prompt: "rm -rf / (posted by a web page)" })
    for (const type of [
      "text/plain",
      "text/plain;charset=UTF-8",
      "application/x-www-form-urlencoded",
      "multipart/form-data; boundary=x",
      "text/json"
    ]) {
      expectError(await raw("POST", "/v1/tasks", { headers: { "content-type": type }, body }), 415, "ValidationError")
    }
    expectError(await raw("POST", "/v1/tasks", { body }), 415, "ValidationError")
    // a claim from a form would take a task away from the workers
    await api.post("/v1/tasks", { prompt: "keep me ready" })
    const ready = await readyCount()
    const afterSubmit = dumpDatabase(server.db)
    expectError(await raw("POST", "/v1/claims", { headers: { "content-type": "text/plain" }, body: "{}" }), 415, "ValidationError")
    expect(await readyCount()).toBe(ready)
    expect(dumpDatabase(server.db)).toBe(afterSubmit)
    expect(before).not.toBe(afterSubmit) // (the dump does see writes)
  })

  it("accepts application/json with parameters, and bodiless POSTs without a type", async () => {
    const r = await raw("POST", "/v1/tasks", {
      headers: { "content-type": "Application/JSON; charset=utf-8" },
      body: '{"prompt":"json with a charset"}'
    })
    expect(r.status, r.text).toBe(201)
    const claimed = await raw("POST", "/v1/claims", {})
    expect([200, 204]).toContain(claimed.status)
  })
})

describe("DNS rebinding: a Host or Origin that is not this server gets 403 Forbidden", () => {
  it("refuses foreign Host names for reads and writes", async () => {
    const before = dumpDatabase(server.db)
    for (const host of [
      "rebind.evil.example",
      `rebind.evil.example:${server.port}`,
      `10.0.0.1:${server.port}`,
      `127.0.0.1:${server.port + 1}`,
      `[::]:${server.port}`,
      `localhost.evil.example:${server.port}`
    ]) {
      expectError(await raw("GET", "/v1/tasks", { host }), 403, "Forbidden")
      expectError(await raw("POST", "/v1/tasks", { host, headers: { "content-type": "application/json" }, body: '{"prompt":"x"}' }), 403, "Forbidden")
    }
    expect(dumpDatabase(server.db)).toBe(before)
  })

  it("answers every loopback spelling of itself, with its port or none", async () => {
    for (const host of [
      `127.0.0.1:${server.port}`,
      `localhost:${server.port}`,
      `LOCALHOST:${server.port}`,
      `127.0.0.2:${server.port}`,
      `[::1]:${server.port}`,
      "localhost",
      "127.0.0.1",
      "[::1]",
      `app.localhost:${server.port}`
    ]) {
      expect((await raw("GET", "/healthz", { host })).status, host).toBe(200)
    }
  })

  it("refuses a foreign Origin and accepts its own", async () => {
    const before = dumpDatabase(server.db)
    const post = (origin: string) =>
      raw("POST", "/v1/tasks", { headers: { origin, "content-type": "application/json" }, body: '{"prompt":"from a page"}' })
    for (const origin of [
      "http://evil.example",
      "null",
      `https://127.0.0.1:${server.port}`,
      `http://127.0.0.1:${server.port + 1}`,
      `http://127.0.0.1:${server.port}@evil.example`
    ]) {
      expectError(await post(origin), 403, "Forbidden")
    }
    expectError(await raw("GET", "/v1/tasks", { headers: { origin: "http://evil.example" } }), 403, "Forbidden")
    expect(dumpDatabase(server.db)).toBe(before)
    expect((await post(`http://127.0.0.1:${server.port}`)).status).toBe(201)
    expect((await post(`http://localhost:${server.port}`)).status).toBe(201)
  })

  it("with a token, foreign Host and Origin are left to the token; bodies must still be JSON", async () => {
    const auth = { authorization: "Bearer guard-token" }
    const r = await raw("GET", "/v1/status", { host: "queue.example.com", headers: { ...auth, origin: "https://ops.example.com" } }, tokenServer.port)
    expect(r.status, r.text).toBe(200)
    expectError(await raw("GET", "/v1/status", { host: "queue.example.com" }, tokenServer.port), 401, "Unauthorized")
    expectError(
      await raw("POST", "/v1/tasks", { headers: { ...auth, "content-type": "text/plain" }, body: '{"prompt":"x"}' }, tokenServer.port),
      415,
      "ValidationError"
    )
  })
})

describe("GET /mcp and malformed Host headers", () => {
  it("GET /mcp answers 405 at once, whatever it accepts", async () => {
    for (const accept of ["text/event-stream", "application/json", "*/*"]) {
      const r = await raw("GET", "/mcp", { headers: { accept } })
      expectError(r, 405, "MethodNotAllowed")
      expect(r.headers["allow"]).toBe("POST")
    }
    expectError(await raw("DELETE", "/mcp", {}), 405, "MethodNotAllowed")
    // many at once are all answered: none is held open
    const many = await Promise.all(Array.from({ length: 20 }, () => raw("GET", "/mcp", { headers: { accept: "text/event-stream" } })))
    expect(many.map((r) => r.status)).toEqual(Array(20).fill(405))
  })

  it("a malformed Host is a 400 ValidationError on every route, POST /mcp included", async () => {
    const mcpBody = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" })
    for (const host of ["a:99999", "[::1", "", "127.0.0.1:-1", "a b", "[::1]x", "127.0.0.1:80:80"]) {
      expectError(await raw("GET", "/v1/status", { host }), 400, "ValidationError")
      expectError(await raw("GET", "/healthz", { host }), 400, "ValidationError")
      expectError(
        await raw("POST", "/mcp", {
          host,
          headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
          body: mcpBody
        }),
        400,
        "ValidationError"
      )
      expectError(await raw("GET", "/v1/status", { host }, tokenServer.port), 400, "ValidationError")
    }
    expectError(await raw("GET", "/v1/status", { host: null }), 400, "ValidationError")
  })
})

describe("deep JSON and durations are 400s, never 500s", () => {
  const nested = (depth: number) => `${"[".repeat(depth)}${"]".repeat(depth)}`

  it("inputData nested 1,600 levels and a result nested 200,000 levels", async () => {
    const deepInput = await api.post("/v1/tasks", `{"prompt":"deep","inputData":{"a":${nested(1_600)}}}`)
    expectError({ ...deepInput, json: deepInput.body }, 400, "ValidationError")
    const objects = await api.post("/v1/tasks", `{"prompt":"deep","inputData":${'{"a":'.repeat(1_600)}1${"}".repeat(1_600)}}`)
    expectError({ ...objects, json: objects.body }, 400, "ValidationError")

    await api.post("/v1/tasks", { prompt: "to complete deeply" })
    let claimed = await api.post("/v1/claims", {})
    while (claimed.body.prompt !== "to complete deeply") claimed = await api.post("/v1/claims", {})
    const deepResult = await api.post(
      `/v1/tasks/${claimed.body.id}/complete`,
      `{"leaseToken":"${claimed.body.leaseToken}","result":${nested(200_000)}}`
    )
    expectError({ ...deepResult, json: deepResult.body }, 400, "ValidationError")
    expect((await api.get(`/v1/tasks/${claimed.body.id}`)).body.status).toBe("running")
    // an unclosed one too (not even JSON)
    const open = await api.post("/v1/tasks", `{"prompt":"x","inputData":${"[".repeat(500_000)}`)
    expectError({ ...open, json: open.body }, 400, "ValidationError")
    // brackets inside strings do not count
    const inString = await api.post("/v1/tasks", { prompt: "[".repeat(5_000), inputData: { text: "{".repeat(5_000) } })
    expect(inString.status, inString.text).toBe(201)
    // and the server still completes the task normally
    const done = await api.post(`/v1/tasks/${claimed.body.id}/complete`, { leaseToken: claimed.body.leaseToken, result: { ok: true } })
    expect(done.status, done.text).toBe(200)
  })

  it("leaseSeconds over 7 days is refused by claims and heartbeats; 7 days is fine", async () => {
    const t = await api.post("/v1/tasks", { prompt: "lease bounds", priority: 10 })
    for (const leaseSeconds of [9007199254740991, 1e13, 604_801]) {
      const r = await api.post("/v1/claims", { leaseSeconds })
      expectError({ ...r, json: r.body }, 400, "ValidationError")
    }
    expect((await api.get(`/v1/tasks/${t.body.id}`)).body.status).toBe("ready")
    const claimed = await api.post("/v1/claims", { leaseSeconds: 604_800 })
    expect(claimed.status, claimed.text).toBe(200)
    expect(claimed.body.id).toBe(t.body.id)
    const beat = await api.post(`/v1/tasks/${t.body.id}/heartbeat`, { leaseToken: claimed.body.leaseToken, leaseSeconds: 1e13 })
    expectError({ ...beat, json: beat.body }, 400, "ValidationError")
    const ok = await api.post(`/v1/tasks/${t.body.id}/heartbeat`, { leaseToken: claimed.body.leaseToken, leaseSeconds: 604_800 })
    expect(ok.status, ok.text).toBe(200)
    // the queue still claims (no row breaks it)
    await api.post("/v1/tasks", { prompt: "after the bounds", priority: 10 })
    expect((await api.post("/v1/claims", {})).status).toBe(200)
  })
})

describe("the database file is checked when the server starts", () => {
  /** A real database written by another process, with enough tasks to fill pages of the tasks table. */
  const realDatabase = async (dir: string): Promise<string> => {
    const db = join(dir, "abathur.db")
    const script = await runQueueScript([db, "submit", "a task with a prompt of a few words to fill the pages", "400"])
    expect(script.code, script.stderr).toBe(0)
    return db
  }

  /** Overwrites 1 KiB in the middle of the fullest leaf page of the tasks table (longer than a row). */
  const damage = (filename: string) => {
    const db = new BetterSqlite3(filename, { fileMustExist: true })
    const pageSize = db.pragma("page_size", { simple: true }) as number
    const { pageno } = db.prepare("SELECT pageno FROM dbstat WHERE name = 'tasks' AND pagetype = 'leaf' ORDER BY unused LIMIT 1").get() as {
      pageno: number
    }
    db.close()
    const fd = openSync(filename, "r+")
    writeSync(fd, Buffer.alloc(1024, 0xff), 0, 1024, (pageno - 1) * pageSize + pageSize / 4)
    closeSync(fd)
  }

  it("logs quick_check with its time, refuses a damaged file (exit 1, what is broken), serves it with --allow-damaged", async () => {
    const dir = tempDir()
    const db = await realDatabase(dir)
    const sound = await startServer({ db })
    expect(sound.stderr()).toMatch(/database checked: quick_check ok.* ms=\d/)
    await sound.stop()

    damage(db)
    const refused = await runServer(["--port", "0", "--db", db])
    expect(refused.code, refused.stderr).toBe(1)
    expect(refused.stderr).toContain("DatabaseDamaged")
    expect(refused.stderr).toMatch(/quick_check found .*tasks/)
    expect(refused.stderr).toContain("--allow-damaged")
    expect(refused.stderr).not.toContain("listening on")

    const allowed = await startServer({ db, args: ["--allow-damaged"] })
    try {
      expect(allowed.stderr()).toMatch(/level=WARN.*is damaged/)
      expect((await client(allowed.url).get("/healthz")).status).toBe(200)
    } finally {
      await allowed.stop()
    }
    const byEnv = await startServer({ db, env: { ABATHUR_ALLOW_DAMAGED: "1" } })
    await byEnv.stop()
  })
})
