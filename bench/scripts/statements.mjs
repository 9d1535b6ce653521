#!/usr/bin/env node
// The SQL one operation runs, statement by statement: how many times per operation and the time
// spent in each (better-sqlite3's run/get/all/iterate wrapped), through the real TaskQueue on one
// file. Says which statement of a cycle costs what; the rest of the CPU per operation is JS.
//
//   npx -y pnpm@10.34.9 --filter "@abathur/bench..." run build
//   node bench/scripts/statements.mjs [next|claim|submit|plan] [operations]
//
// next: complete with `next` (one transaction per task, as `abathur work` does); claim: claim, then
// complete, two transactions; submit: single submits; plan: plans of 100 independent tasks (per task).
import BetterSqlite3 from "better-sqlite3"

const probe = new BetterSqlite3(":memory:")
const statementProto = Object.getPrototypeOf(probe.prepare("SELECT 1"))
probe.close()
const spent = new Map()
let recording = false
const record = (key, started, rows) => {
  const e = spent.get(key) ?? { calls: 0, ns: 0n, rows: 0 }
  e.calls++
  e.rows += rows
  e.ns += process.hrtime.bigint() - started
  spent.set(key, e)
}
for (const method of ["run", "get", "all", "iterate"]) {
  const original = statementProto[method]
  statementProto[method] = function (...args) {
    if (!recording) return original.apply(this, args)
    const started = process.hrtime.bigint()
    const out = original.apply(this, args)
    record(this.source.replace(/\s+/g, " "), started, Array.isArray(out) ? out.length : out === undefined ? 0 : 1)
    return out
  }
}
const originalExec = BetterSqlite3.prototype.exec
BetterSqlite3.prototype.exec = function (sql) {
  if (!recording) return originalExec.call(this, sql)
  const started = process.hrtime.bigint()
  const out = originalExec.call(this, sql)
  record(`exec: ${sql.replace(/\s+/g, " ")}`, started, 0)
  return out
}

const { join } = await import("node:path")
const { loadBuild, openQueue, planOf, seedReady, withTempDir } = await import("./queue.mjs")

const mode = process.argv[2] ?? "next"
const N = Number(process.argv[3] ?? 2000)
await withTempDir("statements", async (dir) => {
  const { rt, q } = openQueue(await loadBuild(), join(dir, "statements.db"))
  let operation
  if (mode === "submit") {
    let i = 0
    operation = () => rt.runSync(q.submit({ prompt: `task ${i++} with a prompt of some length`, priority: i % 11 }))
  } else if (mode === "plan") {
    let i = 0
    operation = () => {
      rt.runSync(q.submitPlan(planOf(100, i)))
      i += 100
    }
  } else {
    seedReady({ rt, q }, 3 * N + 400)
    let held = rt.runSync(q.claim({ worker: "w1" }))
    operation =
      mode === "next"
        ? () => {
            held = rt.runSync(q.complete(held.id, { leaseToken: held.leaseToken, next: { worker: "w1" } })).next
          }
        : () => {
            rt.runSync(q.complete(held.id, { leaseToken: held.leaseToken }))
            held = rt.runSync(q.claim({ worker: "w1" }))
          }
  }
  const ops = mode === "plan" ? Math.max(1, Math.round(N / 100)) : N
  const perTask = mode === "plan" ? 100 : 1
  for (let i = 0; i < Math.min(200, ops); i++) operation() // warm-up
  recording = true
  const cpu0 = process.cpuUsage()
  for (let i = 0; i < ops; i++) operation()
  const cpu = process.cpuUsage(cpu0)
  recording = false
  const per = ops * perTask
  let total = 0n
  console.log(`| ${mode}: per ${mode === "plan" ? "task (plans of 100)" : "operation"} | calls | rows | µs | statement |`)
  console.log("|---|---:|---:|---:|---|")
  for (const [sql, e] of [...spent].sort((a, b) => Number(b[1].ns - a[1].ns))) {
    total += e.ns
    console.log(
      `| | ${(e.calls / per).toFixed(2)} | ${(e.rows / per).toFixed(2)} | ${(Number(e.ns) / per / 1000).toFixed(1)} | ${sql.slice(0, 160)} |`
    )
  }
  console.log(
    `\nin statements: ${(Number(total) / per / 1000).toFixed(0)} µs; CPU (user + system, every thread): ${((cpu.user + cpu.system) / per).toFixed(0)} µs per ${perTask === 1 ? "operation" : "task"}`
  )
  await rt.dispose()
})
