/** W6: adding dependencies (with the cycle check) in a large graph of depth 10. */
import { DependencyCycle } from "@abathur/queue"
import { Cause, Exit, Option } from "effect"
import { join } from "node:path"
import { copyGraph, openFloor } from "../floor.js"
import { openQueue } from "../runtime.js"
import { componentGraph, type GenNode } from "../seed.js"
import type { WorkloadResult } from "../types.js"
import { fmtInt, fmtRate, prng, randInt, settle, stats, tempDir } from "../util.js"
import { type Ctx, infoRow, lap, latencyRow } from "./common.js"

const MAX_DEPTH = 10
const MAX_DEPENDENCIES = 50

type Kind = "legal" | "cycle"
interface Op {
  readonly dependent: number
  readonly prerequisite: number
  readonly kind: Kind
  /** Whether the engine's cycle check has to walk (the prerequisite is deeper). */
  readonly walks: boolean
}

/**
 * The graph in memory, to pick operations whose outcome is known: legal ones (no cycle, no
 * duplicate, depth and prerequisite limits kept, applied as they are picked) and cycles.
 */
class Model {
  readonly prereqs: Array<Array<number>>
  readonly dependents: Array<Array<number>>
  readonly depth: Int32Array

  constructor(nodes: ReadonlyArray<GenNode>) {
    this.prereqs = nodes.map((n) => [...n.deps])
    this.dependents = nodes.map(() => [])
    this.depth = Int32Array.from(nodes.map((n) => n.depth))
    nodes.forEach((n, i) => {
      for (const d of n.deps) this.dependents[d]!.push(i)
    })
  }

  /** Whether `target` is reachable from `from` along prerequisites. */
  reaches(from: number, target: number): boolean {
    if (this.depth[from]! <= this.depth[target]!) return false
    const seen = new Set([from])
    const stack = [from]
    while (stack.length > 0) {
      for (const p of this.prereqs[stack.pop()!]!) {
        if (p === target) return true
        if (this.depth[p]! > this.depth[target]! && !seen.has(p)) {
          seen.add(p)
          stack.push(p)
        }
      }
    }
    return false
  }

  /** The new depths adding `a -> b` gives, or null when the depth limit refuses it. */
  deepen(a: number, b: number): Map<number, number> | null {
    const depths = new Map<number, number>()
    const d0 = this.depth[b]! + 1
    if (d0 <= this.depth[a]!) return depths
    depths.set(a, d0)
    const queue = [a]
    while (queue.length > 0) {
      const id = queue.shift()!
      const d = depths.get(id)!
      if (d > MAX_DEPTH) return null
      for (const next of this.dependents[id]!) {
        if (this.depth[next]! < d + 1 && (depths.get(next) ?? -1) < d + 1) {
          depths.set(next, d + 1)
          queue.push(next)
        }
      }
    }
    return depths
  }

  tryLegal(a: number, b: number): Op | null {
    if (a === b || this.prereqs[a]!.includes(b) || this.prereqs[a]!.length + 1 > MAX_DEPENDENCIES) return null
    if (this.reaches(b, a)) return null
    const depths = this.deepen(a, b)
    if (depths === null) return null
    const walks = this.depth[b]! > this.depth[a]!
    for (const [id, d] of depths) this.depth[id] = d
    this.prereqs[a]!.push(b)
    this.dependents[b]!.push(a)
    return { dependent: a, prerequisite: b, kind: "legal", walks }
  }

  /** `a -> b` where b already depends on a, transitively: a cycle. */
  cycle(rand: () => number): Op | null {
    const a = randInt(rand, this.prereqs.length)
    let b = a
    const steps = 1 + randInt(rand, 3)
    for (let s = 0; s < steps; s++) {
      const next = this.dependents[b]!
      if (next.length === 0) break
      b = next[randInt(rand, next.length)]!
    }
    return b === a ? null : { dependent: a, prerequisite: b, kind: "cycle", walks: true }
  }
}

/** 90% legal pairs (half of them drawn so that the check must walk), 10% cycles. */
const pickOps = (model: Model, count: number, seed: number): Array<Op> => {
  const rand = prng(seed)
  const n = model.prereqs.length
  const ops: Array<Op> = []
  while (ops.length < count) {
    if (rand() < 0.1) {
      const op = model.cycle(rand)
      if (op !== null) ops.push(op)
      continue
    }
    const mustWalk = rand() < 0.5
    for (let attempt = 0; attempt < 10_000; attempt++) {
      const a = randInt(rand, n)
      const b = randInt(rand, n)
      if (mustWalk && model.depth[b]! <= model.depth[a]!) continue
      const op = model.tryLegal(a, b)
      if (op !== null) {
        ops.push(op)
        break
      }
    }
  }
  return ops
}

export const w6 = async (ctx: Ctx): Promise<WorkloadResult> => {
  const started = performance.now()
  const components = ctx.size(1000)
  const count = ctx.size(2000, 500)
  const { dir, cleanup } = tempDir()
  try {
    const graph = componentGraph(components, 100)
    const total = graph.nodes.length
    const file = join(dir, "abathur.db")
    const h = await openQueue(file, { meter: ctx.meter })
    const ids: Array<string> = new Array<string>(total)
    const t0 = performance.now()
    let base = 0
    for (const plan of graph.plans) {
      const created = h.run(h.q.submitPlan(plan)).tasks
      const size = plan.tasks.length
      for (let i = base; i < base + size; i++) ids[i] = created[graph.keyOf(i)]!.id
      base += size
    }
    const setupRate = total / ((performance.now() - t0) / 1000)
    // The first `warm` operations warm both sides up and are not counted.
    const warm = ctx.size(100, 50)
    const all = pickOps(new Model(graph.nodes), warm + count, 61)
    const warmOps = all.slice(0, warm)
    const ops = all.slice(warm)
    const legal = ops.filter((o) => o.kind === "legal")
    const notes = [
      `set-up: ${fmtInt(total)} tasks in ${fmtInt(components)} components of 100 (depths 0 to 10, 1 to 3 prerequisites each, ${fmtInt(graph.nodes.reduce((s, x) => s + x.deps.length, 0))} edges) submitted through submitPlan at ${fmtRate(setupRate)}`,
      `operations: ${fmtInt(warm)} warm-up, then ${fmtInt(ops.length)} timed (${fmtInt(legal.length)} legal, of which ${fmtInt(legal.filter((o) => o.walks).length)} make the check walk because the prerequisite is deeper; ${fmtInt(ops.length - legal.length)} closing a cycle), applied in the same order to both`
    ]

    const fLat: Array<number> = []
    const fLatByKind: Record<Kind, Array<number>> = { legal: [], cycle: [] }
    if (ctx.withFloor) {
      const db = openFloor(join(dir, "floor.db"))
      copyGraph(db, file)
      const state = db.prepare("SELECT dependency_depth AS depth, status FROM tasks WHERE id = ?")
      const reaches = db.prepare(
        `WITH RECURSIVE up(id) AS (
           SELECT ?
           UNION
           SELECT d.prerequisite_task_id FROM task_dependencies d JOIN up ON d.dependent_task_id = up.id
           JOIN tasks t ON t.id = d.prerequisite_task_id WHERE t.dependency_depth >= ?)
         SELECT 1 FROM up WHERE id = ? LIMIT 1`
      )
      const downstream = db.prepare(
        `SELECT d.dependent_task_id AS id, t.dependency_depth AS depth FROM task_dependencies d
         JOIN tasks t ON t.id = d.dependent_task_id WHERE d.prerequisite_task_id = ?`
      )
      const setDepth = db.prepare("UPDATE tasks SET dependency_depth = ? WHERE id = ?")
      const insert = db.prepare(
        `INSERT INTO task_dependencies (id, dependent_task_id, prerequisite_task_id, dependency_type, created_at, resolved_at)
         VALUES (?, ?, ?, 'sequential', ?, NULL)`
      )
      const block = db.prepare("UPDATE tasks SET status = 'blocked', last_updated_at = ? WHERE id = ? AND status = 'ready'")
      const add = db.transaction((a: string, b: string): Kind => {
        const sa = state.get(a) as { depth: number }
        const sb = state.get(b) as { depth: number }
        if (sb.depth > sa.depth && reaches.get(b, sa.depth, a) !== undefined) return "cycle"
        if (sb.depth + 1 > sa.depth) {
          const depths = new Map([[a, sb.depth + 1]])
          const queue = [a]
          while (queue.length > 0) {
            const id = queue.shift()!
            const d = depths.get(id)!
            if (d > MAX_DEPTH) throw new Error("floor: depth limit")
            for (const next of downstream.all(id) as Array<{ id: string; depth: number }>) {
              if (next.depth < d + 1 && (depths.get(next.id) ?? -1) < d + 1) {
                depths.set(next.id, d + 1)
                queue.push(next.id)
              }
            }
          }
          for (const [id, d] of depths) setDepth.run(d, id)
        }
        const at = new Date().toISOString()
        insert.run(crypto.randomUUID(), a, b, at)
        block.run(at, a)
        return "legal"
      })
      for (const op of warmOps) add.immediate(ids[op.dependent]!, ids[op.prerequisite]!)
      settle()
      for (const op of ops) {
        const t = performance.now()
        const kind = add.immediate(ids[op.dependent]!, ids[op.prerequisite]!)
        const ms = performance.now() - t
        fLat.push(ms)
        fLatByKind[op.kind].push(ms)
        if (kind !== op.kind) throw new Error(`floor: expected ${op.kind}, got ${kind}`)
      }
      db.close()
    }

    const lat: Array<number> = []
    const latByKind: Record<Kind, Array<number>> = { legal: [], cycle: [] }
    let mismatches = 0
    for (const op of warmOps) h.runExit(h.q.addDependency(ids[op.dependent]!, { prerequisiteId: ids[op.prerequisite]! }))
    await ctx.measure("addDependency", ops.length, () => {
      for (const op of ops) {
        const exit = lap(lat, () => ctx.call(() => h.runExit(h.q.addDependency(ids[op.dependent]!, { prerequisiteId: ids[op.prerequisite]! }))))
        latByKind[op.kind].push(lat[lat.length - 1]!)
        const got: Kind | "other" = Exit.isSuccess(exit)
          ? "legal"
          : Option.match(Cause.failureOption(exit.cause), {
              onNone: () => "other" as const,
              onSome: (e) => (e instanceof DependencyCycle ? ("cycle" as const) : ("other" as const))
            })
        if (got !== op.kind) mismatches++
      }
    })
    await h.dispose()
    if (mismatches > 0) notes.push(`warning: ${mismatches} operations did not end as the model expected`)

    const a = stats(lat)
    const f = stats(fLat)
    const al = stats(latByKind.legal),
      ac = stats(latByKind.cycle)
    const fl = stats(fLatByKind.legal),
      fc = stats(fLatByKind.cycle)
    return {
      id: "W6",
      title: "Add a dependency (cycle check) in a graph of depth 10",
      setup: `${fmtInt(total)} tasks, depth 10, default limits (depth ≤ 10, ≤ 50 prerequisites); ${fmtInt(ops.length)} addDependency calls; floor: depths read, recursive-CTE cycle walk (pruned by depth like the engine), downstream depth update, INSERT, READY → BLOCKED, one transaction`,
      rows: [
        latencyRow("all: p50", a.p50, f.p50),
        latencyRow("all: p99", a.p99, f.p99, { max: 2 }),
        latencyRow("legal: p50", al.p50, fl.p50),
        latencyRow("legal: p99", al.p99, fl.p99),
        latencyRow("cycle rejected: p50", ac.p50, fc.p50),
        latencyRow("cycle rejected: p99", ac.p99, fc.p99),
        infoRow("max", `${a.max.toFixed(2)} ms`, Number.isFinite(f.max) ? `${f.max.toFixed(2)} ms` : "—")
      ],
      notes,
      ...ctx.analysis,
      elapsedMs: performance.now() - started
    }
  } finally {
    cleanup()
  }
}
