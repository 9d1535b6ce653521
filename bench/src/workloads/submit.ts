/** W1 (independent submissions, one call each) and W2 (one large plan). */
import { join } from "node:path"
import { iso, openFloor } from "../floor.js"
import { openQueue } from "../runtime.js"
import { hierarchicalPlan, SOURCES } from "../seed.js"
import type { WorkloadResult } from "../types.js"
import { fmtInt, fmtMs, prng, randInt, settle, stats, tempDir } from "../util.js"
import { type Ctx, infoRow, lap, latencyRow, rateRow } from "./common.js"

const INSERT_READY = `INSERT INTO tasks (id, prompt, summary, priority, status, source, submitted_at, last_updated_at,
  calculated_priority, priority_refresh_at) VALUES (?, ?, ?, ?, 'ready', ?, ?, ?, ?, ?)`

export const w1 = async (ctx: Ctx): Promise<WorkloadResult> => {
  const started = performance.now()
  const n = ctx.size(10_000)
  const warm = Math.min(500, n / 10)
  const rand = prng(3)
  const inputs = Array.from({ length: n + warm }, (_, i) => ({
    prompt: `independent task ${i}: write the unit tests of one module`,
    priority: randInt(rand, 11),
    source: SOURCES[randInt(rand, SOURCES.length)]!
  }))
  const { dir, cleanup } = tempDir()
  try {
    // Floor: one INSERT per task, each in its own BEGIN IMMEDIATE transaction.
    let floorMs = Number.NaN
    const floorLat: Array<number> = []
    if (ctx.withFloor) {
      const db = openFloor(join(dir, "floor.db"))
      const insert = db.prepare(INSERT_READY)
      const tx = db.transaction((input: (typeof inputs)[number]) => {
        const now = Date.now()
        const at = iso(now)
        insert.run(crypto.randomUUID(), input.prompt, input.prompt, input.priority, input.source, at, at, 50, iso(now + 216_000))
      })
      for (let i = 0; i < warm; i++) tx.immediate(inputs[n + i]!)
      settle()
      const t0 = performance.now()
      for (let i = 0; i < n; i++) lap(floorLat, () => tx.immediate(inputs[i]!))
      floorMs = performance.now() - t0
      db.close()
    }
    // Abathur: TaskQueue.submit, one call (one transaction) per task.
    const h = await openQueue(join(dir, "abathur.db"), { meter: ctx.meter })
    for (let i = 0; i < warm; i++) h.run(h.q.submit(inputs[n + i]!))
    const lat: Array<number> = []
    const ms = await ctx.measure("submit", n, () => {
      for (let i = 0; i < n; i++) lap(lat, () => ctx.call(() => h.run(h.q.submit(inputs[i]!))))
    })
    await h.dispose()
    const a = stats(lat)
    const f = stats(floorLat)
    return {
      id: "W1",
      title: "Submit independent tasks, one call each",
      setup: `${fmtInt(n)} tasks, one TaskQueue.submit per task (${fmtInt(warm)} warm-up calls first); floor: one INSERT per BEGIN IMMEDIATE transaction`,
      rows: [
        rateRow("throughput", n / (ms / 1000), n / (floorMs / 1000), { min: 20_000 }),
        latencyRow("latency p50", a.p50, f.p50),
        latencyRow("latency p99", a.p99, f.p99)
      ],
      notes: [],
      ...ctx.analysis,
      elapsedMs: performance.now() - started
    }
  } finally {
    cleanup()
  }
}

export const w2 = async (ctx: Ctx): Promise<WorkloadResult> => {
  const started = performance.now()
  const n = ctx.size(10_000)
  const reps = 3
  const plans = Array.from({ length: reps + 1 }, (_, r) => hierarchicalPlan(n, 100 + r))
  const { dir, cleanup } = tempDir()
  try {
    // Floor: the same rows and edges with prepared INSERTs in one transaction per plan.
    const floorMs: Array<number> = []
    if (ctx.withFloor) {
      const db = openFloor(join(dir, "floor.db"))
      const insert = db.prepare(`INSERT INTO tasks (id, prompt, summary, priority, status, source, submitted_at,
        last_updated_at, parent_task_id, dependency_depth, calculated_priority, priority_refresh_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
      const edge = db.prepare(`INSERT INTO task_dependencies (id, dependent_task_id, prerequisite_task_id, dependency_type,
        created_at, resolved_at) VALUES (?, ?, ?, 'sequential', ?, NULL)`)
      const submit = db.transaction((r: number) => {
        const nodes = plans[r]!.nodes
        const now = Date.now()
        const at = iso(now)
        const ids = nodes.map(() => crypto.randomUUID())
        const rand = prng(r)
        for (let i = 0; i < nodes.length; i++) {
          const node = nodes[i]!
          const prompt = `plan step ${i}: a unit of work an agent can finish alone`
          insert.run(
            ids[i],
            prompt,
            prompt,
            randInt(rand, 11),
            node.deps.length > 0 ? "blocked" : "ready",
            SOURCES[i % 4],
            at,
            at,
            node.parent === null ? null : ids[node.parent],
            node.depth,
            50,
            iso(now + 216_000)
          )
        }
        for (let i = 0; i < nodes.length; i++) for (const d of nodes[i]!.deps) edge.run(crypto.randomUUID(), ids[i], ids[d], at)
      })
      submit.immediate(reps) // warm-up
      for (let r = 0; r < reps; r++) {
        settle()
        floorMs.push(timeIt(() => submit.immediate(r)))
      }
      db.close()
    }
    // Abathur: TaskQueue.submitPlan, one call per plan.
    const h = await openQueue(join(dir, "abathur.db"), { meter: ctx.meter })
    h.run(h.q.submitPlan(plans[reps]!.plan)) // warm-up
    const ms: Array<number> = []
    for (let r = 0; r < reps; r++) {
      const plan = plans[r]!.plan
      ms.push(await ctx.measure("submitPlan", n, () => void ctx.call(() => h.run(h.q.submitPlan(plan)))))
      if (!ctx.withFloor) break
    }
    await h.dispose()
    const a = stats(ms)
    const f = stats(floorMs)
    const edges = plans[0]!.nodes.reduce((s, x) => s + x.deps.length, 0)
    return {
      id: "W2",
      title: "Submit one plan (hierarchy + up to 3 prerequisites each)",
      setup:
        `plan of ${fmtInt(n)} tasks: 10 roots, ≤ 25 subtasks per task (4 levels), ${fmtInt(edges)} dependency edges over ` +
        `10 layers; default limits; median of ${reps} plans after one warm-up plan; floor: the same rows and edges, prepared INSERTs in one transaction`,
      rows: [
        rateRow("throughput (median plan)", n / (a.p50 / 1000), n / (f.p50 / 1000), { min: 100_000 }),
        latencyRow("time per plan (median)", a.p50, f.p50),
        infoRow("time per plan (each)", ms.map(fmtMs).join(", "), floorMs.map(fmtMs).join(", "))
      ],
      notes: [],
      ...ctx.analysis,
      elapsedMs: performance.now() - started
    }
  } finally {
    cleanup()
  }
}

const timeIt = (f: () => void): number => {
  const t0 = performance.now()
  f()
  return performance.now() - t0
}
