#!/usr/bin/env node
// CPU per task of one worker's claim + complete in one process (process.cpuUsage: user + system of
// every thread, so a shared machine's load weighs less than on wall-clock rates), through the real
// TaskQueue on one file: `complete` with `next` (one transaction per task, as `abathur work -n 1`
// does) against `completeMany` of 32 with `next` (limit 32: one transaction per 32 tasks). The two
// take turns in rounds, each from the same file.
//
//   npx -y pnpm@10.34.9 --filter "@abathur/bench..." run build && node bench/scripts/cpu.mjs [tasks per round] [rounds]
import { defaultQueueSettings, QueueConfig, TaskQueue } from "@abathur/queue"
import { Database, TaskRepository } from "@abathur/storage"
import { Layer, ManagedRuntime } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

const N = Number(process.argv[2] ?? 2048)
const ROUNDS = Number(process.argv[3] ?? 5)
const BATCH = 32

const dir = mkdtempSync(join(tmpdir(), "abathur-cpu-"))
try {
  const layer = TaskQueue.layer.pipe(
    Layer.provideMerge(TaskRepository.layer),
    Layer.provideMerge(Database.layer({ filename: join(dir, "cpu.db") })),
    Layer.provide(QueueConfig.layer({ limits: defaultQueueSettings.limits })),
    Layer.orDie
  )
  const rt = ManagedRuntime.make(layer)
  const q = await rt.runPromise(TaskQueue)
  const total = 2 * N * (ROUNDS + 1) + 2 * BATCH
  for (let i = 0; i < total; i += 5000) {
    const tasks = Array.from({ length: Math.min(5000, total - i) }, (_, j) => ({
      key: `k${j}`,
      prompt: `task ${i + j} with a prompt of some length`,
      priority: (i + j) % 11
    }))
    rt.runSync(q.submitPlan({ tasks }))
  }
  let one = rt.runSync(q.claim({ worker: "w1" }))
  let held = rt.runSync(q.claimMany({ worker: "w32", limit: BATCH }))
  const single = () => {
    for (let i = 0; i < N; i++) one = rt.runSync(q.complete(one.id, { leaseToken: one.leaseToken, next: { worker: "w1" } })).next
  }
  const batched = () => {
    for (let i = 0; i < N; i += BATCH) {
      const k = Math.min(BATCH, N - i)
      const items = held.slice(0, k).map((t) => ({ id: t.id, leaseToken: t.leaseToken }))
      held = [...held.slice(k), ...rt.runSync(q.completeMany(items, { next: { worker: "w32", limit: k } })).next]
    }
  }
  /** CPU (µs) and wall time (ms) of `f`. */
  const measure = (f) => {
    const c0 = process.cpuUsage()
    const t0 = performance.now()
    f()
    const c = process.cpuUsage(c0)
    return { cpu: c.user + c.system, wall: performance.now() - t0 }
  }
  single()
  batched() // warm-up round
  const rows = { single: [], batched: [] }
  for (let r = 0; r < ROUNDS; r++) {
    rows.single.push(measure(single))
    rows.batched.push(measure(batched))
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
  console.log(`| one worker, ${N} tasks per round, ${ROUNDS} rounds in turns | CPU µs per task (median) | tasks/s (median) |`)
  console.log("|---|---:|---:|")
  for (const [name, ms] of Object.entries(rows)) {
    const what = name === "single" ? "complete with next (a transaction per task)" : `completeMany of ${BATCH} with next (limit ${BATCH})`
    console.log(`| ${what} | ${(median(ms.map((m) => m.cpu)) / N).toFixed(0)} | ${Math.round(N / (median(ms.map((m) => m.wall)) / 1000))} |`)
  }
  await rt.dispose()
} finally {
  rmSync(dir, { recursive: true, force: true })
}
