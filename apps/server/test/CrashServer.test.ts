/**
 * The crash test of the server: 8 HTTP workers claim and complete tasks while the real server
 * (dist/main.js) is SIGKILLed at random and started again on the same file. Nothing is lost, no
 * task is completed twice, no stale lease is accepted, and the file is intact.
 */
import BetterSqlite3 from "better-sqlite3"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { type RunningServer, sleep, startServer, tempDir } from "./support/server.js"

const TASKS = 300
const WORKERS = 8
const KILLS = 3

const servers: Array<RunningServer> = []
const tmp = tempDir()
/** Stops the HTTP workers' loops (also when the test fails). */
let stop = false
afterAll(async () => {
  stop = true
  for (const s of servers) if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill("SIGKILL")
  await Promise.all(servers.map((s) => s.exited))
})

/** A deterministic pseudo-random sequence (so that a failure can be replayed). */
const random = (seed: number) => () => {
  seed = (seed * 1103515245 + 12345) % 2147483648
  return seed / 2147483648
}

/** 300 tasks in 6 layers of 50; each task past the first layer waits for 1 or 2 of the layer before. */
const makePlan = () => {
  const next = random(7)
  const nodes: Array<{ key: string; prompt: string; maxRetries: number; dependsOn: Array<string> }> = []
  for (let l = 0; l < 6; l++) {
    for (let i = 0; i < 50; i++) {
      const deps = new Set<string>()
      if (l > 0) for (let k = 0; k < 1 + Math.floor(next() * 2); k++) deps.add(`L${l - 1}-${Math.floor(next() * 50)}`)
      // Lapsed leases (the server is down for a while) must not fail a task here.
      nodes.push({ key: `L${l}-${i}`, prompt: `layer ${l} task ${i}`, maxRetries: 100, dependsOn: [...deps] })
    }
  }
  return nodes
}

interface Outcome {
  readonly worker: string
  readonly id: string
  readonly token: string
  readonly status: number
}

describe("abathur-server SIGKILLed under 8 HTTP workers and started again on the same file", () => {
  it("loses nothing, completes no task twice, accepts no stale lease; the file is intact", { timeout: 120_000 }, async () => {
    const db = join(tmp, "crash.db")
    // Lapsed leases count as stalls once the hierarchy rules land: allow many.
    const env = { ABATHUR_MAX_STALLS: "1000", ABATHUR_RETRY_BACKOFF: "0" }
    let server = await startServer({ db, env })
    servers.push(server)
    const submitted = await fetch(new URL("/v1/plans", server.url), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ tasks: makePlan() })
    })
    expect(submitted.status).toBe(201)
    const ids = Object.values(((await submitted.json()) as { tasks: Record<string, { id: string }> }).tasks).map((t) => t.id)
    expect(ids).toHaveLength(TASKS)

    let networkErrors = 0
    const outcomes: Array<Outcome> = []
    const claims: Array<{ worker: string; id: string; token: string }> = []
    /** POST to whichever server runs now; null when it could not be reached (it is down or was killed mid-request). */
    const post = async (path: string, body: unknown): Promise<{ status: number; json: any } | null> => {
      try {
        const res = await fetch(new URL(path, server.url), {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(10_000)
        })
        const text = await res.text()
        return { status: res.status, json: text === "" ? null : JSON.parse(text) }
      } catch {
        networkErrors++
        await sleep(50)
        return null
      }
    }
    const worker = async (name: string) => {
      while (!stop) {
        const c = await post("/v1/claims", { worker: name, leaseSeconds: 3, waitSeconds: 1 })
        if (c === null || c.status === 204) continue
        expect(c.status, JSON.stringify(c.json)).toBe(200)
        const task = c.json as { id: string; leaseToken: string }
        claims.push({ worker: name, id: task.id, token: task.leaseToken })
        // A report whose answer was lost (the server died) is sent again to the next server.
        for (;;) {
          const r = await post(`/v1/tasks/${task.id}/complete`, { leaseToken: task.leaseToken, result: { worker: name, token: task.leaseToken } })
          if (r === null) {
            if (stop) break
            continue
          }
          expect([200, 409], JSON.stringify(r.json)).toContain(r.status)
          outcomes.push({ worker: name, id: task.id, token: task.leaseToken, status: r.status })
          break
        }
      }
    }
    const running = Array.from({ length: WORKERS }, (_, i) => worker(`http-${i}`))

    const next = random(99)
    const kills: Array<number> = []
    for (let k = 0; k < KILLS; k++) {
      // Spread over the run: after about a quarter, a half and three quarters of the work.
      const target = Math.floor(((k + 1) * TASKS) / (KILLS + 1) + (next() - 0.5) * 30)
      const by = Date.now() + 30_000
      while (outcomes.length < target && Date.now() < by) await sleep(10)
      await sleep(Math.floor(next() * 100))
      server.child.kill("SIGKILL")
      await server.exited
      kills.push(outcomes.length)
      server = await startServer({ db, env })
      servers.push(server)
    }
    // Drain what is left (leases that lapsed while the server was down come back after 3 s).
    const until = Date.now() + 60_000
    for (;;) {
      const status = (await (await fetch(new URL("/v1/status", server.url))).json()) as { byStatus: Record<string, number> }
      if (status.byStatus["completed"] === TASKS) break
      expect(Date.now(), `not drained: ${JSON.stringify(status.byStatus)}`).toBeLessThan(until)
      await sleep(100)
    }
    stop = true
    await Promise.all(running)
    const stopped = await server.stop("SIGTERM")
    expect(stopped.code).toBe(0)

    const file = new BetterSqlite3(db, { readonly: true })
    try {
      expect(file.pragma("integrity_check", { simple: true })).toBe("ok")
      const tasks = file.prepare("SELECT id, status, result_data AS result FROM tasks").all() as Array<{ id: string; status: string; result: string }>
      expect(tasks.map((t) => t.id).sort()).toEqual([...ids].sort())
      expect(tasks.filter((t) => t.status !== "completed")).toEqual([])
      const completions = file
        .prepare("SELECT task_id AS id, count(*) AS n FROM task_audit WHERE to_status = 'completed' GROUP BY task_id")
        .all() as Array<{ id: string; n: number }>
      expect(completions.filter((c) => c.n !== 1)).toEqual([])
      expect(completions).toHaveLength(TASKS)
      // A 200 to a report is the recorded completion: one per task, and its result is that report's.
      const accepted = outcomes.filter((o) => o.status === 200)
      expect(new Set(accepted.map((o) => o.id)).size).toBe(accepted.length)
      const results = new Map(tasks.map((t) => [t.id, JSON.parse(t.result) as { worker: string; token: string }]))
      for (const o of accepted) expect(results.get(o.id)).toEqual({ worker: o.worker, token: o.token })
      // Every result is a lease some worker was given, for that task.
      const given = new Set(claims.map((c) => `${c.id} ${c.token}`))
      for (const [id, r] of results) expect(given.has(`${id} ${r.token}`), `result of ${id}`).toBe(true)
      // The kills landed while work went on.
      expect(networkErrors).toBeGreaterThan(0)
      console.log(
        `server crash test: ${TASKS} tasks, ${KILLS} SIGKILLs (after ${kills.join(", ")} reports), ${claims.length} claims, ` +
          `${outcomes.filter((o) => o.status === 409).length} reports refused, ${networkErrors} requests lost to the kills`
      )
    } finally {
      file.close()
    }
  })
})
