#!/usr/bin/env node
// CPU per call (process.cpuUsage: user + system of every thread, so a shared machine's load weighs
// less than on wall-clock times) of the two graph operations of W6 and W7, through the real
// TaskQueue on one file:
//   plan: executionPlan over 1,000 open tasks (Plans.layered(1000, 10, 3), as W7), `calls` calls;
//   dep:  addDependency in components of 100 tasks (depth 10, 1 to 3 prerequisites each, as W6),
//         legal edges whose prerequisite is deeper (the check walks) and edges that close a cycle.
//
//   npx -y pnpm@10.34.9 --filter "@abathur/bench..." run build && node bench/scripts/graph-cpu.mjs [plan|dep|both] [calls] [components]
// METER=1: every repository call timed (the harness's CostMeter), a breakdown per phase instead.
// PROFILE=dir: a CPU profile of each timed phase alone, written to dir/<phase>.cpuprofile.
import { DependencyCycle, defaultQueueSettings, QueueConfig, TaskQueue } from "@abathur/queue"
import { Database, TaskRepository } from "@abathur/storage"
import { Plans } from "@abathur/testing"
import { Cause, Exit, Layer, ManagedRuntime, Option } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { Session } from "node:inspector"
import { writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { CostMeter } from "../dist/costs.js"
import { openQueue } from "../dist/runtime.js"
import { componentGraph } from "../dist/seed.js"

const what = process.argv[2] ?? "both"
const CALLS = Number(process.argv[3] ?? 200)
const COMPONENTS = Number(process.argv[4] ?? 100)

const meter = process.env["METER"] === "1" ? new CostMeter() : undefined
const profileDir = process.env["PROFILE"]
const session = profileDir === undefined ? undefined : new Session()
session?.connect()
const post = (method, params) => {
  let out
  session.post(method, params, (err, res) => {
    if (err) throw err
    out = res
  })
  return out
}
const phase = (name, calls, f) => {
  meter?.reset()
  if (session !== undefined) {
    post("Profiler.enable")
    post("Profiler.setSamplingInterval", { interval: 100 })
    post("Profiler.start")
  }
  const m = measure(f)
  if (session !== undefined) writeFileSync(join(profileDir, `${name.replace(/ /g, "-")}.cpuprofile`), JSON.stringify(post("Profiler.stop").profile))
  if (meter !== undefined) {
    console.log(`${name}: ${calls} calls`)
    for (const l of meter.report(name, calls, m.wall).lines)
      console.log(`  ${l.name.padEnd(40)} ${String(l.calls).padStart(6)} calls ${l.usPerOp.toFixed(1).padStart(8)} µs/op`)
  }
  return m
}
const open = async (file) => {
  if (meter !== undefined) {
    const h = await openQueue(file, { meter })
    return { runSync: h.run, runSyncExit: h.runExit, runPromise: async () => h.q, dispose: h.dispose }
  }
  const layer = TaskQueue.layer.pipe(
    Layer.provideMerge(TaskRepository.layer),
    Layer.provideMerge(Database.layer({ filename: file })),
    Layer.provide(QueueConfig.layer({ limits: defaultQueueSettings.limits })),
    Layer.orDie
  )
  return ManagedRuntime.make(layer)
}
/** CPU (µs) and wall time (ms) of `f`. */
const measure = (f) => {
  const c0 = process.cpuUsage()
  const t0 = performance.now()
  const out = f()
  const c = process.cpuUsage(c0)
  return { cpu: c.user + c.system, wall: performance.now() - t0, out }
}

const dir = mkdtempSync(join(tmpdir(), "abathur-graph-cpu-"))
try {
  if (what === "plan" || what === "both") {
    const rt = await open(join(dir, "plan.db"))
    const q = await rt.runPromise(TaskQueue)
    rt.runSync(q.submitPlan(Plans.layered(1000, 10, 3)))
    for (let i = 0; i < 5; i++) rt.runSync(q.executionPlan())
    const m = phase("plan", CALLS, () => {
      let p
      for (let i = 0; i < CALLS; i++) p = rt.runSync(q.executionPlan())
      return p
    })
    console.log(
      `plan: ${CALLS} calls, ${(m.cpu / CALLS).toFixed(0)} µs CPU per call, ${((m.wall / CALLS) * 1000).toFixed(0)} µs wall per call (${m.out.totalBatches} batches, max ${m.out.maxParallelism})`
    )
    await rt.dispose()
  }
  if (what === "dep" || what === "both") {
    const rt = await open(join(dir, "dep.db"))
    const q = await rt.runPromise(TaskQueue)
    const graph = componentGraph(COMPONENTS, 100)
    const ids = []
    let base = 0
    for (const plan of graph.plans) {
      const created = rt.runSync(q.submitPlan(plan)).tasks
      for (let i = base; i < base + plan.tasks.length; i++) ids[i] = created[graph.keyOf(i)].id
      base += plan.tasks.length
    }
    const n = graph.nodes.length
    const depth = graph.nodes.map((x) => x.depth)
    const dependents = graph.nodes.map(() => [])
    graph.nodes.forEach((x, i) => {
      for (const d of x.deps) dependents[d].push(i)
    })
    // Cycles: `a -> b` where b depends on a (one or two steps); the graph does not change.
    let seed = 7
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648
    const cycles = []
    while (cycles.length < CALLS) {
      const a = Math.floor(rand() * n)
      let b = a
      for (let s = 0, k = 1 + Math.floor(rand() * 2); s < k && dependents[b].length > 0; s++)
        b = dependents[b][Math.floor(rand() * dependents[b].length)]
      if (b !== a) cycles.push([a, b])
    }
    // Legal edges across components (no cycle possible) from a task nothing depends on to a deeper
    // one (the check walks; the depth limit holds); each task at one end only once.
    const legal = []
    const used = new Set()
    const deepened = new Set()
    for (let attempt = 0; legal.length < CALLS && attempt < 1_000_000; attempt++) {
      const a = Math.floor(rand() * n)
      const b = Math.floor(rand() * n)
      if (Math.floor(a / 100) === Math.floor(b / 100) || dependents[a].length > 0 || depth[b] <= depth[a] || depth[b] > 9) continue
      if (used.has(a) || deepened.has(b)) continue
      used.add(a).add(b)
      deepened.add(a)
      legal.push([a, b])
    }
    const kindOf = (exit) =>
      Exit.isSuccess(exit)
        ? "legal"
        : Option.match(Cause.failureOption(exit.cause), {
            onNone: () => "other",
            onSome: (e) => (e instanceof DependencyCycle ? "cycle" : `other: ${e._tag} ${e.message}`)
          })
    const run = (pairs, expect) => () => {
      for (const [a, b] of pairs) {
        const k = kindOf(rt.runSyncExit(q.addDependency(ids[a], { prerequisiteId: ids[b] })))
        if (k !== expect) throw new Error(`expected ${expect}, got ${k}`)
      }
    }
    run(cycles.slice(0, 20), "cycle")()
    const c = phase("cycle rejected", CALLS, run(cycles, "cycle"))
    const l = phase("legal", legal.length, run(legal, "legal"))
    console.log(`dep: ${n} tasks; cycle rejected ${(c.cpu / CALLS).toFixed(0)} µs CPU per call (${((c.wall / CALLS) * 1000).toFixed(0)} µs wall)`)
    console.log(
      `dep: ${legal.length} legal (walks) ${(l.cpu / legal.length).toFixed(0)} µs CPU per call (${((l.wall / legal.length) * 1000).toFixed(0)} µs wall)`
    )
    await rt.dispose()
  }
} finally {
  rmSync(dir, { recursive: true, force: true })
}
