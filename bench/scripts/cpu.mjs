#!/usr/bin/env node
// CPU per task of one worker's claim + complete in one process (process.cpuUsage: user + system of
// every thread, so a shared machine's load weighs less than on wall-clock rates), through the real
// TaskQueue on one file: `complete` with `next` (one transaction per task, as `abathur work -n 1`
// does) against `completeMany` of 32 with `next` (limit 32: one transaction per 32 tasks). The two
// take turns in rounds, each from the same file.
//
//   npx -y pnpm@10.34.9 --filter "@abathur/bench..." run build && node bench/scripts/cpu.mjs [tasks per round] [rounds]
import { join } from "node:path"
import { loadBuild, measure, median, openQueue, seedReady, withTempDir } from "./queue.mjs"

const N = Number(process.argv[2] ?? 2048)
const ROUNDS = Number(process.argv[3] ?? 5)
const BATCH = 32

await withTempDir("cpu", async (dir) => {
  const { rt, q } = openQueue(await loadBuild(), join(dir, "cpu.db"))
  seedReady({ rt, q }, 2 * N * (ROUNDS + 1) + 2 * BATCH)
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
  single()
  batched() // warm-up round
  const rows = { single: [], batched: [] }
  for (let r = 0; r < ROUNDS; r++) {
    rows.single.push(measure(single))
    rows.batched.push(measure(batched))
  }
  console.log(`| one worker, ${N} tasks per round, ${ROUNDS} rounds in turns | CPU µs per task (median) | tasks/s (median) |`)
  console.log("|---|---:|---:|")
  for (const [name, ms] of Object.entries(rows)) {
    const what = name === "single" ? "complete with next (a transaction per task)" : `completeMany of ${BATCH} with next (limit ${BATCH})`
    console.log(`| ${what} | ${(median(ms.map((m) => m.cpu)) / N).toFixed(0)} | ${Math.round(N / (median(ms.map((m) => m.wall)) / 1000))} |`)
  }
  await rt.dispose()
})
