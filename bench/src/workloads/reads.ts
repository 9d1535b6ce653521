/** W7: the execution plan of open tasks, and queue status over a million stored tasks. */
import { Plans } from "@abathur/testing"
import { existsSync } from "node:fs"
import { join } from "node:path"
import { type Db, openFloor } from "../floor.js"
import { openQueue } from "../runtime.js"
import { type MillionShape, seedLongLivedQueue } from "../seed.js"
import type { WorkloadResult } from "../types.js"
import { fmtInt, fmtMs, settle, stats, statsOf, tempDir } from "../util.js"
import { type Ctx, infoRow, lap, latencyRow } from "./common.js"

const OPEN = "('pending', 'blocked', 'ready', 'running')"

/** The long-lived queue database of `n` tasks in the run's shared folder, seeded once. */
export const longLivedDatabase = (sharedDir: string, n: number): { file: string; seededMs: number | null; shape: MillionShape | null } => {
  const file = join(sharedDir, `long-lived-${n}.db`)
  if (existsSync(file)) return { file, seededMs: null, shape: null }
  const t0 = performance.now()
  const db = openFloor(file)
  const shape = seedLongLivedQueue(db, n, Date.now())
  db.pragma("wal_checkpoint(TRUNCATE)")
  db.close()
  return { file, seededMs: performance.now() - t0, shape }
}

/** Open tasks in parallel batches with plain SQL and Kahn's layering. */
const floorPlan = (db: Db): (() => Array<Array<string>>) => {
  const ids = db.prepare(`SELECT id FROM tasks WHERE status IN ${OPEN}`).pluck()
  const edges = db
    .prepare(
      `SELECT d.dependent_task_id, d.prerequisite_task_id FROM task_dependencies d
       JOIN tasks t ON t.id = d.dependent_task_id JOIN tasks p ON p.id = d.prerequisite_task_id
       WHERE t.status IN ${OPEN} AND p.status IN ${OPEN}`
    )
    .raw()
  return db.transaction(() => {
    const nodes = ids.all() as Array<string>
    const indegree = new Map<string, number>(nodes.map((id) => [id, 0]))
    const dependents = new Map<string, Array<string>>()
    for (const [dep, pre] of edges.all() as Array<[string, string]>) {
      indegree.set(dep, indegree.get(dep)! + 1)
      let list = dependents.get(pre)
      if (list === undefined) dependents.set(pre, (list = []))
      list.push(dep)
    }
    const batches: Array<Array<string>> = []
    let level = nodes.filter((id) => indegree.get(id) === 0)
    while (level.length > 0) {
      batches.push(level)
      const next: Array<string> = []
      for (const id of level) {
        for (const d of dependents.get(id) ?? []) {
          const k = indegree.get(d)! - 1
          indegree.set(d, k)
          if (k === 0) next.push(d)
        }
      }
      level = next
    }
    return batches
  }).deferred
}

/** The same answer as status(): counts and sums from task_stats, deepest open, oldest waiting. */
const floorStatus = (db: Db): (() => unknown) => {
  const counts = db.prepare("SELECT status, task_count, priority_sum FROM task_stats")
  // Schema v5: the partial index holds open tasks with prerequisites; depth 0 when only others are open.
  const deeper = db
    .prepare(`SELECT max(dependency_depth) FROM tasks INDEXED BY idx_tasks_open_depth WHERE status IN ${OPEN} AND dependency_depth > 0`)
    .pluck()
  const depth = { get: () => deeper.get() ?? 0 }
  const oldestReady = db.prepare("SELECT min(submitted_at) FROM tasks WHERE status = 'ready'").pluck()
  const oldestBlocked = db.prepare("SELECT min(submitted_at) FROM tasks WHERE status = 'blocked'").pluck()
  return db.transaction(() => ({
    counts: counts.all(),
    depth: depth.get(),
    ready: oldestReady.get(),
    blocked: oldestBlocked.get()
  })).deferred
}

export const w7 = async (ctx: Ctx): Promise<WorkloadResult> => {
  const started = performance.now()
  const planSize = ctx.size(1000)
  const statusSize = ctx.size(1_000_000)
  const reps = ctx.withFloor ? 50 : 20
  const { dir, cleanup } = tempDir()
  const notes: Array<string> = []
  try {
    // Execution plan: a layered plan of open tasks (10 layers, up to 3 prerequisites each).
    const planFile = join(dir, "plan.db")
    const h = await openQueue(planFile, { meter: ctx.meter })
    h.run(h.q.submitPlan(Plans.layered(planSize, 10, 3)))
    const fPlan: Array<number> = []
    let floorBatches = 0
    if (ctx.withFloor) {
      const db = openFloor(planFile)
      const plan = floorPlan(db)
      for (let i = 0; i < 5; i++) plan()
      settle()
      for (let i = 0; i < reps; i++) floorBatches = lap(fPlan, plan).length
      db.close()
    }
    for (let i = 0; i < 5; i++) h.run(h.q.executionPlan())
    const aPlan: Array<number> = []
    let batches = 0
    await ctx.measure("executionPlan", reps, () => {
      for (let i = 0; i < reps; i++) batches = lap(aPlan, () => ctx.call(() => h.run(h.q.executionPlan()))).totalBatches
    })
    await h.dispose()
    notes.push(
      `execution plan: ${fmtInt(planSize)} open tasks in ${batches} batches (floor: ${floorBatches || "—"}); ${reps} calls each after 5 warm-up calls`
    )

    // Status over a long-lived queue of a million tasks, inserted with plain SQL.
    const seeded = longLivedDatabase(ctx.options.sharedDir, statusSize)
    if (seeded.seededMs !== null && seeded.shape !== null) {
      const s = seeded.shape
      notes.push(
        `status: ${fmtInt(s.total)} tasks (${Object.entries(s.byStatus)
          .map(([k, v]) => `${k} ${fmtInt(v)}`)
          .join(
            ", "
          )}; ${fmtInt(s.edges)} edges) inserted with plain SQL in one transaction in ${fmtMs(seeded.seededMs)}; ${reps * 4} calls each after 5 warm-up calls`
      )
    }
    const fStatus: Array<number> = []
    const fUnhinted: Array<number> = []
    if (ctx.withFloor) {
      const db = openFloor(seeded.file)
      const status = floorStatus(db)
      for (let i = 0; i < 5; i++) status()
      settle()
      for (let i = 0; i < reps * 4; i++) lap(fStatus, status)
      // The deepest open task without the index hint: what status() cost before TaskRepository named the index.
      const unhinted = db.prepare(`SELECT max(dependency_depth) FROM tasks WHERE status IN ${OPEN}`).pluck()
      for (let i = 0; i < 5; i++) lap(fUnhinted, () => unhinted.get())
      db.close()
    }
    const hs = await openQueue(seeded.file, { meter: ctx.meter })
    for (let i = 0; i < 5; i++) hs.run(hs.q.status())
    const aStatus: Array<number> = []
    const statusReps = reps * 4
    if (ctx.meter === undefined && !ctx.options.cpuProfile) {
      for (let i = 0; i < statusReps; i++) lap(aStatus, () => hs.run(hs.q.status()))
    }
    const total = hs.run(hs.q.status()).total
    await hs.dispose()
    if (total !== statusSize) notes.push(`warning: status reports ${total} tasks, expected ${statusSize}`)

    const [ap, fp, as, fs] = statsOf(aPlan, fPlan, aStatus, fStatus)
    return {
      id: "W7",
      title: "Execution plan of open tasks; queue status over a million tasks",
      setup: `execution plan over ${fmtInt(planSize)} open tasks (Plans.layered: 10 layers, ≤ 3 prerequisites); status over ${fmtInt(statusSize)} stored tasks; floor: the same queries by hand (plan: open ids, edges among them, Kahn layering in JS; status: task_stats, max open depth, oldest waiting)`,
      rows: [
        latencyRow("execution plan p50", ap.p50, fp.p50, { max: 10, label: "≤ 10 ms (p50)" }),
        latencyRow("execution plan p99", ap.p99, fp.p99),
        latencyRow("status p50", as.p50, fs.p50, { max: 20, label: "≤ 20 ms (p50)" }),
        latencyRow("status p99", as.p99, fs.p99),
        infoRow("status max", fmtMs(as.max), fmtMs(fs.max)),
        infoRow("max open depth without INDEXED BY (the planner's choice; p50 of 5)", "—", fmtMs(stats(fUnhinted).p50))
      ],
      notes,
      ...ctx.analysis,
      elapsedMs: performance.now() - started
    }
  } finally {
    cleanup()
  }
}
