/**
 * H1 on PostgreSQL: the same claim + complete cycles as H1 (the same client and loops) through
 * 1 and then 2 abathur-server processes sharing one fresh database (see ../postgres.ts).
 */
import { HttpClient, type Listening, runCount, SERVER_MAIN, startListening } from "../http.js"
import { startBenchPostgres } from "../postgres.js"
import { readyPlans } from "../seed.js"
import type { ResultRow } from "../types.js"
import { fmtInt, fmtMs, fmtRate, settle, stats } from "../util.js"
import { type Ctx, infoRow } from "./common.js"
import { CONCURRENCY, expect, fmtShareOf } from "./httpRig.js"

/**
 * The same cycles (claim, then complete with the token; CONCURRENCY loops, the same client) on
 * PostgreSQL, through 1 and then 2 abathur-server processes sharing one fresh database (loop w
 * talks to server w mod k). Seeded through the first server's POST /v1/plans. Skipped, with a
 * note, when no PostgreSQL can be started (ABATHUR_BENCH_POSTGRES=0 skips it too).
 */
export const postgresCycles = async (ctx: Ctx, sqliteCycles: number): Promise<{ rows: Array<ResultRow>; notes: Array<string> }> => {
  if (process.env["ABATHUR_BENCH_POSTGRES"] === "0") return { rows: [], notes: ["PostgreSQL rows skipped (ABATHUR_BENCH_POSTGRES=0)"] }
  const n = ctx.size(2_000, 200)
  const warm = Math.min(200, Math.round(n / 10))
  let pgs: Awaited<ReturnType<typeof startBenchPostgres>>
  try {
    pgs = await startBenchPostgres()
  } catch (error) {
    return {
      rows: [],
      notes: [`PostgreSQL rows skipped: no PostgreSQL server started (${String(error).split("\n")[0]}); set ABATHUR_BENCH_POSTGRES_URL`]
    }
  }
  const rows: Array<ResultRow> = []
  const notes: Array<string> = [
    `PostgreSQL: ${pgs.describe}; ${fmtInt(n)} measured cycles per row after ${fmtInt(warm)} warm-up cycles, each row on a fresh database ` +
      `seeded with ${fmtInt(n + warm)} READY tasks through POST /v1/plans; the same ${CONCURRENCY} loops and client as above, loop w on server w mod k`
  ]
  try {
    for (const k of [1, 2]) {
      const url = await pgs.database()
      const servers: Array<Listening> = []
      const clients: Array<HttpClient> = []
      try {
        for (let i = 0; i < k; i++) {
          const server = await startListening([SERVER_MAIN, "--port", "0", "--host", "127.0.0.1", "--db", url, "--log-level", "warning"])
          servers.push(server)
          clients.push(new HttpClient(server.port, CONCURRENCY))
        }
        const s0 = performance.now()
        for (const plan of readyPlans(n + warm, { seed: 52, chunk: 500 })) expect(await clients[0]!.post("/v1/plans", plan), 201, "plan (PostgreSQL)")
        const seedMs = performance.now() - s0
        const lat: Array<number> = []
        const cycle = async (w: number, record: boolean): Promise<void> => {
          const client = clients[w % k]!
          const s = performance.now()
          const claimed = await client.post("/v1/claims", { worker: `w${w}` })
          if (claimed.status === 204) throw new Error("abathur-server (PostgreSQL): the queue ran dry")
          const task = JSON.parse(expect(claimed, 200, "claim (PostgreSQL)").text) as { id: string; leaseToken: string }
          expect(await client.post(`/v1/tasks/${task.id}/complete`, { leaseToken: task.leaseToken }), 200, "complete (PostgreSQL)")
          if (record) lat.push(performance.now() - s)
        }
        await runCount(CONCURRENCY, warm, (w) => cycle(w, false))
        settle()
        const t0 = performance.now()
        await runCount(CONCURRENCY, n, (w) => cycle(w, true))
        const cycles = n / ((performance.now() - t0) / 1000)
        const l = stats(lat)
        const label = `${k} server${k === 1 ? "" : "s"}`
        rows.push(
          infoRow(
            `throughput on PostgreSQL, ${label} (claim + complete cycles)`,
            fmtRate(cycles, "cycles/s"),
            "—",
            fmtShareOf(cycles, sqliteCycles, "SQLite's (first row)")
          ),
          infoRow(`cycle p50 / p99 on PostgreSQL, ${label}`, `${fmtMs(l.p50)} / ${fmtMs(l.p99)}`)
        )
        notes.push(`PostgreSQL, ${label}: seeding ${fmtInt(n + warm)} tasks took ${fmtMs(seedMs)}`)
      } finally {
        for (const c of clients) c.close()
        for (const server of servers) {
          const code = await server.stop()
          if (code !== 0) notes.push(`warning: abathur-server on PostgreSQL exited with ${code}: ${server.stderr().slice(-400)}`)
        }
      }
    }
  } finally {
    await pgs.stop()
  }
  return { rows, notes }
}
