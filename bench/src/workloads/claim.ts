/** W3 (claim + complete throughput) and W4 (claim latency with deadlines). */
import { defaultPrioritySettings, type PlanInput, starvationRate } from "@abathur/domain"
import type { TaskStore } from "@abathur/storage"
import BetterSqlite3 from "better-sqlite3"
import { join } from "node:path"
import { PerformanceObserver } from "node:perf_hooks"
import { copyGraph, floorClaim, floorComplete, iso, openFloor } from "../floor.js"
import { openQueue, type QueueHandle } from "../runtime.js"
import { readyPlans } from "../seed.js"
import type { WorkloadResult } from "../types.js"
import { fmtInt, fmtMs, fmtRate, settle, stats, statsOf, tempDir } from "../util.js"
import { type Ctx, infoRow, lap, latencyRow, rateRow, verdict } from "./common.js"

/** Operations slower than 100 ms (W4 says what its slowest claims did: `claimTap`). */
export const slowNote = (what: string, lat: ReadonlyArray<number>): string | null => {
  const slow = lat.filter((x) => x >= 100)
  if (slow.length === 0) return null
  const total = slow.reduce((a, b) => a + b, 0)
  return `${slow.length} ${what} took 100 ms or more (${fmtMs(total)} in all, largest ${fmtMs(Math.max(...slow))})`
}

/**
 * Counters of what claims do, read around each claim: repository calls (statements, but for the
 * transaction wrapper) and rows re-ranked (one per `setPriority`, the rows `crossHorizons` moved).
 */
const claimTap = () => {
  const counts = { calls: 0, reranked: 0 }
  const tap = (store: TaskStore): TaskStore => {
    const out: Record<string, unknown> = {}
    for (const [key, value] of Object.entries(store)) {
      if (typeof value !== "function" || key === "transaction" || key === "read") {
        out[key] = value
        continue
      }
      const fn = value as (...args: Array<unknown>) => unknown
      out[key] = (...args: Array<unknown>) => {
        counts.calls++
        const result = fn(...args)
        if (key === "setPriority") counts.reranked++
        else if (key === "crossHorizons") counts.reranked += result as number
        return result
      }
    }
    return out as unknown as TaskStore
  }
  return { counts, tap }
}

/** Garbage collections (start, duration in ms) while `body` runs, observed through perf_hooks. */
const withGcLog = async (body: () => Promise<void>): Promise<Array<readonly [number, number]>> => {
  const gcs: Array<readonly [number, number]> = []
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcs.push([e.startTime, e.duration])
  })
  observer.observe({ entryTypes: ["gc"] })
  try {
    await body()
    // Entries are delivered after the synchronous loop: let them arrive.
    await new Promise((resolve) => setTimeout(resolve, 50))
  } finally {
    observer.disconnect()
  }
  return gcs
}

/** Submits the plans through the service; returns the set-up rate. */
const submitAll = (h: QueueHandle, plans: ReadonlyArray<PlanInput>, n: number): number => {
  const t0 = performance.now()
  for (const plan of plans) h.run(h.q.submitPlan(plan))
  return n / ((performance.now() - t0) / 1000)
}

export const w3 = async (ctx: Ctx): Promise<WorkloadResult> => {
  const started = performance.now()
  const n = ctx.size(100_000)
  const warm = Math.min(1000, n / 10)
  const { dir, cleanup } = tempDir()
  try {
    const file = join(dir, "abathur.db")
    const h = await openQueue(file, { meter: ctx.meter })
    const setupRate = submitAll(h, readyPlans(n + warm, { seed: 31 }), n + warm)
    const notes = [`set-up: ${fmtInt(n + warm)} READY tasks submitted through submitPlan (plans of 10,000) at ${fmtRate(setupRate)}`]

    // Floor: the claim statement, then complete + resolve edges, two transactions per task.
    let floorMs = Number.NaN
    const fClaim: Array<number> = []
    const fComplete: Array<number> = []
    if (ctx.withFloor) {
      const db = openFloor(join(dir, "floor.db"))
      copyGraph(db, file)
      const claim = floorClaim(db)
      const complete = floorComplete(db)
      for (let i = 0; i < warm; i++) complete(claim()!)
      settle()
      const t0 = performance.now()
      for (let i = 0; i < n; i++) {
        const id = lap(fClaim, claim)
        if (id === null) throw new Error("floor: the queue ran dry")
        lap(fComplete, () => complete(id))
      }
      floorMs = performance.now() - t0
      db.close()
    }

    // Abathur: claim, then complete with the lease token, through the service.
    for (let i = 0; i < warm; i++) {
      const c = h.run(h.q.claim({ worker: "bench" }))!
      h.run(h.q.complete(c.id, { leaseToken: c.leaseToken }))
    }
    const aClaim: Array<number> = []
    const aComplete: Array<number> = []
    const ms = await ctx.measure("claim + complete", n, () => {
      for (let i = 0; i < n; i++) {
        const c = lap(aClaim, () => ctx.call(() => h.run(h.q.claim({ worker: "bench" }))))
        if (c === null) throw new Error("abathur: the queue ran dry")
        lap(aComplete, () => ctx.call(() => h.run(h.q.complete(c.id, { leaseToken: c.leaseToken }))))
      }
    })
    const left = h.run(h.q.status()).byStatus.ready
    await h.dispose()
    if (left !== 0) notes.push(`warning: ${left} tasks still READY after the run`)
    const slow = slowNote("of Abathur's claims", aClaim)
    if (slow !== null) notes.push(slow)

    const rate = n / (ms / 1000)
    const floorRate = n / (floorMs / 1000)
    const share = rate / floorRate
    const [ac, ao, fc, fo] = statsOf(aClaim, aComplete, fClaim, fComplete)
    return {
      id: "W3",
      title: "Claim and complete ready tasks in one process",
      setup: `${fmtInt(n)} READY independent tasks (varied base priority and source), claimed and completed one by one after ${fmtInt(warm)} warm-up pairs; floor: the one-statement claim and the complete + resolve UPDATEs, one transaction each`,
      rows: [
        rateRow("throughput (claim + complete)", rate, floorRate, { min: 20_000 }),
        {
          metric: "share of the floor's rate",
          abathur: `${(share * 100).toFixed(1)}%`,
          floor: "100%",
          ratio: "",
          target: "≥ 40%",
          verdict: ctx.withFloor ? verdict(share >= 0.4) : "INFO"
        },
        latencyRow("claim p50", ac.p50, fc.p50),
        latencyRow("claim p99", ac.p99, fc.p99),
        latencyRow("complete p50", ao.p50, fo.p50),
        latencyRow("complete p99", ao.p99, fo.p99)
      ],
      notes,
      ...ctx.analysis,
      elapsedMs: performance.now() - started
    }
  } finally {
    cleanup()
  }
}

export const w4 = async (ctx: Ctx): Promise<WorkloadResult> => {
  const started = performance.now()
  const n = ctx.size(100_000)
  const claims = Math.round(n / 10)
  const warm = Math.min(500, claims / 10)
  const { dir, cleanup } = tempDir()
  try {
    const file = join(dir, "abathur.db")
    const { counts, tap } = claimTap()
    const h = await openQueue(file, { meter: ctx.meter, tap })
    const setupRate = submitAll(h, readyPlans(n, { seed: 41, deadlineShare: 0.1 }), n)
    const withDeadline = (h.run(h.q.list({ status: "ready" })) as ReadonlyArray<{ deadline: string | null }>).filter(
      (t) => t.deadline !== null
    ).length
    const notes = [
      `set-up: ${fmtInt(n)} READY tasks (${fmtInt(withDeadline)} with a deadline 1 min to 48 h away and an estimate of 1 to 60 min) submitted through submitPlan at ${fmtRate(setupRate)}`
    ]

    const fLat: Array<number> = []
    if (ctx.withFloor) {
      const db = openFloor(join(dir, "floor.db"))
      copyGraph(db, file)
      const claim = floorClaim(db)
      for (let i = 0; i < warm; i++) claim()
      settle()
      for (let i = 0; i < claims; i++) lap(fLat, claim)
      db.close()
    }

    for (let i = 0; i < warm; i++) h.run(h.q.claim({ worker: "bench" }))
    const lat: Array<number> = []
    // Per claim: its start, repository calls and rows re-ranked (what the slowest 1% did).
    const starts: Array<number> = []
    const calls: Array<number> = []
    const reranked: Array<number> = []
    const gcs = await withGcLog(() =>
      ctx
        .measure("claim", claims, () => {
          for (let i = 0; i < claims; i++) {
            const c0 = counts.calls
            const r0 = counts.reranked
            starts.push(performance.now())
            lap(lat, () => ctx.call(() => h.run(h.q.claim({ worker: "bench" }))))
            calls.push(counts.calls - c0)
            reranked.push(counts.reranked - r0)
          }
        })
        .then(() => undefined)
    )

    const slow = slowNote("of Abathur's claims", lat)
    if (slow !== null) notes.push(slow)
    const byTime = lat.map((_, i) => i).sort((a, b) => lat[a]! - lat[b]!)
    const slowest = byTime.slice(Math.floor(byTime.length * 0.99))
    const gcOf = (i: number) => gcs.reduce((ms, [s, d]) => ms + Math.max(0, Math.min(s + d, starts[i]! + lat[i]!) - Math.max(s, starts[i]!)), 0)
    const sum = (xs: ReadonlyArray<number>) => xs.reduce((a, b) => a + b, 0)
    const slowReranked = slowest.map((i) => reranked[i]!)
    const slowGc = slowest.map(gcOf)
    notes.push(
      `the slowest 1% of the timed claims (${fmtInt(slowest.length)}, ${fmtMs(lat[slowest[0]!]!)} and up): ` +
        `${fmtInt(slowReranked.filter((r) => r > 0).length)} re-ranked a task (${fmtInt(sum(slowReranked))} rows; all ${fmtInt(claims)} claims: ${fmtInt(sum(reranked))}), ` +
        `${(sum(slowest.map((i) => calls[i]!)) / slowest.length).toFixed(1)} repository calls each (every claim: ${(sum(calls) / calls.length).toFixed(1)}), ` +
        `${fmtInt(slowGc.filter((g) => g > 0).length)} overlapped a garbage collection (${fmtMs(sum(slowGc))} of their ${fmtMs(sum(slowest.map((i) => lat[i]!)))})`
    )

    // A queue left alone: the same rows moved back in time as if nobody had claimed for a while
    // (submission, deadline and refresh times earlier by the idle span; ranks of tasks short of
    // the horizon rise by the starvation earned, which keeps their order), then one claim.
    const idleRows: Array<ReturnType<typeof infoRow>> = []
    if (ctx.withFloor) {
      for (const idle of [
        { label: "10 minutes", ms: 600_000 },
        { label: "2 hours", ms: 7_200_000 }
      ]) {
        const side = new BetterSqlite3(file)
        side.pragma("busy_timeout = 5000")
        const shift = (column: string) => `${column} = strftime('%Y-%m-%dT%H:%M:%fZ', ${column}, '-${idle.ms / 1000} seconds')`
        side
          .prepare(
            `UPDATE tasks SET ${shift("submitted_at")}, ${shift("deadline")}, ${shift("priority_refresh_at")},
               priority_rank = CASE WHEN priority_starved = 0 THEN priority_rank + ? ELSE priority_rank END
             WHERE status = 'ready'`
          )
          .run(starvationRate(defaultPrioritySettings) * idle.ms)
        const due = (side.prepare("SELECT count(*) AS n FROM tasks WHERE priority_refresh_at <= ?").get(iso(Date.now())) as { n: number }).n
        side.close()
        const r0 = counts.reranked
        const c0 = counts.calls
        const t0 = performance.now()
        h.run(h.q.claim({ worker: "bench" }))
        const first = performance.now() - t0
        notes.push(
          `first claim after ${idle.label} idle: ${fmtInt(counts.reranked - r0)} rows re-ranked in ${fmtInt(counts.calls - c0)} repository calls`
        )
        const t1 = performance.now()
        h.run(h.q.claim({ worker: "bench" }))
        const next = performance.now() - t1
        idleRows.push(
          infoRow(`first claim after ${idle.label} idle: ${fmtInt(due)} tasks due (then the next claim)`, `${fmtMs(first)} (then ${fmtMs(next)})`)
        )
      }
    }
    await h.dispose()

    const a = stats(lat)
    const f = stats(fLat)
    return {
      id: "W4",
      title: "Claim latency, 10% of tasks with deadlines",
      setup: `${fmtInt(n)} READY tasks, 10% with deadlines; ${fmtInt(claims)} claims timed one by one after ${fmtInt(warm)} warm-up claims (leases stay open); floor: the one-statement claim per transaction on a copy of the same rows`,
      rows: [
        latencyRow("claim p50", a.p50, f.p50),
        latencyRow("claim p99", a.p99, f.p99, { max: 1 }),
        latencyRow("claim max", a.max, f.max),
        rateRow("claims per second", claims / (a.total / 1000), claims / (f.total / 1000)),
        ...idleRows
      ],
      notes,
      ...ctx.analysis,
      elapsedMs: performance.now() - started
    }
  } finally {
    cleanup()
  }
}
