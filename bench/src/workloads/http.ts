/**
 * H1 (claim + complete over HTTP) and H2 (submit over HTTP): the real abathur-server (the built
 * dist/, a child process on a free loopback port, a fresh database file), driven by a keep-alive
 * node:http client with 8 concurrent loops. The floor is a bare node:http server answering a
 * small JSON body, driven by the same client the same way, in the same child; beside it, the
 * same work in-process through TaskQueue (W1's and W3's loops), also in the same child. H1 adds
 * the same cycles on PostgreSQL through 1 and 2 servers sharing one database (see postgres.ts).
 */
import { join } from "node:path"
import { runCount } from "../http.js"
import { postgresCycles } from "./httpPostgres.js"
import { openQueue } from "../runtime.js"
import { readyPlans, SOURCES } from "../seed.js"
import type { CpuProfileSummary, WorkloadResult } from "../types.js"
import { fmtInt, fmtRate, prng, randInt, settle, stats, tempDir } from "../util.js"
import { type Ctx, infoRow, latencyRow } from "./common.js"
import {
  CONCURRENCY,
  type CpuSpan,
  cpuRow,
  cpuSpan,
  expect,
  fmtShareOf,
  inProcessCpuRow,
  monotonicUs,
  rate,
  runFloor,
  startServer
} from "./httpRig.js"

export { CONCURRENCY } from "./httpRig.js"

// ---- H1 ---------------------------------------------------------------------------------------

export const h1 = async (ctx: Ctx): Promise<WorkloadResult> => {
  const started = performance.now()
  const n = ctx.size(20_000)
  const warm = Math.min(1_000, Math.round(n / 10))
  const ref = ctx.withFloor ? Math.min(5_000, Math.round(n / 4)) : 0
  const refWarm = Math.min(200, Math.round(ref / 10))
  // the second run: complete with `next` (one request per cycle); each loop holds one claimed task
  const nNext = n
  const warmNext = warm
  const seeded = n + warm + ref + refWarm + CONCURRENCY + warmNext + nNext
  const { dir, cleanup } = tempDir("abathur-bench-http-")
  try {
    const db = join(dir, "abathur.db")
    // Seed through the queue library, then hand the file to the server.
    const h = await openQueue(db)
    const t0 = performance.now()
    for (const plan of readyPlans(seeded, { seed: 51 })) h.run(h.q.submitPlan(plan))
    const seedRate = seeded / ((performance.now() - t0) / 1000)
    const notes = [`set-up: ${fmtInt(seeded)} READY tasks submitted through TaskQueue.submitPlan at ${fmtRate(seedRate)} before the server starts`]

    // In-process reference: W3's loop (claim, complete with the token) on the same file, same moment.
    let inProcess = Number.NaN
    let inProcessCpuUs = Number.NaN
    if (ref > 0) {
      for (let i = 0; i < refWarm; i++) {
        const c = h.run(h.q.claim({ worker: "ref" }))!
        h.run(h.q.complete(c.id, { leaseToken: c.leaseToken }))
      }
      settle()
      const c0 = process.cpuUsage()
      const r0 = performance.now()
      for (let i = 0; i < ref; i++) {
        const c = h.run(h.q.claim({ worker: "ref" }))
        if (c === null) throw new Error("in-process: the queue ran dry")
        h.run(h.q.complete(c.id, { leaseToken: c.leaseToken }))
      }
      inProcess = ref / ((performance.now() - r0) / 1000)
      const used = process.cpuUsage(c0)
      inProcessCpuUs = (used.user + used.system) / ref
    }
    await h.dispose()

    // Floor: the bare server, the same client and concurrency, 2 requests per cycle.
    const floor = ctx.withFloor ? await runFloor(2 * n, ["/v1/claims", "/v1/tasks/x/complete"], { worker: "w0" }) : undefined

    // Abathur: claim then complete the claimed task, in each of CONCURRENCY loops.
    const run = await startServer(ctx, dir, db)
    const claimLat: Array<number> = []
    const completeLat: Array<number> = []
    const cycle = async (w: number, record: boolean): Promise<void> => {
      let s = performance.now()
      const claimed = await run.client.post("/v1/claims", { worker: `w${w}` })
      if (record) claimLat.push(performance.now() - s)
      if (claimed.status === 204) throw new Error("abathur-server: the queue ran dry")
      const task = JSON.parse(expect(claimed, 200, "claim").text) as { id: string; leaseToken: string }
      s = performance.now()
      expect(await run.client.post(`/v1/tasks/${task.id}/complete`, { leaseToken: task.leaseToken }), 200, "complete")
      if (record) completeLat.push(performance.now() - s)
    }
    // One request per cycle: complete the held task and claim the next in the same transaction.
    const held: Array<{ id: string; leaseToken: string } | null> = []
    const nextLat: Array<number> = []
    const cycleNext = async (w: number, record: boolean): Promise<void> => {
      const task = held[w]
      if (!task) throw new Error("abathur-server: a loop holds no task")
      const s = performance.now()
      const done = await run.client.post(`/v1/tasks/${task.id}/complete`, { leaseToken: task.leaseToken, next: { worker: `w${w}` } })
      if (record) nextLat.push(performance.now() - s)
      const next = (JSON.parse(expect(done, 200, "complete with next").text) as { next: { id: string; leaseToken: string } | null }).next
      if (next === null) throw new Error("abathur-server: the queue ran dry")
      held[w] = next
    }
    let ms: number
    let cpu: CpuSpan
    let msNext: number
    let cpuNext: CpuSpan
    let profile: CpuProfileSummary | undefined
    let left = -1
    try {
      await runCount(CONCURRENCY, warm, (w) => cycle(w, false))
      settle()
      const span = cpuSpan(run.server)
      const from = monotonicUs()
      const c0 = performance.now()
      await runCount(CONCURRENCY, n, (w) => cycle(w, true))
      ms = performance.now() - c0
      const to = monotonicUs()
      cpu = span()

      for (let w = 0; w < CONCURRENCY; w++) {
        held[w] = JSON.parse(expect(await run.client.post("/v1/claims", { worker: `w${w}` }), 200, "claim").text) as {
          id: string
          leaseToken: string
        }
      }
      await runCount(CONCURRENCY, warmNext, (w) => cycleNext(w, false))
      settle()
      const spanNext = cpuSpan(run.server)
      const n0 = performance.now()
      await runCount(CONCURRENCY, nNext, (w) => cycleNext(w, true))
      msNext = performance.now() - n0
      cpuNext = spanNext()
      for (const task of held) {
        if (task) expect(await run.client.post(`/v1/tasks/${task.id}/complete`, { leaseToken: task.leaseToken }), 200, "complete")
      }
      const status = JSON.parse(expect(await run.client.request("GET", "/v1/status"), 200, "status").text) as {
        byStatus: { ready: number; running: number }
      }
      left = status.byStatus.ready + status.byStatus.running
      profile = await run.stop({ fromUs: from, toUs: to })
    } catch (error) {
      await run.stop().catch(() => undefined)
      throw error
    }
    if (left !== 0) notes.push(`warning: ${left} tasks still READY or RUNNING after the run`)

    const cycles = n / (ms / 1000)
    const cyclesNext = nNext / (msNext / 1000)
    const serverNextUs = (cpuNext.serverMs * 1000) / nNext
    // The same cycles on PostgreSQL (1 and 2 servers), not while analysing Abathur's own profile.
    const onPostgres = ctx.withFloor ? await postgresCycles(ctx, cycles) : { rows: [], notes: [] }
    const fReq = floor === undefined ? Number.NaN : floor.requests / (floor.ms / 1000)
    const fLat = stats(floor?.lat ?? [])
    const ac = stats(claimLat)
    const ao = stats(completeLat)
    const serverUs = (cpu.serverMs * 1000) / n
    const clientUs = (cpu.clientMs * 1000) / n
    const fServerUs = floor === undefined ? Number.NaN : (floor.cpu.serverMs * 1000 * 2) / floor.requests
    const fClientUs = floor === undefined ? Number.NaN : (floor.cpu.clientMs * 1000 * 2) / floor.requests
    notes.push(
      `CPU per cycle: server ${serverUs.toFixed(0)} µs, client ${clientUs.toFixed(0)} µs; the server process used ` +
        `${((cpu.serverMs / ms) * 100).toFixed(0)}% of one core during the run (its main thread plus V8's and libuv's helper threads). ` +
        `The requests run on its one main thread: at this cost one core caps it at about ${fmtInt(1e6 / serverUs)} cycles/s`
    )
    if (Number.isFinite(inProcessCpuUs)) {
      notes.push(
        `HTTP's own cost: the server spends ${(serverUs - inProcessCpuUs).toFixed(0)} µs of CPU per cycle more than the same two ` +
          `operations in-process (${((serverUs - inProcessCpuUs) / 2).toFixed(0)} µs per request; the bare server spends ` +
          `${Number.isFinite(fServerUs) ? (fServerUs / 2).toFixed(0) : "?"} µs per request)`
      )
    }
    if (floor !== undefined && fReq / 2 < 5_000) {
      notes.push(
        `with this client on this machine even the bare node:http server manages only ${fmtRate(fReq / 2, "cycles/s")} ` +
          `(${fmtRate(fReq, "requests/s")}): 5,000 cycles/s is out of reach here whatever the server does`
      )
    }
    if (floor !== undefined) {
      notes.push(
        `bare node:http: ${fmtInt(floor.requests)} POSTs at ${fmtRate(fReq, "requests/s")}, server ${((floor.cpu.serverMs * 1000) / floor.requests).toFixed(0)} µs ` +
          `and client ${((floor.cpu.clientMs * 1000) / floor.requests).toFixed(0)} µs CPU per request`
      )
    }
    return {
      id: "H1",
      title: "Claim and complete over HTTP, 8 concurrent workers",
      setup:
        `${fmtInt(n)} cycles (POST /v1/claims, then POST /v1/tasks/{id}/complete with the lease token) by ${CONCURRENCY} concurrent ` +
        `keep-alive loops against abathur-server (dist/main.js as a child process, loopback, a fresh file database seeded with ` +
        `${fmtInt(seeded)} READY tasks, of which ${fmtInt(ref + refWarm)} go to the in-process loop first), after ${fmtInt(warm)} warm-up cycles; floor: a bare node:http server answering a small JSON body, ` +
        `driven by the same client with ${CONCURRENCY} connections (one cycle = 2 requests); in-process: W3's loop through TaskQueue on the same file. ` +
        `Then, on the same server, ${fmtInt(nNext)} cycles of one request each (after ${fmtInt(warmNext)} warm-up cycles): each loop completes the task it holds ` +
        `with \`next\`, which claims its next task in the same transaction; its floor is the bare server's requests/s (one request per cycle)`,
      rows: [
        rate("throughput (claim + complete cycles)", cycles, fReq / 2, "cycles/s", { min: 5_000 }),
        rate("requests", (2 * n) / (ms / 1000), fReq, "requests/s"),
        rate("throughput with `next` (complete + claim next, 1 request per cycle; floor: 1 request)", cyclesNext, fReq, "cycles/s"),
        infoRow(
          "in-process claim + complete (TaskQueue, same file, same moment)",
          fmtRate(inProcess, "cycles/s"),
          "—",
          fmtShareOf(cycles, inProcess, "in-process reached over HTTP")
        ),
        latencyRow("claim p50", ac.p50, fLat.p50),
        latencyRow("claim p99", ac.p99, fLat.p99),
        latencyRow("complete p50", ao.p50, fLat.p50),
        latencyRow("complete p99", ao.p99, fLat.p99),
        cpuRow("server CPU per cycle", serverUs, fServerUs),
        latencyRow("complete with next p50", stats(nextLat).p50, fLat.p50),
        cpuRow("server CPU per cycle with `next` (floor: 1 request)", serverNextUs, fServerUs / 2),
        inProcessCpuRow("in-process CPU per cycle (the same claim + complete without HTTP)", inProcessCpuUs, serverUs),
        cpuRow("client CPU per cycle", clientUs, fClientUs),
        ...onPostgres.rows
      ],
      notes: [...notes, ...onPostgres.notes],
      ...(profile !== undefined && { profile }),
      elapsedMs: performance.now() - started
    }
  } finally {
    cleanup()
  }
}

// ---- H2 ---------------------------------------------------------------------------------------

export const h2 = async (ctx: Ctx): Promise<WorkloadResult> => {
  const started = performance.now()
  const n = ctx.size(10_000)
  const warm = Math.min(500, Math.round(n / 10))
  const ref = ctx.withFloor ? Math.min(3_000, Math.round(n / 4)) : 0
  const rand = prng(7)
  const input = (i: number) => ({
    prompt: `independent task ${i}: write the unit tests of one module`,
    priority: randInt(rand, 11),
    source: SOURCES[randInt(rand, SOURCES.length)]!
  })
  const { dir, cleanup } = tempDir("abathur-bench-http-")
  try {
    // In-process reference: W1's loop (one TaskQueue.submit per task) on a file of its own.
    let inProcess = Number.NaN
    let inProcessCpuUs = Number.NaN
    if (ref > 0) {
      const h = await openQueue(join(dir, "in-process.db"))
      for (let i = 0; i < Math.min(200, ref / 10); i++) h.run(h.q.submit(input(i)))
      settle()
      const c0 = process.cpuUsage()
      const r0 = performance.now()
      for (let i = 0; i < ref; i++) h.run(h.q.submit(input(i)))
      inProcess = ref / ((performance.now() - r0) / 1000)
      const used = process.cpuUsage(c0)
      inProcessCpuUs = (used.user + used.system) / ref
      await h.dispose()
    }

    const body = input(0)
    const floor = ctx.withFloor ? await runFloor(n, ["/v1/tasks"], body) : undefined

    const run = await startServer(ctx, dir, join(dir, "abathur.db"))
    const lat: Array<number> = []
    let ms: number
    let cpu: CpuSpan
    let profile: CpuProfileSummary | undefined
    let total = -1
    try {
      const inputs = Array.from({ length: n + warm }, (_, i) => input(i))
      let next = 0
      const submit = async (record: boolean) => {
        const s = performance.now()
        expect(await run.client.post("/v1/tasks", inputs[next++]), 201, "submit")
        if (record) lat.push(performance.now() - s)
      }
      await runCount(CONCURRENCY, warm, () => submit(false))
      settle()
      const span = cpuSpan(run.server)
      const from = monotonicUs()
      const t0 = performance.now()
      await runCount(CONCURRENCY, n, () => submit(true))
      ms = performance.now() - t0
      const to = monotonicUs()
      cpu = span()
      total = (JSON.parse(expect(await run.client.request("GET", "/v1/status"), 200, "status").text) as { total: number }).total
      profile = await run.stop({ fromUs: from, toUs: to })
    } catch (error) {
      await run.stop().catch(() => undefined)
      throw error
    }
    const notes: Array<string> = []
    if (total !== n + warm) notes.push(`warning: ${total} tasks stored, expected ${n + warm}`)
    const tasks = n / (ms / 1000)
    const fReq = floor === undefined ? Number.NaN : floor.requests / (floor.ms / 1000)
    const fLat = stats(floor?.lat ?? [])
    const a = stats(lat)
    const serverUs = (cpu.serverMs * 1000) / n
    const clientUs = (cpu.clientMs * 1000) / n
    const fServerUs = floor === undefined ? Number.NaN : (floor.cpu.serverMs * 1000) / floor.requests
    const fClientUs = floor === undefined ? Number.NaN : (floor.cpu.clientMs * 1000) / floor.requests
    notes.push(
      `CPU per submit: server ${serverUs.toFixed(0)} µs, client ${clientUs.toFixed(0)} µs; the server process used ` +
        `${((cpu.serverMs / ms) * 100).toFixed(0)}% of one core during the run (its main thread plus helper threads)`
    )
    return {
      id: "H2",
      title: "Submit over HTTP, one task per POST, 8 concurrent clients",
      setup:
        `${fmtInt(n)} POST /v1/tasks (one task each, ${fmtInt(warm)} warm-up first) by ${CONCURRENCY} concurrent keep-alive loops against ` +
        `abathur-server on a fresh file database; floor: the bare node:http server, same client, same body; in-process: W1's loop ` +
        `(TaskQueue.submit, one call per task) in the same child`,
      rows: [
        rate("throughput", tasks, fReq, "tasks/s"),
        infoRow("in-process submit (TaskQueue, same moment)", fmtRate(inProcess), "—", fmtShareOf(tasks, inProcess, "in-process reached over HTTP")),
        latencyRow("submit p50", a.p50, fLat.p50),
        latencyRow("submit p99", a.p99, fLat.p99),
        cpuRow("server CPU per submit", serverUs, fServerUs),
        inProcessCpuRow("in-process CPU per submit", inProcessCpuUs, serverUs),
        cpuRow("client CPU per submit", clientUs, fClientUs)
      ],
      notes,
      ...(profile !== undefined && { profile }),
      elapsedMs: performance.now() - started
    }
  } finally {
    cleanup()
  }
}
