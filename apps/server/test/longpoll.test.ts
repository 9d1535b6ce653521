import { describe, expect, it } from "vitest"
import { type Client, runQueueScript, sharedServer, sleep } from "./support/server.js"

const { server, api } = sharedServer()
// a second server on the same database file: another process committing
const { api: otherApi } = sharedServer(() => ({ db: server().db }))

/** Claims everything that is ready, so that a test starts from an empty queue. */
const drain = async () => {
  while ((await api.post("/v1/claims", {})).status === 200) {}
}

const waitingClaims = async (c: Client = api) => {
  const m = /^abathur_claims_waiting (\d+)$/m.exec((await c.get("/metrics")).text)
  return Number(m?.[1] ?? -1)
}

/** Resolves once `n` claims are waiting on the server. */
const untilWaiting = async (n: number, c: Client = api) => {
  for (let i = 0; i < 500 && (await waitingClaims(c)) < n; i++) await sleep(20)
  expect(await waitingClaims(c)).toBeGreaterThanOrEqual(n)
}

/**
 * How soon a woken claim must answer. A claim that is not woken answers only when its wait ends
 * (30 s below), so this bound tells the two apart with room for a loaded 2-core machine: the
 * latencies are logged, not asserted tightly.
 */
const WOKEN_WITHIN_MS = 5_000

const timedClaim = (body: Record<string, unknown>, c: Client = api) => {
  const p = c.post("/v1/claims", body)
  return p.then((r) => ({ ...r, at: performance.now() }))
}

/**
 * A claim waiting on an empty queue, then `trigger`, which makes a task READY and answers its id:
 * the claim answers with that task, within WOKEN_WITHIN_MS of the trigger's return (logged by `log`).
 */
const wokenBy = async (trigger: () => Promise<string>, log: (ms: string) => string, body: Record<string, unknown> = { waitSeconds: 30 }) => {
  await drain()
  const claim = timedClaim(body)
  await untilWaiting(1)
  const id = await trigger()
  const triggeredAt = performance.now()
  const r = await claim
  expect(r.status, r.text).toBe(200)
  expect(r.body.id).toBe(id)
  const latency = r.at - triggeredAt
  console.log(log(latency.toFixed(1)))
  expect(latency).toBeLessThan(WOKEN_WITHIN_MS)
}

describe("long-poll claims", () => {
  it("a waiting claim wakes at once when a task is submitted through this server", async () => {
    await wokenBy(
      async () => (await api.post("/v1/tasks", { prompt: "wake up" })).body.id,
      (ms) => `in-process wake-up: ${ms} ms after the submit answered`,
      { waitSeconds: 30, worker: "waiter" }
    )
  })

  it("wakes when a task becomes ready by completing its prerequisite", async () => {
    await drain()
    const a = await api.post("/v1/tasks", { prompt: "first" })
    const b = await api.post("/v1/tasks", { prompt: "second", dependsOn: [a.body.id] })
    const first = await api.post("/v1/claims", {})
    expect(first.body.id).toBe(a.body.id)
    const claim = timedClaim({ waitSeconds: 30 })
    await untilWaiting(1)
    await api.post(`/v1/tasks/${a.body.id}/complete`, { leaseToken: first.body.leaseToken })
    const done = performance.now()
    const r = await claim
    expect(r.body.id).toBe(b.body.id)
    expect(r.at - done).toBeLessThan(WOKEN_WITHIN_MS)
  })

  it("wakes when another server process submits to the same database", async () => {
    await wokenBy(
      async () => (await otherApi.post("/v1/tasks", { prompt: "from the other server" })).body.id,
      (ms) => `cross-process wake-up (second server): ${ms} ms`
    )
  })

  it("wakes when a plain script over @abathur/queue submits to the same database", async () => {
    await wokenBy(
      async () => {
        const script = await runQueueScript([server().db, "submit", "from a script"])
        expect(script.code, script.stderr).toBe(0)
        return JSON.parse(script.stdout).id
      },
      (ms) => `cross-process wake-up (script): ${ms} ms after the script exited`
    )
  })

  it("answers 204 when the wait ends; a claim for another agent type keeps waiting", async () => {
    await drain()
    const started = performance.now()
    const r = await api.post("/v1/claims", { waitSeconds: 1 })
    const waited = performance.now() - started
    expect(r.status).toBe(204)
    expect(waited).toBeGreaterThanOrEqual(950)
    expect(waited).toBeLessThan(1_000 + WOKEN_WITHIN_MS)

    const reviewer = timedClaim({ waitSeconds: 2, agentType: "reviewer" })
    await untilWaiting(1)
    const coder = await api.post("/v1/tasks", { prompt: "code", agentType: "coder" })
    const r2 = await reviewer
    expect(r2.status).toBe(204)
    const c = await api.post("/v1/claims", { agentType: "coder" })
    expect(c.body.id).toBe(coder.body.id)
  })

  it("a long poll whose client went away stops waiting and claims nothing", async () => {
    await drain()
    const controller = new AbortController()
    const aborted = fetch(new URL("/v1/claims", server().url), {
      method: "POST",
      body: JSON.stringify({ waitSeconds: 10 }),
      headers: { "content-type": "application/json" },
      signal: controller.signal
    }).catch(() => "aborted")
    await untilWaiting(1)
    controller.abort()
    expect(await aborted).toBe("aborted")
    for (let i = 0; i < 250 && (await waitingClaims()) > 0; i++) await sleep(20)
    expect(await waitingClaims()).toBe(0)
    const t = await api.post("/v1/tasks", { prompt: "nobody waits for me" })
    await sleep(500)
    expect((await api.get(`/v1/tasks/${t.body.id}`)).body.status).toBe("ready")
  })

  it("a waiting claim picks up a task whose lease expired (nothing else commits)", async () => {
    await drain()
    const t = await api.post("/v1/tasks", { prompt: "the first worker will vanish" })
    const first = await api.post("/v1/claims", { worker: "vanishing", leaseSeconds: 1 })
    expect(first.body.id).toBe(t.body.id)
    // Without a wake-up at the lease's expiry this would answer 204 after the whole wait.
    const r = await api.post("/v1/claims", { worker: "second", waitSeconds: 30 })
    expect(r.status, r.text).toBe(200)
    // A stall, not a failed attempt: no retry spent.
    expect(r.body).toMatchObject({ id: t.body.id, status: "running", retryCount: 0, stallCount: 1 })
    expect(r.body.leaseToken).not.toBe(first.body.leaseToken)
    await api.post(`/v1/tasks/${t.body.id}/complete`, { leaseToken: r.body.leaseToken })
  })

  it("several waiters share the tasks that arrive: each task once", async () => {
    await drain()
    const claims = [0, 1, 2, 3].map(() => timedClaim({ waitSeconds: 5 }))
    await untilWaiting(4)
    const plan = await api.post("/v1/plans", { tasks: [0, 1, 2].map((i) => ({ key: `k${i}`, prompt: `task ${i}` })) })
    expect(plan.status).toBe(201)
    const results = await Promise.all(claims)
    const got = results.filter((r) => r.status === 200).map((r) => r.body.id)
    expect(got.sort()).toEqual(
      Object.values(plan.body.tasks)
        .map((t: any) => t.id)
        .sort()
    )
    expect(results.filter((r) => r.status === 204)).toHaveLength(1)
  })
})

describe("sharing the database with other processes", () => {
  it("the server and a script write at the same time without errors or lost tasks", async () => {
    const before = (await api.get("/v1/status")).body.total as number
    const http = (async () => {
      for (let i = 0; i < 10; i++) {
        const rs = await Promise.all(Array.from({ length: 10 }, (_, j) => api.post("/v1/tasks", { prompt: `http ${i}.${j}` })))
        for (const r of rs) expect(r.status, r.text).toBe(201)
      }
    })()
    const scripts = Promise.all([0, 1].map((i) => runQueueScript([server().db, "submit", `script ${i}`, "100"])))
    const viaOther = Promise.all(Array.from({ length: 20 }, (_, i) => otherApi.post("/v1/tasks", { prompt: `other ${i}` })))
    const [, scriptRuns, others] = await Promise.all([http, scripts, viaOther])
    for (const s of scriptRuns) expect(s.code, s.stderr).toBe(0)
    for (const r of others) expect(r.status).toBe(201)
    const after = (await api.get("/v1/status")).body.total as number
    expect(after - before).toBe(100 + 200 + 20)
    const status = await runQueueScript([server().db, "status"])
    expect(JSON.parse(status.stdout).total).toBe(after)
  })
})
