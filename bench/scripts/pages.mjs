#!/usr/bin/env node
// Pages written per operation (WAL frames), through the real TaskQueue, for schema variants of one
// run, and plainjob's for comparison. Deterministic (page counts do not depend on the machine's
// load, unlike rates): it says what each index and trigger costs a write.
//
//   npx -y pnpm@10.34.9 --filter "@abathur/bench..." run build && node bench/scripts/pages.mjs [ops] [seeded]
//
// Each variant: a fresh file migrated to the latest schema, then the variant's DDL; `seeded` READY
// tasks (plans of 5,000, a third of agent type "coder"); then, each from an empty WAL (TRUNCATE
// checkpoint, automatic checkpoints off): `ops` single submits, one plan of `ops` tasks, `ops`
// completions with `next` (the next claim in the same transaction, as `abathur work` does), and
// `ops` tasks completed by `completeMany` in batches of 32 with `next` (limit 32).
import BetterSqlite3 from "better-sqlite3"
import { statSync } from "node:fs"
import { join } from "node:path"
import { better, defineQueue } from "plainjob"
import { loadBuild, openQueue, seedReady, withTempDir } from "./queue.mjs"

const N = Number(process.argv[2] ?? 2000)
const SEEDED = Number(process.argv[3] ?? 20000)
const OPEN = "('pending', 'blocked', 'ready', 'running')"
const variants = {
  "schema v4's indexes": [
    "CREATE INDEX idx_tasks_status_submitted ON tasks(status, submitted_at)",
    "DROP INDEX idx_tasks_open_depth",
    `CREATE INDEX idx_tasks_open_depth ON tasks(dependency_depth) WHERE status IN ${OPEN}`
  ],
  "v4 less idx_tasks_status_submitted": [
    "DROP INDEX idx_tasks_open_depth",
    `CREATE INDEX idx_tasks_open_depth ON tasks(dependency_depth) WHERE status IN ${OPEN}`
  ],
  "v5 (both levers)": [],
  "v5 less idx_task_audit_task": ["DROP INDEX idx_task_audit_task"],
  "v5 less idx_tasks_ready_agent_rank": ["DROP INDEX idx_tasks_ready_agent_rank"],
  "v5 less seed idx_tasks_ready_priority": ["DROP INDEX idx_tasks_ready_priority"],
  "v5 less the task_stats triggers": ["DROP TRIGGER trg_task_stats_update", "DROP TRIGGER trg_task_stats_insert"],
  "v5 less all four": [
    "DROP INDEX idx_task_audit_task",
    "DROP INDEX idx_tasks_ready_agent_rank",
    "DROP INDEX idx_tasks_ready_priority",
    "DROP TRIGGER trg_task_stats_update",
    "DROP TRIGGER trg_task_stats_insert"
  ]
}

/** Pages `f` wrote to the WAL (from an empty one; automatic checkpoints are off). */
const pages = (db, f) => {
  db.pragma("wal_checkpoint(TRUNCATE)")
  f()
  const bytes = statSync(`${db.name}-wal`).size
  return Math.max(0, bytes - 32) / (db.pragma("page_size", { simple: true }) + 24)
}
const BATCH = 32
const line = (name, submit, plan, cycle, cycleWhat, batch) =>
  console.log(
    `| ${name} | ${(submit / N).toFixed(1)} | ${(plan / N).toFixed(2)} | ${(cycle / N).toFixed(1)} ${cycleWhat} | ${batch === null ? "no batch API" : (batch / N).toFixed(2)} |`
  )

console.log(
  `| schema | pages per single submit | pages per task of a ${N}-task plan | pages per claim + complete | pages per task, completeMany of ${BATCH} with next |`
)
console.log("|---|---:|---:|---:|---:|")
const build = await loadBuild()
await withTempDir("pages", async (dir) => {
  let k = 0
  for (const [name, ddl] of Object.entries(variants)) {
    const file = join(dir, `v${++k}.db`)
    const raw = new BetterSqlite3(file)
    raw.pragma("journal_mode = WAL")
    build.migrate(raw, { backup: false })
    for (const s of ddl) raw.exec(s)
    raw.close()
    const { rt, q, db } = openQueue(build, file, { backgroundCheckpoint: false })
    db.pragma("wal_autocheckpoint = 0")
    seedReady({ rt, q }, SEEDED, (i) => (i % 3 === 0 ? "coder" : "general"))
    const submit = pages(db, () => {
      for (let j = 0; j < N; j++) rt.runSync(q.submit({ prompt: `single ${j} with a prompt of some length`, priority: j % 11 }))
    })
    const plan = pages(db, () =>
      rt.runSync(
        q.submitPlan({
          tasks: Array.from({ length: N }, (_, j) => ({ key: `p${j}`, prompt: `plan ${j} with a prompt of some length`, priority: j % 11 }))
        })
      )
    )
    let c = rt.runSync(q.claim({ worker: "w" }))
    const cycle = pages(db, () => {
      for (let i = 0; i < N; i++) c = rt.runSync(q.complete(c.id, { leaseToken: c.leaseToken, next: { worker: "w" } })).next
    })
    let held = rt.runSync(q.claimMany({ worker: "w", limit: BATCH }))
    const batch = pages(db, () => {
      for (let i = 0; i < N; i += BATCH) {
        const k = Math.min(BATCH, N - i)
        const items = held.slice(0, k).map((t) => ({ id: t.id, leaseToken: t.leaseToken }))
        held = [...held.slice(k), ...rt.runSync(q.completeMany(items, { next: { worker: "w", limit: k } })).next]
      }
    })
    line(name, submit, plan, cycle, "(one transaction)", batch)
    await rt.dispose()
  }
  const db = new BetterSqlite3(join(dir, "plainjob.db"))
  db.pragma("journal_mode = WAL")
  db.pragma("synchronous = NORMAL")
  db.pragma("wal_autocheckpoint = 0")
  const silent = { error() {}, warn() {}, info() {}, debug() {} }
  const pj = defineQueue({ connection: better(db), logger: silent })
  pj.addMany(
    "b",
    Array.from({ length: SEEDED }, (_, j) => ({ prompt: `task ${j} with a prompt of some length` }))
  )
  const submit = pages(db, () => {
    for (let j = 0; j < N; j++) pj.add("b", { prompt: `single ${j} with a prompt of some length` })
  })
  const plan = pages(db, () =>
    pj.addMany(
      "b",
      Array.from({ length: N }, (_, j) => ({ prompt: `plan ${j} with a prompt of some length` }))
    )
  )
  const cycle = pages(db, () => {
    for (let i = 0; i < N; i++) pj.markJobAsDone(pj.getAndMarkJobAsProcessing("b").id)
  })
  line("plainjob 0.0.14 (add, addMany, getAndMarkJobAsProcessing + markJobAsDone)", submit, plan, cycle, "(two transactions)", null)
  pj.close()
})
