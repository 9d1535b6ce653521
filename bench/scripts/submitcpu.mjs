#!/usr/bin/env node
// CPU per submitted task through the real TaskQueue on SQLite, for one build of the packages:
// single submits, plans of 100 and of 10,000 independent tasks (the PEERS shape), and W2's plan
// (hierarchy + edges). Takes the root of a build (a folder holding packages/<name>/dist, such as
// a copy of a clean build) so that two builds can be measured in alternating runs.
//
//   npx -y pnpm@10.34.9 --filter "@abathur/bench..." run build
//   node bench/scripts/submitcpu.mjs [root] [modes] [rounds]
//
// root: default this worktree; modes: comma-separated of submit,plan100,plan10k,w2 (default all);
// rounds: default 3 (after one uncounted round). Prints per mode the CPU (user + system, every
// thread) per task of each round, their median and minimum, each round on a fresh file. The
// machine is shared: compare two builds in alternating runs, e.g.
//   for i in 1 2 3; do node bench/scripts/submitcpu.mjs /tmp/base; node bench/scripts/submitcpu.mjs; done
import { mkdtempSync, realpathSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"

const here = dirname(fileURLToPath(import.meta.url))
const root = resolve(process.argv[2] ?? join(here, "..", ".."))
const modes = (process.argv[3] ?? "submit,plan100,plan10k,w2").split(",")
const rounds = Number(process.argv[4] ?? 3)

const load = (pkg) => import(pathToFileURL(join(root, "packages", pkg, "dist", "index.js")).href)
const { defaultQueueSettings, QueueConfig, TaskQueue } = await load("queue")
const { Database, TaskRepository } = await load("storage")
// The same instance of effect as the packages' own (resolved through the queue's dependencies).
const effectDir = realpathSync(join(root, "packages", "queue", "node_modules", "effect"))
const { Layer, ManagedRuntime } = await import(pathToFileURL(join(effectDir, "dist", "esm", "index.js")).href)
const { hierarchicalPlan } = await import(pathToFileURL(join(here, "..", "dist", "seed.js")).href)

const SOURCES = ["human", "agent_requirements", "agent_planner", "agent_implementation"]
const inputOf = (i) => ({ prompt: `independent task ${i}: write the unit tests of one module`, priority: i % 11, source: SOURCES[i % 4] })
const planOf = (n, from) => ({ tasks: Array.from({ length: n }, (_, j) => ({ key: `t${j}`, ...inputOf(from + j) })) })

const open = (file) => {
  const layer = TaskQueue.layer.pipe(
    Layer.provideMerge(TaskRepository.layer),
    Layer.provideMerge(Database.layer({ filename: file })),
    Layer.provide(QueueConfig.layer({ limits: defaultQueueSettings.limits })),
    Layer.orDie
  )
  const rt = ManagedRuntime.make(layer)
  return { rt, q: rt.runSync(TaskQueue) }
}

/** One round: `warm` operations, then `ops` measured; CPU µs per task. */
const round = (mode) => {
  const dir = mkdtempSync(join(tmpdir(), "abathur-submitcpu-"))
  try {
    const { rt, q } = open(join(dir, "q.db"))
    let op, warm, ops, perOp
    if (mode === "submit") {
      let i = 0
      op = () => rt.runSync(q.submit(inputOf(i++)))
      ;[warm, ops, perOp] = [300, 3000, 1]
    } else if (mode === "plan100") {
      let i = 0
      op = () => {
        rt.runSync(q.submitPlan(planOf(100, i)))
        i += 100
      }
      ;[warm, ops, perOp] = [5, 50, 100]
    } else if (mode === "plan10k") {
      let i = 0
      const plans = Array.from({ length: 3 }, (_, r) => planOf(10_000, r * 10_000))
      op = () => rt.runSync(q.submitPlan(plans[i++ % plans.length]))
      ;[warm, ops, perOp] = [1, 2, 10_000]
    } else if (mode === "w2") {
      const plans = Array.from({ length: 3 }, (_, r) => hierarchicalPlan(10_000, 100 + r).plan)
      let i = 0
      op = () => rt.runSync(q.submitPlan(plans[i++ % plans.length]))
      ;[warm, ops, perOp] = [1, 2, 10_000]
    } else throw new Error(`unknown mode ${mode}`)
    for (let i = 0; i < warm; i++) op()
    const t0 = performance.now()
    const cpu0 = process.cpuUsage()
    for (let i = 0; i < ops; i++) op()
    const cpu = process.cpuUsage(cpu0)
    const wall = performance.now() - t0
    rt.runSync(q.status())
    void rt.dispose()
    return { cpu: (cpu.user + cpu.system) / (ops * perOp), rate: (ops * perOp) / (wall / 1000) }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
for (const mode of modes) {
  round(mode) // a first round in the process runs colder (compilation): not counted
  const rs = Array.from({ length: rounds }, () => round(mode))
  const cpus = rs.map((r) => r.cpu)
  console.log(
    `${mode.padEnd(8)} CPU µs/task median ${median(cpus).toFixed(1).padStart(6)} min ${Math.min(...cpus).toFixed(1).padStart(6)}  (${cpus.map((c) => c.toFixed(1)).join(" / ")})  tasks/s ${Math.round(median(rs.map((r) => r.rate)))}  [${root}]`
  )
}
