import Database from "better-sqlite3"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { client, type RunningServer, runQueueScript, runServer, startServer, tempDir } from "./support/server.js"

describe("with a token", () => {
  let server: RunningServer
  beforeAll(async () => {
    server = await startServer({ env: { ABATHUR_TOKEN: "s3cret-token" } })
  })
  afterAll(async () => {
    await server?.dispose()
  })

  it("every route but /healthz and the dashboard's page needs the bearer token (401 in the Error shape)", async () => {
    const anonymous = client(server.url)
    for (const [method, path] of [
      ["GET", "/v1/status"],
      ["POST", "/v1/tasks"],
      ["GET", "/v1/tasks"],
      ["POST", "/v1/claims"],
      ["GET", "/metrics"],
      ["GET", "/openapi.json"],
      ["GET", "/docs"],
      ["POST", "/mcp"],
      ["GET", "/v1/events"],
      ["GET", "/nope"],
      ["GET", "/v1/activity"],
      ["GET", "/v1/dashboard/graph"],
      ["GET", "/v1/tasks/3f2b8c1e-9d4a-4f6b-8e2a-1c5d7e9f0a2b/log"]
    ] as const) {
      const r = await anonymous.request(method, path)
      expect(r.status, `${method} ${path}`).toBe(401)
      expect(r.body.error._tag).toBe("Unauthorized")
      expect(r.headers.get("www-authenticate")).toMatch(/^Bearer/)
    }
    expect((await anonymous.get("/healthz")).status).toBe(200)
    // The dashboard's page holds no data (it asks for the token, then calls the API with it).
    const page = await anonymous.get("/")
    expect(page.status).toBe(200)
    expect(page.text).toContain("token-form")
  })

  it("a wrong token is refused; the right one (header or access_token) passes", async () => {
    expect((await client(server.url, { authorization: "Bearer nope" }).get("/v1/status")).status).toBe(401)
    expect((await client(server.url, { authorization: "Basic czNjcmV0LXRva2Vu" }).get("/v1/status")).status).toBe(401)
    const authed = client(server.url, { authorization: "Bearer s3cret-token" })
    expect((await authed.get("/v1/status")).status).toBe(200)
    const created = await authed.post("/v1/tasks", { prompt: "with a token" })
    expect(created.status).toBe(201)
    expect((await client(server.url).get("/v1/status?access_token=s3cret-token")).status).toBe(200)
    expect((await client(server.url).get("/?access_token=s3cret-token")).status).toBe(200)
    expect((await authed.get("/nope")).status).toBe(404)
  })

  it("another server on the same port exits 1 with a clear message", async () => {
    const dir = tempDir()
    const r = await runServer(["--port", String(server.port), "--db", join(dir, "y.db")])
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/in use/)
  })
})

describe("configuration", () => {
  it("refuses a non-loopback host without a token (exit 2, clear message)", async () => {
    const dir = tempDir()
    const r = await runServer(["--host", "0.0.0.0", "--port", "0", "--db", join(dir, "x.db")])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/ABATHUR_TOKEN/)
    expect(r.stderr).toContain('"_tag":"ValidationError"')
    expect(r.stdout).toBe("")
    const env = await runServer(["--port", "0", "--db", join(dir, "x.db")], { ABATHUR_HOST: "0.0.0.0" })
    expect(env.code).toBe(2)
  })

  it("binds a non-loopback host with a token", async () => {
    const server = await startServer({ args: ["--host", "0.0.0.0"], env: { ABATHUR_TOKEN: "t" } })
    try {
      expect(server.url).toMatch(/^http:\/\/0\.0\.0\.0:\d+$/)
      const r = await client(`http://127.0.0.1:${server.port}`, { authorization: "Bearer t" }).get("/v1/status")
      expect(r.status).toBe(200)
    } finally {
      await server.dispose()
    }
  })

  it("bad flags and values exit 2; --help and --version exit 0 on stdout", async () => {
    for (const args of [["--port", "x"], ["--nope"]]) {
      const r = await runServer(args)
      expect(r.code, args.join(" ")).toBe(2)
      expect(r.stderr).toContain("ValidationError")
    }
    // a bad limit is read when the queue starts: still exit 2
    expect((await runServer(["--port", "0", "--db", join(tempDir(), "z.db")], { ABATHUR_MAX_DEPTH: "-1" })).code).toBe(2)
    const help = await runServer(["--help"])
    expect(help.code).toBe(0)
    expect(help.stdout).toContain("--port")
    expect(help.stdout).toContain("ABATHUR_TOKEN")
    const version = await runServer(["--version"])
    expect(version.stdout).toMatch(/^abathur-server \d+\.\d+\.\d+/)
  })

  it("an empty ABATHUR_TOKEN means no token; level and format come from the environment; logs go to stderr only", async () => {
    const server = await startServer({ env: { ABATHUR_TOKEN: "", ABATHUR_LOG_LEVEL: "debug", ABATHUR_LOG_FORMAT: "json" } })
    try {
      const r = await client(server.url).get("/v1/status?access_token=not-logged")
      expect(r.status).toBe(200)
      await new Promise((resolve) => setTimeout(resolve, 50))
      const lines = server.stderr().trim().split("\n")
      for (const line of lines) expect(() => JSON.parse(line), line).not.toThrow()
      expect(lines.some((l) => l.includes('"url":"/v1/status?access_token=***"'))).toBe(true)
      expect(server.stderr()).not.toContain("not-logged")
      const stopped = await server.stop()
      expect(stopped.code).toBe(0)
      expect(server.stdout()).toBe("")
    } finally {
      await server.dispose()
    }
  })

  it("at level error the address is still printed; request logs are not", async () => {
    const server = await startServer({ args: ["--log-level", "error"] })
    try {
      await client(server.url).get("/v1/status")
      expect(server.stderr()).toMatch(/listening on http:\/\/127\.0\.0\.1:\d+/)
      expect(server.stderr()).not.toContain("/v1/status")
    } finally {
      await server.dispose()
    }
  })

  it("ABATHUR_DB is used without --db; a database from the future exits 5 with MigrationError", async () => {
    const dir = tempDir()
    const db = join(dir, "future.db")
    // create it (another process migrates it), then make it newer than this version
    expect((await runQueueScript([db, "status"])).code).toBe(0)
    const handle = new Database(db)
    handle.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', '2030-01-01T00:00:00Z')").run()
    handle.close()
    const r = await runServer(["--port", "0"], { ABATHUR_DB: db })
    expect(r.code).toBe(5)
    expect(r.stderr).toContain("MigrationError")
  })
})
