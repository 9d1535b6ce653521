#!/usr/bin/env node
// CPU per submitted task through the real TaskQueue on SQLite, for one build of the packages:
// single submits, plans of 100 and of 10,000 independent tasks (the PEERS shape), and W2's plan
// (hierarchy + edges). Takes the root of a build (a folder holding packages/<name>/dist, such as
// a copy of a clean build) so that two builds can be measured in alternating runs.
//
//   npx -y pnpm@10.34.9 --filter "@abathur/bench..." run build
//   node bench/scripts/submitcpu.mjs [root] [modes] [rounds]
//
// root: default this worktree (several, comma-separated: alternating rounds in one process); modes: comma-separated of submit,plan100,plan10k,w2 (default all);
// rounds: default 3 (after one uncounted round). Prints per mode the CPU (user + system, every
// thread) per task of each round, their median and minimum, each round on a fresh file. The
// machine is shared: compare two builds in one run, their rounds alternating, e.g.
//   node bench/scripts/submitcpu.mjs /tmp/base,. submit,plan10k 9
import { join, resolve } from "node:path"
import { pathToFileURL } from "node:url"
import { here, loadBuild, median, openQueue, withTempDir } from "./queue.mjs"

// One root, or several separated by commas: their rounds then alternate in this one process (the
// fairest comparison on a shared machine: the builds take turns within the same seconds).
const roots = (process.argv[2] ?? here).split(",").map((r) => resolve(r))
const modes = (process.argv[3] ?? "submit,plan100,plan10k,w2").split(",")
const rounds = Number(process.argv[4] ?? 3)

const { hierarchicalPlan } = await import(pathToFileURL(join(here, "bench", "dist", "seed.js")).href)
const builds = []
for (const root of roots) builds.push(await loadBuild(root))

const SOURCES = ["human", "agent_requirements", "agent_planner", "agent_implementation"]
const inputOf = (i) => ({ prompt: `independent task ${i}: write the unit tests of one module`, priority: i % 11, source: SOURCES[i % 4] })
const planOf = (n, from) => ({ tasks: Array.from({ length: n }, (_, j) => ({ key: `t${j}`, ...inputOf(from + j) })) })

/** One round: `warm` operations, then `ops` measured; CPU µs per task. */
const round = (b, mode) =>
  withTempDir("submitcpu", (dir) => {
    const { rt, q } = openQueue(b, join(dir, "q.db"))
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
  })

for (const mode of modes) {
  // A first round per build runs colder (compilation): not counted.
  for (const b of builds) await round(b, mode)
  const rs = builds.map(() => [])
  for (let r = 0; r < rounds; r++) for (let i = 0; i < builds.length; i++) rs[i].push(await round(builds[i], mode))
  builds.forEach((b, i) => {
    const cpus = rs[i].map((r) => r.cpu)
    console.log(
      `${mode.padEnd(8)} CPU µs/task median ${median(cpus).toFixed(1).padStart(6)} min ${Math.min(...cpus)
        .toFixed(1)
        .padStart(6)}  (${cpus.map((c) => c.toFixed(1)).join(" / ")})  tasks/s ${Math.round(median(rs[i].map((r) => r.rate)))}  [${b.root}]`
    )
  })
}
