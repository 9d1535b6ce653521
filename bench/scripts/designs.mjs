#!/usr/bin/env node
// Issue 13: which schema could reach the targets? plainjob, a bare job table, today's schema as plain
// SQL (the floor) and candidate schema designs as plain SQL, measured in one run, in turns.
//
//   npx -y pnpm@10.34.9 --filter "@abathur/bench..." run build
//   cd bench && node scripts/designs.mjs [submits=10000] [plan=10000] [cycles=20000] [reps=3] [pages=1000]
//   cd bench && node scripts/designs.mjs ablate [submits] [plan] [cycles] [reps] [pages]
//
// About five minutes on 2 shared cores with the defaults; `node scripts/designs.mjs 1000 1000 2000 3 300` is a smoke test.
//
// Every side runs on a file of its own (WAL, synchronous=NORMAL, foreign keys on as Database.layer
// sets them) in this one process. The designs are plain SQL without the engine, each doing what
// Abathur must do per task: the seed's columns and six indexes somewhere, an audit row per state
// change, per-status counts (O(1) status), the claim order by rank (the two class heads, with the
// agent-type index kept), the lease expiry and due-refresh lookups of every claim, edges resolved at
// each completion, and the hierarchy counters only for tasks with a parent (none here).
//
// Workloads (each side in turns, slices of a tenth, median of `reps` repetitions; the operations of
// submits and cycles are split among the repetitions, a plan is one call of `plan` tasks per repetition):
// - `submits` single submits, one transaction each (plainjob `add`);
// - one call of `plan` independent tasks, one transaction (plainjob `addMany`);
// - `cycles` claim + complete, one transaction per cycle with the next claim inside it (plainjob
//   has no such API: its figure is its two-transaction loop, getAndMarkJobAsProcessing + markJobAsDone);
// - `cycles` claim + complete in two transactions (claim, then complete);
// - `cycles` tasks in batches of 32: complete 32 held tasks and claim 32 more in one transaction
//   (plainjob: its per-task loop again).
// CPU per operation is process.cpuUsage() (user + system) over the timed slices; every side is
// synchronous on this thread. WAL pages per operation are counted afterwards, `pages` operations
// of each kind from an empty WAL (checkpoint TRUNCATE, automatic checkpoints off), as pages.mjs does.
import { migrate } from "@abathur/schema"
import BetterSqlite3 from "better-sqlite3"
import { mkdtempSync, rmSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { better, defineQueue } from "plainjob"

const ABLATE = process.argv[2] === "ablate"
const args = process.argv.slice(ABLATE ? 3 : 2)
const arg = (i, d) => Number(args[i] ?? d)
const N_SUBMIT = arg(0, 10_000)
const N_PLAN = arg(1, 10_000)
const N_CYCLE = arg(2, 20_000)
const REPS = arg(3, 3)
const N_PAGES = arg(4, 1000)
const BATCH = 32
const SOURCES = ["human", "agent_requirements", "agent_planner", "agent_implementation"]
const LEASE_MS = 3_600_000
const REFRESH_MS = 3_600_000

// ---------------------------------------------------------------------------------------------
// Inputs

let seq = 0
const input = () => {
  const i = seq++
  const prompt = `independent task ${i}: write the unit tests of one module`
  return {
    prompt,
    priority: (i * 7) % 11,
    source: SOURCES[(i * 13) % 4],
    agentType: i % 3 === 0 ? "coder" : "general"
  }
}
const inputs = (n) => Array.from({ length: n }, input)
const iso = (ms) => new Date(ms).toISOString()

const open = (file) => {
  const db = new BetterSqlite3(file)
  db.pragma("journal_mode = WAL")
  db.pragma("synchronous = NORMAL")
  db.pragma("busy_timeout = 5000")
  return db
}

// ---------------------------------------------------------------------------------------------
// Peers: plainjob through its API, the bare job table of bench/src/workloads/peers.ts.

const silent = { error() {}, warn() {}, info() {}, debug() {} }
const plainjobSide = (file) => {
  const db = open(file)
  const pj = defineQueue({ connection: better(db), logger: silent })
  const cycle = () => {
    const job = pj.getAndMarkJobAsProcessing("bench")
    if (job === undefined) throw new Error("plainjob: the queue ran dry")
    pj.markJobAsDone(job.id)
  }
  return {
    db,
    submit: (t) => void pj.add("bench", { prompt: t.prompt }),
    submitMany: (ts) =>
      void pj.addMany(
        "bench",
        ts.map((t) => ({ prompt: t.prompt }))
      ),
    // No complete-and-claim-next, no batches: every cycle row runs its two-transaction loop.
    cycleNext: cycle,
    cycleTwo: cycle,
    batch: (k) => {
      for (let i = 0; i < k; i++) cycle()
    },
    close: () => pj.close()
  }
}

const bareSide = (file) => {
  const db = open(file)
  db.exec(`
    CREATE TABLE jobs (id INTEGER PRIMARY KEY, payload TEXT NOT NULL, priority INTEGER NOT NULL,
      status INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL);
    CREATE INDEX jobs_ready ON jobs(priority DESC, id) WHERE status = 0;`)
  const insert = db.prepare("INSERT INTO jobs (payload, priority, created_at) VALUES (?, ?, ?)")
  const claimUpTo = db
    .prepare(
      `UPDATE jobs SET status = 1 WHERE id IN (SELECT id FROM jobs WHERE status = 0 ORDER BY priority DESC, id LIMIT ?)
       RETURNING id, payload`
    )
    .raw()
  const complete = db.prepare("UPDATE jobs SET status = 2 WHERE id = ? AND status = 1")
  const claim = () => {
    const row = claimUpTo.get(1)
    if (row === undefined) throw new Error("bare: the queue ran dry")
    return row[0]
  }
  const done = (id) => {
    if (complete.run(id).changes !== 1) throw new Error(`bare: job ${id} is not running`)
  }
  const add = (t) => insert.run(JSON.stringify({ prompt: t.prompt }), t.priority, Date.now())
  let current = null
  let held = []
  const next = db.transaction(() => {
    done(current)
    current = claim()
  })
  const batch = db.transaction((k) => {
    for (const id of held.slice(0, k)) done(id)
    held = [...held.slice(k), ...claimUpTo.all(k).map((r) => r[0])]
  })
  return {
    db,
    submit: add,
    submitMany: db.transaction((ts) => {
      for (const t of ts) add(t)
    }).immediate,
    cycleNext: () => {
      if (current === null) current = claim()
      next.immediate()
    },
    cycleTwo: () => done(claim()),
    batch: (k) => {
      if (held.length < BATCH) held = [...held, ...claimUpTo.all(BATCH - held.length).map((r) => r[0])]
      batch.immediate(k)
    },
    close: () => db.close()
  }
}

// ---------------------------------------------------------------------------------------------
// Schemas. `today` is the migrated schema (v5) as `migrate` leaves it; the candidates change it.

const INT_KEY_TASKS = (sql) => {
  const out = sql
    .replace("id TEXT PRIMARY KEY,", "rid INTEGER PRIMARY KEY,\n  id TEXT NOT NULL,")
    .replace("parent_task_id TEXT REFERENCES tasks(id)", "parent_task_id INTEGER REFERENCES tasks(rid)")
    .replace("parent_task_id != id)", "parent_task_id != rid)")
    .replace(/,\s*CHECK\(parent_task_id IS NULL/, ", audit_head INTEGER,\n  CHECK(parent_task_id IS NULL")
  if (!out.includes("rid INTEGER PRIMARY KEY") || !out.includes("audit_head") || !out.includes("tasks(rid)"))
    throw new Error("designs: the tasks table of the migrated schema changed; update INT_KEY_TASKS")
  return out
}

/** The narrow queue table of designs A and D: READY and RUNNING tasks only. */
const TASK_QUEUE = `
CREATE TABLE task_queue (
  qid INTEGER PRIMARY KEY,            -- the task's rowid in tasks
  running INTEGER NOT NULL DEFAULT 0, -- 0 READY, 1 RUNNING
  starved INTEGER NOT NULL DEFAULT 0,
  rank REAL,                          -- NULL: waits for not_before (due_at)
  agent_type TEXT NOT NULL,
  submitted_at TEXT NOT NULL,
  due_at TEXT,                        -- READY: next priority refresh (or not_before); RUNNING: lease expiry
  lease_token TEXT,
  worker_id TEXT,
  started_at TEXT,
  audit_head INTEGER                  -- design D: the newest audit row while the task is open
);
CREATE INDEX idx_queue_ready_rank ON task_queue(starved, rank DESC, submitted_at) WHERE running = 0;
CREATE INDEX idx_queue_ready_agent_rank ON task_queue(agent_type, starved, rank DESC, submitted_at) WHERE running = 0;
CREATE INDEX idx_queue_due ON task_queue(running, due_at);
`
/**
 * Design E's hot tables: READY tasks keyed by the claim order itself (a WITHOUT ROWID table, so the
 * claim index is the table), the agent-type order and the refresh times as its two indexes, and
 * RUNNING tasks in a table of their own (one row per held lease: its lease expiry lookup reads it whole).
 */
const LEAN_QUEUE = `
CREATE TABLE task_ready (
  starved INTEGER NOT NULL,
  rank REAL NOT NULL,
  submitted_at TEXT NOT NULL,
  rid INTEGER NOT NULL,
  agent_type TEXT NOT NULL,
  refresh_at TEXT,
  audit_head INTEGER,
  PRIMARY KEY (starved, rank DESC, submitted_at, rid)
) WITHOUT ROWID;
CREATE INDEX idx_ready_agent_rank ON task_ready(agent_type, starved, rank DESC, submitted_at);
CREATE INDEX idx_ready_refresh ON task_ready(refresh_at);
CREATE TABLE task_running (
  rid INTEGER PRIMARY KEY,
  lease_expires_at TEXT NOT NULL,
  lease_token TEXT NOT NULL,
  worker_id TEXT,
  started_at TEXT NOT NULL,
  rank REAL NOT NULL,
  audit_head INTEGER
);
`
const STATS_TRIGGERS = ["trg_task_stats_insert", "trg_task_stats_update", "trg_task_stats_delete"]
const CHAIN_AUDIT = `
CREATE TABLE task_audit (id INTEGER PRIMARY KEY, task_id INTEGER NOT NULL, prev_id INTEGER, from_status TEXT,
  to_status TEXT NOT NULL, at TEXT NOT NULL, actor TEXT, reason TEXT)`
const INT_EDGES = `
CREATE TABLE task_dependencies (
  id INTEGER PRIMARY KEY,
  dependent_task_id INTEGER NOT NULL REFERENCES tasks(rid) ON DELETE CASCADE,
  prerequisite_task_id INTEGER NOT NULL REFERENCES tasks(rid) ON DELETE CASCADE,
  dependency_type TEXT NOT NULL DEFAULT 'sequential' CHECK(dependency_type IN ('sequential', 'parallel')),
  created_at TEXT NOT NULL,
  resolved_at TEXT,
  on_failure TEXT NOT NULL DEFAULT 'cancel' CHECK (on_failure IN ('cancel', 'ignore')),
  CHECK(dependent_task_id != prerequisite_task_id),
  UNIQUE(dependent_task_id, prerequisite_task_id)
)`

/** Indexes that move from tasks to task_queue in A and D (claim order, leases, refreshes, oldest READY, not_before). */
const MOVED_TO_QUEUE = [
  "idx_tasks_ready_rank",
  "idx_tasks_ready_agent_rank",
  "idx_tasks_lease_expiry",
  "idx_tasks_priority_refresh",
  "idx_tasks_ready_submitted",
  "idx_tasks_not_before"
]

/**
 * Builds a design's schema on a migrated file: `key` "uuid" (today's TEXT primary key) or "int"
 * (INTEGER rowid key, the uuid a plain column), `queue` (the narrow task_queue), `audit` "index"
 * (today's task_audit with idx_task_audit_task and its foreign key) or "chain" (per-task chains:
 * prev_id, the head on the task or queue row), `counts` "trigger" (today) or "engine" (one UPDATE
 * per status per transaction), `parentPartial` (idx_tasks_parent only where a parent is set),
 * `seedReadyIsClaim` (the seed's idx_tasks_ready_priority is the claim order; idx_tasks_ready_rank goes).
 */
const buildSchema = (db, d) => {
  migrate(db, { backup: false })
  db.pragma("foreign_keys = OFF")
  const indexSql = (table) =>
    db
      .prepare("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL")
      .all(table)
      .map((r) => [r.name, r.sql])
  db.transaction(() => {
    if (d.key === "int") {
      const tasksSql = db.prepare("SELECT sql FROM sqlite_master WHERE name = 'tasks'").get().sql
      const taskIndexes = indexSql("tasks")
      const edgeIndexes = indexSql("task_dependencies")
      db.exec("DROP TABLE task_dependencies; DROP TABLE task_audit; DROP TABLE tasks")
      db.exec(INT_KEY_TASKS(tasksSql))
      for (const [, sql] of taskIndexes) db.exec(sql)
      db.exec(INT_EDGES)
      for (const [, sql] of edgeIndexes) db.exec(sql)
    }
    if (d.audit === "chain") {
      db.exec("DROP TABLE IF EXISTS task_audit")
      db.exec(CHAIN_AUDIT)
    }
    if (d.counts === "engine") for (const t of STATS_TRIGGERS) db.exec(`DROP TRIGGER IF EXISTS ${t}`)
    if (d.queue) {
      for (const i of MOVED_TO_QUEUE) db.exec(`DROP INDEX ${i}`)
      db.exec(TASK_QUEUE)
    }
    if (d.parentPartial)
      db.exec("DROP INDEX idx_tasks_parent; CREATE INDEX idx_tasks_parent ON tasks(parent_task_id) WHERE parent_task_id IS NOT NULL")
    if (d.seedReadyIsClaim)
      db.exec(`DROP INDEX idx_tasks_ready_rank; DROP INDEX idx_tasks_ready_priority;
        CREATE INDEX idx_tasks_ready_priority ON tasks(priority_starved, priority_rank DESC, submitted_at ASC) WHERE status = 'ready'`)
    if (d.lean) {
      for (const i of MOVED_TO_QUEUE) db.exec(`DROP INDEX ${i}`)
      db.exec(LEAN_QUEUE)
    }
  }).immediate()
  db.pragma("foreign_keys = ON")
  const fk = db.pragma("foreign_key_check")
  if (fk.length > 0) throw new Error(`designs: foreign key check failed: ${JSON.stringify(fk)}`)
}

/**
 * The sides on Abathur's schema (BENCHMARKS.md, "Schema designs beside plainjob", says why each):
 * - today: schema v5 as `migrate` leaves it;
 * - A: a narrow task_queue (READY and RUNNING rows) that claims and completions write; tasks written at
 *   submit and at the end (its status stays 'ready' while the task runs);
 * - B: an INTEGER rowid key (the uuid a plain column), audit as per-task chains, counts by the engine;
 * - C: B with the seed's READY index as the claim order and the parent index partial;
 * - D: A on B's table; E: D with READY rows keyed by the claim order and RUNNING rows apart (leanSide).
 */
const DESIGNS = {
  today: { key: "uuid", queue: false, audit: "index", counts: "trigger" },
  A: { key: "uuid", queue: true, audit: "index", counts: "engine" },
  B: { key: "int", queue: false, audit: "chain", counts: "engine" },
  C: { key: "int", queue: false, audit: "chain", counts: "engine", parentPartial: true, seedReadyIsClaim: true },
  D: { key: "int", queue: true, audit: "chain", counts: "engine", parentPartial: true },
  E: { key: "int", queue: false, audit: "chain", counts: "engine", parentPartial: true, lean: true }
}

// ---------------------------------------------------------------------------------------------
// The designs' plain SQL

const designSide = (file, d) => {
  const db = open(file)
  buildSchema(db, d)
  const int = d.key === "int"
  const K = int ? "rid" : "id" // how a task row is addressed by the side
  const chain = d.audit === "chain"
  const engineCounts = d.counts === "engine"

  // Per-status counts and priority sums, one UPDATE per status per transaction (engine counts).
  const bump = db.prepare("UPDATE task_stats SET task_count = task_count + ?, priority_sum = priority_sum + ? WHERE status = ?")
  const delta = new Map()
  const count = (status, n, pri) => {
    if (!engineCounts) return
    const e = delta.get(status) ?? [0, 0]
    e[0] += n
    e[1] += pri
    delta.set(status, e)
  }
  const flush = () => {
    for (const [status, [n, pri]] of delta) if (n !== 0 || pri !== 0) bump.run(n, pri, status)
    delta.clear()
  }
  const tx = (f) => {
    const t = db.transaction((...a) => {
      const out = f(...a)
      flush()
      return out
    })
    return t.immediate
  }

  const cols = `id, prompt, summary, agent_type, priority, status, input_data, source, submitted_at, last_updated_at,
    calculated_priority, priority_rank, priority_starved, priority_refresh_at${chain && !d.queue ? ", audit_head" : ""}`
  const insertTask = db.prepare(
    `INSERT INTO tasks (${cols}) VALUES (?, ?, ?, ?, ?, 'ready', '{}', ?, ?, ?, ?, ?, 0, ?${chain && !d.queue ? ", ?" : ""}) RETURNING rowid AS r`
  )
  const insertQueue = d.queue
    ? db.prepare("INSERT INTO task_queue (qid, agent_type, rank, submitted_at, due_at, audit_head) VALUES (?, ?, ?, ?, ?, ?)")
    : null
  const auditIndex = chain
    ? null
    : db.prepare("INSERT INTO task_audit (task_id, from_status, to_status, at, actor, reason) VALUES (?, ?, ?, ?, ?, NULL)")
  const auditChain = chain
    ? db.prepare("INSERT INTO task_audit (task_id, prev_id, from_status, to_status, at, actor, reason) VALUES (?, ?, ?, ?, ?, ?, NULL) RETURNING id")
    : null
  /** Appends an audit row; returns its id (the new chain head) when chained. */
  const audit = (taskKey, prev, from, to, at, actor) =>
    chain ? auditChain.get(taskKey, prev, from, to, at, actor).id : void auditIndex.run(taskKey, from, to, at, actor)
  // The next audit id, for a submit whose task row holds its head (B, C): read once per transaction.
  const maxAudit = db.prepare("SELECT coalesce(max(id), 0) AS m FROM task_audit").pluck()

  const submitRow = (t, now, nextAudit) => {
    const at = iso(now)
    const pri = t.priority * 10
    const uuid = crypto.randomUUID()
    const refresh = iso(now + REFRESH_MS)
    if (d.queue) {
      // The wide row (its rank, refresh and lease columns unused: they live in task_queue while open).
      const r = insertTask.get(uuid, t.prompt, t.prompt, t.agentType, t.priority, t.source, at, at, pri, null, null).r
      const head = audit(int ? r : uuid, null, null, "ready", at, "bench")
      insertQueue.run(r, t.agentType, pri, at, refresh, chain ? head : null)
    } else if (chain) {
      const head = nextAudit()
      const r = insertTask.get(uuid, t.prompt, t.prompt, t.agentType, t.priority, t.source, at, at, pri, pri, refresh, head).r
      const got = audit(r, null, null, "ready", at, "bench")
      if (got !== head) throw new Error("designs: audit ids out of step")
    } else {
      insertTask.get(uuid, t.prompt, t.prompt, t.agentType, t.priority, t.source, at, at, pri, pri, refresh)
      audit(uuid, null, null, "ready", at, "bench")
    }
    count("ready", 1, pri)
  }
  const auditCounter = () => {
    let next = maxAudit.get() + 1
    return () => next++
  }

  // ---- claim ------------------------------------------------------------------------------------
  // Every claim reads expired leases and due refreshes (none here) and the head of each rank class.
  let claimOne
  let recover
  if (d.queue) {
    const expired = db.prepare("SELECT qid FROM task_queue WHERE running = 1 AND due_at <= ? ORDER BY due_at").pluck()
    const due = db.prepare("SELECT qid, rank, starved FROM task_queue WHERE running = 0 AND due_at <= ? ORDER BY due_at LIMIT 100")
    const head = db.prepare(
      `SELECT qid, rank, submitted_at FROM task_queue INDEXED BY idx_queue_ready_rank
       WHERE running = 0 AND starved = ? AND rank IS NOT NULL ORDER BY rank DESC, submitted_at LIMIT 1`
    )
    const take = db.prepare(
      `UPDATE task_queue SET running = 1, due_at = ?, lease_token = ?, worker_id = ?, started_at = ?${chain ? ", audit_head = ?" : ""}
       WHERE qid = ? AND running = 0 RETURNING rank`
    )
    const headOf = chain ? db.prepare("SELECT audit_head FROM task_queue WHERE qid = ?").pluck() : null
    const row = db.prepare(`SELECT * FROM tasks WHERE ${int ? "rid" : "rowid"} = ?`)
    recover = (at) => {
      expired.all(at)
      due.all(at)
    }
    claimOne = (now) => {
      const at = iso(now)
      const h0 = head.get(0)
      const h1 = head.get(1)
      const h = h1 ?? h0
      if (h === undefined) throw new Error("designs: the queue ran dry")
      const token = crypto.randomUUID()
      const task = row.get(h.qid)
      let newHead = null
      if (chain) newHead = audit(h.qid, headOf.get(h.qid), "ready", "running", at, "bench")
      else audit(task.id, null, "ready", "running", at, "bench")
      const pri = take.get(iso(now + LEASE_MS), token, "bench", at, ...(chain ? [newHead] : []), h.qid).rank
      count("ready", -1, -pri)
      count("running", 1, pri)
      return { key: h.qid, token, task }
    }
  } else {
    const expired = db
      .prepare(
        `SELECT ${K} FROM tasks INDEXED BY idx_tasks_lease_expiry WHERE status = 'running' AND lease_expires_at <= ? ORDER BY lease_expires_at`
      )
      .pluck()
    const due = db.prepare(
      `SELECT ${K}, status, priority, source, deadline, submitted_at, not_before, priority_rank, priority_starved
       FROM tasks WHERE priority_refresh_at <= ? ORDER BY priority_refresh_at LIMIT 100`
    )
    const claimIndex = d.seedReadyIsClaim ? "idx_tasks_ready_priority" : "idx_tasks_ready_rank"
    const head = db.prepare(
      `SELECT ${K} AS k, priority_rank AS rank, submitted_at FROM tasks INDEXED BY ${claimIndex}
       WHERE status = 'ready' AND priority_starved = ? AND priority_rank IS NOT NULL ORDER BY priority_rank DESC, submitted_at LIMIT 1`
    )
    const take = db.prepare(
      `UPDATE tasks SET status = 'running', started_at = ?, last_updated_at = ?, lease_token = ?, lease_expires_at = ?, worker_id = ?,
         priority_refresh_at = NULL${chain ? ", audit_head = ?" : ""}
       WHERE ${K} = ? AND status = 'ready' RETURNING *`
    )
    const headOf = chain ? db.prepare("SELECT audit_head FROM tasks WHERE rid = ?").pluck() : null
    recover = (at) => {
      expired.all(at)
      due.all(at)
    }
    claimOne = (now) => {
      const at = iso(now)
      const h0 = head.get(0)
      const h1 = head.get(1)
      const h = h1 ?? h0
      if (h === undefined) throw new Error("designs: the queue ran dry")
      const token = crypto.randomUUID()
      const newHead = chain ? audit(h.k, headOf.get(h.k), "ready", "running", at, "bench") : audit(h.k, null, "ready", "running", at, "bench")
      const task = take.get(at, at, token, iso(now + LEASE_MS), "bench", ...(chain ? [newHead] : []), h.k)
      count("ready", -1, -task.calculated_priority)
      count("running", 1, task.calculated_priority)
      return { key: h.k, token, task }
    }
  }

  // ---- complete ---------------------------------------------------------------------------------
  const resolve = db
    .prepare("UPDATE task_dependencies SET resolved_at = ? WHERE prerequisite_task_id = ? AND resolved_at IS NULL RETURNING dependent_task_id")
    .pluck()
  let completeOne
  if (d.queue) {
    const release = db.prepare(
      `DELETE FROM task_queue WHERE qid = ? AND running = 1 AND lease_token = ? RETURNING rank, started_at, worker_id, audit_head`
    )
    const finish = db.prepare(
      `UPDATE tasks SET status = 'completed', started_at = ?, completed_at = ?, last_updated_at = ?, worker_id = ?${chain ? ", audit_head = ?" : ""}
       WHERE ${int ? "rid" : "rowid"} = ? AND status = 'ready' RETURNING id, parent_task_id, calculated_priority`
    )
    completeOne = (c, now) => {
      const at = iso(now)
      const q = release.get(c.key, c.token)
      if (q === undefined) throw new Error(`designs: task ${c.key} is not running with this lease`)
      let done
      if (chain) {
        const newHead = audit(c.key, q.audit_head, "running", "completed", at, "bench")
        done = finish.get(q.started_at, at, at, q.worker_id, newHead, c.key)
      } else {
        done = finish.get(q.started_at, at, at, q.worker_id, c.key)
        audit(done.id, null, "running", "completed", at, "bench")
      }
      resolve.all(at, int ? c.key : done.id)
      if (done.parent_task_id !== null) throw new Error("designs: no parents in these workloads")
      count("running", -1, -q.rank)
      count("completed", 1, done.calculated_priority)
    }
  } else {
    const finish = db.prepare(
      `UPDATE tasks SET status = 'completed', completed_at = ?, last_updated_at = ?, lease_token = NULL, lease_expires_at = NULL${chain ? ", audit_head = ?" : ""}
       WHERE ${K} = ? AND status = 'running' AND lease_token = ? RETURNING parent_task_id, calculated_priority`
    )
    const chainFrom = !chain
      ? null
      : db.prepare(
          `INSERT INTO task_audit (task_id, prev_id, from_status, to_status, at, actor)
       SELECT rid, audit_head, 'running', 'completed', ?, ? FROM tasks WHERE rid = ? AND status = 'running' AND lease_token = ? RETURNING id`
        )
    completeOne = (c, now) => {
      const at = iso(now)
      let done
      if (chain) {
        const a = chainFrom.get(at, "bench", c.key, c.token)
        if (a === undefined) throw new Error(`designs: task ${c.key} is not running with this lease`)
        done = finish.get(at, at, a.id, c.key, c.token)
      } else {
        done = finish.get(at, at, c.key, c.token)
        if (done === undefined) throw new Error(`designs: task ${c.key} is not running with this lease`)
        audit(c.key, null, "running", "completed", at, "bench")
      }
      resolve.all(at, c.key)
      if (done.parent_task_id !== null) throw new Error("designs: no parents in these workloads")
      count("running", -1, -done.calculated_priority)
      count("completed", 1, done.calculated_priority)
    }
  }

  const submitAll = (ts, now) => {
    const nextAudit = chain && !d.queue ? auditCounter() : null
    for (const t of ts) submitRow(t, now, nextAudit)
  }
  return sideOf(db, file, { tx, submitAll, recover, claimOne, completeOne }, () =>
    d.queue
      ? {
          ready: db.prepare("SELECT count(*) FROM task_queue WHERE running = 0").pluck().get(),
          running: db.prepare("SELECT count(*) FROM task_queue WHERE running = 1").pluck().get(),
          completed: db.prepare("SELECT count(*) FROM tasks WHERE status = 'completed'").pluck().get()
        }
      : Object.fromEntries(
          ["ready", "running", "completed"].map((s) => [s, db.prepare("SELECT count(*) FROM tasks WHERE status = ?").pluck().get(s)])
        )
  )
}

/**
 * The operations of a design from its parts: `tx(f)` wraps f in BEGIN IMMEDIATE ... COMMIT (and
 * writes the engine's counts), `submitAll(tasks, now)`, `recover(at)` (expired leases, due
 * refreshes), `claimOne(now)`, `completeOne(claimed, now)`; `rowCounts()` counts READY, RUNNING and
 * COMPLETED tasks from the rows, for the check of task_stats and of the audit rows after the run.
 */
const sideOf = (db, file, { tx, submitAll, recover, claimOne, completeOne, less = {} }, rowCounts) => {
  const claimTx = tx(() => {
    const now = Date.now()
    recover(iso(now))
    return claimOne(now)
  })
  const completeTx = tx((c) => completeOne(c, Date.now()))
  let current = null
  const nextTx = tx(() => {
    const now = Date.now()
    completeOne(current, now)
    recover(iso(now))
    current = claimOne(now)
  })
  let held = []
  const batchTx = tx((k) => {
    const now = Date.now()
    for (const c of held.slice(0, k)) completeOne(c, now)
    recover(iso(now))
    const more = []
    for (let i = 0; i < k; i++) more.push(claimOne(now))
    held = [...held.slice(k), ...more]
  })
  const claimMany = tx((k) => {
    const now = Date.now()
    recover(iso(now))
    return Array.from({ length: k }, () => claimOne(now))
  })
  return {
    db,
    submit: tx((t) => submitAll([t], Date.now())),
    submitMany: tx((ts) => submitAll(ts, Date.now())),
    cycleNext: () => {
      if (current === null) current = claimTx()
      nextTx()
    },
    cycleTwo: () => completeTx(claimTx()),
    batch: (k) => {
      if (held.length < BATCH) held = [...held, ...claimMany(BATCH - held.length)]
      batchTx(k)
    },
    /** Checks the counts kept by triggers or by the engine, and the audit rows, against the rows. */
    check: () => {
      const stats = Object.fromEntries(
        db
          .prepare("SELECT status, task_count FROM task_stats")
          .all()
          .map((r) => [r.status, r.task_count])
      )
      const rows = rowCounts()
      for (const s of ["ready", "running", "completed"])
        if (!less.counts && stats[s] !== rows[s]) throw new Error(`designs: ${file}: task_stats says ${stats[s]} ${s}, the rows ${rows[s]}`)
      const audits = db.prepare("SELECT count(*) FROM task_audit").pluck().get()
      const expected = rows.ready + 2 * rows.running + 3 * rows.completed
      if (!less.audit && audits !== expected) throw new Error(`designs: ${file}: ${audits} audit rows, expected ${expected}`)
    },
    close: () => db.close()
  }
}

/**
 * Design E (see LEAN_QUEUE): D's split with the READY rows keyed by the claim order and RUNNING rows
 * apart. `less` drops one kept thing for the ablation (audit, counts, seed, agent, lookups, resolve),
 * adds the uuid index (uuidIndex), or runs batches in set-based statements (setBased).
 */
const leanSide = (file, less = {}) => {
  const db = open(file)
  buildSchema(db, DESIGNS.E)
  if (less.seed) db.exec("DROP INDEX idx_tasks_ready_priority; DROP INDEX idx_tasks_source_created")
  if (less.agent) db.exec("DROP INDEX idx_ready_agent_rank")
  if (less.lookups) db.exec("DROP INDEX idx_ready_refresh")
  if (less.uuidIndex) db.exec("CREATE UNIQUE INDEX idx_tasks_uuid ON tasks(id)")
  const bump = db.prepare("UPDATE task_stats SET task_count = task_count + ?, priority_sum = priority_sum + ? WHERE status = ?")
  const delta = new Map()
  const count = (status, n, pri) => {
    const e = delta.get(status) ?? [0, 0]
    e[0] += n
    e[1] += pri
    delta.set(status, e)
  }
  const tx = (f) =>
    db.transaction((...a) => {
      const out = f(...a)
      if (!less.counts) for (const [status, [n, pri]] of delta) if (n !== 0 || pri !== 0) bump.run(n, pri, status)
      delta.clear()
      return out
    }).immediate
  const insertTask = db.prepare(
    `INSERT INTO tasks (id, prompt, summary, agent_type, priority, status, input_data, source, submitted_at, last_updated_at,
       calculated_priority, priority_rank, priority_starved) VALUES (?, ?, ?, ?, ?, 'ready', '{}', ?, ?, ?, ?, ?, 0) RETURNING rid`
  )
  const auditRow = db.prepare(
    "INSERT INTO task_audit (task_id, prev_id, from_status, to_status, at, actor, reason) VALUES (?, ?, ?, ?, ?, ?, NULL) RETURNING id"
  )
  const audit = (rid, prev, from, to, at) => (less.audit ? null : auditRow.get(rid, prev, from, to, at, "bench").id)
  const insertReady = db.prepare(
    "INSERT INTO task_ready (starved, rank, submitted_at, rid, agent_type, refresh_at, audit_head) VALUES (0, ?, ?, ?, ?, ?, ?)"
  )
  const submitRow = (t, now) => {
    const at = iso(now)
    const pri = t.priority * 10
    const rid = insertTask.get(crypto.randomUUID(), t.prompt, t.prompt, t.agentType, t.priority, t.source, at, at, pri, pri).rid
    insertReady.run(pri, at, rid, t.agentType, iso(now + REFRESH_MS), audit(rid, null, null, "ready", at))
    count("ready", 1, pri)
  }
  const expired = db.prepare("SELECT rid FROM task_running WHERE lease_expires_at <= ?").pluck()
  const due = less.lookups
    ? null
    : db.prepare("SELECT rid, rank, starved FROM task_ready INDEXED BY idx_ready_refresh WHERE refresh_at <= ? ORDER BY refresh_at LIMIT 100")
  const recover = (at) => {
    if (less.lookups) return
    expired.all(at)
    due.all(at)
  }
  const head = db.prepare(
    "SELECT starved, rank, submitted_at, rid, audit_head FROM task_ready WHERE starved = ? ORDER BY rank DESC, submitted_at, rid LIMIT 1"
  )
  const unready = db.prepare("DELETE FROM task_ready WHERE starved = ? AND rank = ? AND submitted_at = ? AND rid = ?")
  const running = db.prepare(
    "INSERT INTO task_running (rid, lease_expires_at, lease_token, worker_id, started_at, rank, audit_head) VALUES (?, ?, ?, ?, ?, ?, ?)"
  )
  const row = db.prepare("SELECT * FROM tasks WHERE rid = ?")
  const claimOne = (now) => {
    const at = iso(now)
    const h = head.get(1) ?? head.get(0)
    if (h === undefined) throw new Error("designs: the queue ran dry")
    unready.run(h.starved, h.rank, h.submitted_at, h.rid)
    const token = crypto.randomUUID()
    running.run(h.rid, iso(now + LEASE_MS), token, "bench", at, h.rank, audit(h.rid, h.audit_head, "ready", "running", at))
    count("ready", -1, -h.rank)
    count("running", 1, h.rank)
    return { key: h.rid, token, task: row.get(h.rid) }
  }
  const release = db.prepare("DELETE FROM task_running WHERE rid = ? AND lease_token = ? RETURNING started_at, worker_id, rank, audit_head")
  const finish = db.prepare(
    `UPDATE tasks SET status = 'completed', started_at = ?, completed_at = ?, last_updated_at = ?, worker_id = ?, audit_head = ?
     WHERE rid = ? AND status = 'ready' RETURNING parent_task_id, calculated_priority`
  )
  const resolve = db
    .prepare("UPDATE task_dependencies SET resolved_at = ? WHERE prerequisite_task_id = ? AND resolved_at IS NULL RETURNING dependent_task_id")
    .pluck()
  const completeOne = (c, now) => {
    const at = iso(now)
    const r = release.get(c.key, c.token)
    if (r === undefined) throw new Error(`designs: task ${c.key} is not running with this lease`)
    const done = finish.get(r.started_at, at, at, r.worker_id, audit(c.key, r.audit_head, "running", "completed", at), c.key)
    if (!less.resolve) resolve.all(at, c.key)
    if (done.parent_task_id !== null) throw new Error("designs: no parents in these workloads")
    count("running", -1, -r.rank)
    count("completed", 1, done.calculated_priority)
  }
  const submitAll = (ts, now) => {
    for (const t of ts) submitRow(t, now)
  }
  const side = sideOf(db, file, { tx, submitAll, recover, claimOne, completeOne, less }, () => ({
    ready: db.prepare("SELECT count(*) FROM task_ready").pluck().get(),
    running: db.prepare("SELECT count(*) FROM task_running").pluck().get(),
    completed: db.prepare("SELECT count(*) FROM tasks WHERE status = 'completed'").pluck().get()
  }))
  if (!less.setBased) return side
  // Batches in set-based statements: a statement per step for the whole batch (the held tasks and
  // the claimed ones passed as JSON arrays), where the per-task batch runs each step once per task.
  const releaseMany = db.prepare(
    `DELETE FROM task_running WHERE (rid, lease_token) IN (SELECT value ->> '$[0]', value ->> '$[1]' FROM json_each(?))
     RETURNING rid, started_at, worker_id, rank, audit_head`
  )
  const auditMany = db.prepare(
    `INSERT INTO task_audit (task_id, prev_id, from_status, to_status, at, actor)
     SELECT value ->> '$[0]', value ->> '$[1]', ?, ?, ?, 'bench' FROM json_each(?) RETURNING id, task_id`
  )
  const finishMany = db.prepare(
    `UPDATE tasks SET status = 'completed', started_at = v.value ->> '$[1]', completed_at = ?, last_updated_at = ?, worker_id = v.value ->> '$[2]',
       audit_head = v.value ->> '$[3]'
     FROM json_each(?) AS v WHERE tasks.rid = v.value ->> '$[0]' AND +tasks.status = 'ready' RETURNING parent_task_id, calculated_priority`
  )
  const resolveMany = db
    .prepare(
      `UPDATE task_dependencies SET resolved_at = ? WHERE prerequisite_task_id IN (SELECT value FROM json_each(?)) AND resolved_at IS NULL
       RETURNING dependent_task_id`
    )
    .pluck()
  const takeReady = db.prepare(
    `DELETE FROM task_ready WHERE (starved, rank, submitted_at, rid) IN
       (SELECT starved, rank, submitted_at, rid FROM task_ready WHERE starved = ? ORDER BY rank DESC, submitted_at, rid LIMIT ?)
     RETURNING rid, rank, audit_head`
  )
  const runningMany = db.prepare(
    `INSERT INTO task_running (rid, lease_expires_at, lease_token, worker_id, started_at, rank, audit_head)
     SELECT value ->> '$[0]', ?, value ->> '$[1]', 'bench', ?, value ->> '$[2]', value ->> '$[3]' FROM json_each(?)`
  )
  const rowsOf = db.prepare("SELECT * FROM tasks WHERE rid IN (SELECT value FROM json_each(?))")
  let held = []
  const batchTx = tx((k) => {
    const now = Date.now()
    const at = iso(now)
    const done = held.slice(0, k)
    const released = releaseMany.all(JSON.stringify(done.map((c) => [c.key, c.token])))
    if (released.length !== done.length) throw new Error("designs: a held task is not running with its lease")
    const heads = new Map(
      auditMany.all("running", "completed", at, JSON.stringify(released.map((r) => [r.rid, r.audit_head]))).map((a) => [a.task_id, a.id])
    )
    const finished = finishMany.all(at, at, JSON.stringify(released.map((r) => [r.rid, r.started_at, r.worker_id, heads.get(r.rid)])))
    if (finished.length !== done.length) throw new Error("designs: a completed task was not open")
    resolveMany.all(at, JSON.stringify(released.map((r) => r.rid)))
    for (const [i, r] of released.entries()) {
      if (finished[i].parent_task_id !== null) throw new Error("designs: no parents in these workloads")
      count("running", -1, -r.rank)
      count("completed", 1, finished[i].calculated_priority)
    }
    recover(at)
    const taken = takeReady.all(1, k)
    if (taken.length < k) taken.push(...takeReady.all(0, k - taken.length))
    if (taken.length < k) throw new Error("designs: the queue ran dry")
    const claimHeads = new Map(
      auditMany.all("ready", "running", at, JSON.stringify(taken.map((r) => [r.rid, r.audit_head]))).map((a) => [a.task_id, a.id])
    )
    const claimed = taken.map((r) => ({ key: r.rid, token: crypto.randomUUID(), rank: r.rank }))
    runningMany.run(iso(now + LEASE_MS), at, JSON.stringify(claimed.map((c) => [c.key, c.token, c.rank, claimHeads.get(c.key)])))
    const rows = rowsOf.all(JSON.stringify(claimed.map((c) => c.key)))
    if (rows.length !== k) throw new Error("designs: a claimed task has no row")
    for (const c of claimed) {
      count("ready", -1, -c.rank)
      count("running", 1, c.rank)
    }
    held = [...held.slice(k), ...claimed]
  })
  const claimMany = tx((k) => {
    const now = Date.now()
    recover(iso(now))
    return Array.from({ length: k }, () => claimOne(now))
  })
  return {
    ...side,
    only: ["batch"],
    batch: (k) => {
      if (held.length < BATCH) held = [...held, ...claimMany(BATCH - held.length)]
      batchTx(k)
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Measurement

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const cpuNow = () => {
  const u = process.cpuUsage()
  return u.user + u.system
}

/**
 * Runs `n` operations of every side in each of `REPS` repetitions, the sides taking turns in slices of a tenth;
 * returns per side the median ops/s and the CPU µs per operation (over all repetitions).
 */
const inTurns = (w, sides, n, run, slices = 10) => {
  const ms = sides.map(() => Array.from({ length: REPS }, () => 0))
  const cpu = sides.map(() => 0)
  const slice = Math.max(1, Math.ceil(n / slices))
  for (let rep = 0; rep < REPS; rep++)
    for (let from = 0; from < n; from += slice) {
      const to = Math.min(n, from + slice)
      for (let s = 0; s < sides.length; s++) {
        if (sides[s].only !== undefined && !sides[s].only.includes(w)) continue
        const c0 = cpuNow()
        const t0 = performance.now()
        run(sides[s], to - from, s)
        ms[s][rep] += performance.now() - t0
        cpu[s] += cpuNow() - c0
      }
    }
  return sides.map((_, s) => ({ rate: n / (median(ms[s]) / 1000), cpuPerOp: cpu[s] / (n * REPS) }))
}

const walPages = (db, f) => {
  db.pragma("wal_checkpoint(TRUNCATE)")
  f()
  const bytes = statSync(`${db.name}-wal`).size
  return Math.max(0, bytes - 32) / (db.pragma("page_size", { simple: true }) + 24)
}

const NAMES = {
  plainjob: "plainjob 0.0.14",
  bare: "bare job table",
  today: "today's schema (v5), plain SQL",
  A: "A: narrow task_queue",
  B: "B: integer key, audit chains, engine counts",
  C: "C: B + seed ready index = claim order, partial parent index",
  D: "D: A + B + partial parent index",
  E: "E: D with READY rows keyed by the claim order, RUNNING rows apart",
  Eset: "E, batches in set-based statements (one statement per step for the whole batch)"
}

/**
 * `ablate`: design E less one of the things Abathur keeps per task at a time, then less all of them:
 * what each costs (not a design: each row gives something up); and E with the index on the uuid
 * that a TEXT id needs when it cannot be derived from the integer key.
 */
const LESS = {
  "E plus a unique index on the uuid (ids not derived from the integer key)": { uuidIndex: true },
  "E less the audit rows": { audit: true },
  "E less the per-status counts": { counts: true },
  "E less the seed's two indexes it writes (idx_tasks_ready_priority, idx_tasks_source_created)": { seed: true },
  "E less the agent-type claim index": { agent: true },
  "E less the refresh index and the lease and refresh lookups": { lookups: true },
  "E less the edge resolution at completion": { resolve: true },
  "E less all six": { audit: true, counts: true, seed: true, agent: true, lookups: true, resolve: true }
}
if (ABLATE) {
  for (const k of ["today", "A", "B", "C", "D", "Eset"]) delete NAMES[k]
  Object.assign(NAMES, Object.fromEntries(Object.keys(LESS).map((k) => [k, k])))
}

const dir = mkdtempSync(join(tmpdir(), "abathur-designs-"))
const started = performance.now()
try {
  const keys = Object.keys(NAMES)
  const sideFor = (k, i) => {
    const file = join(dir, `side-${i}.db`)
    if (k === "plainjob") return plainjobSide(file)
    if (k === "bare") return bareSide(file)
    if (k === "E") return leanSide(file)
    if (k === "Eset") return leanSide(file, { setBased: true })
    if (k in LESS) return leanSide(file, LESS[k])
    return designSide(file, DESIGNS[k])
  }
  const sides = keys.map(sideFor)

  // Every side starts with the same READY tasks; submits and plans add more before the cycles.
  const consumed = 3 * (N_CYCLE + REPS) + 4 * N_PAGES + 4 * BATCH + 2000
  const added = N_SUBMIT + REPS * N_PLAN + N_PAGES * 2 + 600
  const seedTasks = inputs(Math.max(10_000, consumed - added + 10_000))
  for (const side of sides) for (let i = 0; i < seedTasks.length; i += 5000) side.submitMany(seedTasks.slice(i, i + 5000))
  // Warm-up: a few of each operation on every side.
  for (const side of sides) {
    for (const t of inputs(300)) side.submit(t)
    side.submitMany(inputs(300))
    for (let i = 0; i < 300; i++) side.cycleNext()
    for (let i = 0; i < 300; i++) side.cycleTwo()
    for (let i = 0; i < 300; i += BATCH) side.batch(BATCH)
  }
  console.error(`set-up ${((performance.now() - started) / 1000).toFixed(1)} s; ${seedTasks.length} tasks seeded per side`)

  const results = {}
  // Submits and cycles: the workload's operations split into REPS repetitions (a run of about five
  // minutes on 2 shared cores); plans: one call of N_PLAN tasks per repetition.
  const perRep = (n) => Math.ceil(n / REPS)
  const submitInputs = inputs(perRep(N_SUBMIT) * REPS)
  const cursor = sides.map(() => 0)
  results.submit = inTurns("submit", sides, perRep(N_SUBMIT), (side, k, s) => {
    for (let i = 0; i < k; i++) side.submit(submitInputs[cursor[s] + i])
    cursor[s] += k
  })
  console.error(`submits done ${((performance.now() - started) / 1000).toFixed(1)} s`)
  const planInputs = inputs(N_PLAN)
  results.plan = inTurns("plan", sides, N_PLAN, (side) => side.submitMany(planInputs), 1)
  console.error(`plans done ${((performance.now() - started) / 1000).toFixed(1)} s`)
  results.next = inTurns("next", sides, perRep(N_CYCLE), (side, k) => {
    for (let i = 0; i < k; i++) side.cycleNext()
  })
  console.error(`cycles (one transaction) done ${((performance.now() - started) / 1000).toFixed(1)} s`)
  results.two = inTurns("two", sides, perRep(N_CYCLE), (side, k) => {
    for (let i = 0; i < k; i++) side.cycleTwo()
  })
  console.error(`cycles (two transactions) done ${((performance.now() - started) / 1000).toFixed(1)} s`)
  results.batch = inTurns("batch", sides, perRep(N_CYCLE), (side, k) => {
    for (let i = 0; i < k; i += BATCH) side.batch(Math.min(BATCH, k - i))
  })
  console.error(`batches done ${((performance.now() - started) / 1000).toFixed(1)} s`)

  // Pages per operation, from an empty WAL with automatic checkpoints off.
  const skip = (s, w) => sides[s].only !== undefined && !sides[s].only.includes(w)
  const pages = sides.map((side, s) => {
    side.db.pragma("wal_autocheckpoint = 0")
    const measure = (w, f) => (skip(s, w) ? Number.NaN : walPages(side.db, f))
    const p = {
      submit: measure("submit", () => {
        for (const t of inputs(N_PAGES)) side.submit(t)
      }),
      plan: measure("plan", () => side.submitMany(inputs(N_PAGES))),
      next: measure("next", () => {
        for (let i = 0; i < N_PAGES; i++) side.cycleNext()
      }),
      two: measure("two", () => {
        for (let i = 0; i < N_PAGES; i++) side.cycleTwo()
      }),
      batch: measure("batch", () => {
        for (let i = 0; i < N_PAGES; i += BATCH) side.batch(Math.min(BATCH, N_PAGES - i))
      })
    }
    side.db.pragma("wal_autocheckpoint = 1000")
    return Object.fromEntries(Object.entries(p).map(([k, v]) => [k, v / N_PAGES]))
  })
  for (const side of sides) side.check?.()
  const indexCount = sides.map((side) =>
    side.db
      .prepare(
        "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name IN ('tasks', 'task_queue', 'task_ready', 'task_running', 'task_audit', 'plainjob_jobs', 'jobs')"
      )
      .pluck()
      .get()
  )
  for (const side of sides) side.close()

  const W = [
    ["submit", `${N_SUBMIT.toLocaleString("en")} single submits`, 1.0],
    ["plan", `${N_PLAN.toLocaleString("en")} tasks in one call`, 0.5],
    ["next", `${N_CYCLE.toLocaleString("en")} claim + complete, 1 transaction per cycle (next claim inside)`, 1.5],
    ["two", `${N_CYCLE.toLocaleString("en")} claim + complete, 2 transactions per cycle`, 1.5],
    ["batch", `${N_CYCLE.toLocaleString("en")} claim + complete in batches of ${BATCH}`, 1.5]
  ]
  const pj = 0
  console.log(`\nRatios to plainjob (jobs/s over plainjob's jobs/s, same run, in turns, median of ${REPS}); target in brackets\n`)
  console.log(`| side | indexes | ${W.map(([, title, target]) => `${title} (≥ ${target.toFixed(1)}×)`).join(" | ")} |`)
  console.log(`|---|---:|${W.map(() => "---:").join("|")}|`)
  for (const [s, k] of keys.entries()) {
    const cells = W.map(([w]) => (skip(s, w) ? "" : `${(results[w][s].rate / results[w][pj].rate).toFixed(2)}×`))
    console.log(`| ${NAMES[k]} | ${indexCount[s]} | ${cells.join(" | ")} |`)
  }
  console.log("\nThe same by CPU: plainjob's CPU µs per operation over the side's (less sensitive to a shared machine's load)\n")
  console.log(`| side | ${W.map(([w]) => w).join(" | ")} |`)
  console.log(`|---|${W.map(() => "---:").join("|")}|`)
  for (const [s, k] of keys.entries())
    console.log(
      `| ${NAMES[k]} | ${W.map(([w]) => (skip(s, w) ? "" : `${(results[w][pj].cpuPerOp / results[w][s].cpuPerOp).toFixed(2)}×`)).join(" | ")} |`
    )
  console.log("\nJobs/s (median), CPU µs per operation (all repetitions), WAL pages per operation\n")
  console.log(`| side | ${W.map(([w]) => `${w}: jobs/s | µs CPU | pages`).join(" | ")} |`)
  console.log(`|---|${W.map(() => "---:|---:|---:").join("|")}|`)
  for (const [s, k] of keys.entries()) {
    const cells = W.map(([w]) =>
      skip(s, w)
        ? " | | "
        : `${Math.round(results[w][s].rate).toLocaleString("en")} | ${results[w][s].cpuPerOp.toFixed(0)} | ${pages[s][w].toFixed(2)}`
    )
    console.log(`| ${NAMES[k]} | ${cells.join(" | ")} |`)
  }
  console.log(
    `\nworkloads: ${W.map(([w, title]) => `${w} = ${title}`).join("; ")}. plainjob has no complete-and-claim-next and no batches: ` +
      "each of its cycle rows runs getAndMarkJobAsProcessing + markJobAsDone (two transactions per job). " +
      `Pages: ${N_PAGES} operations of each kind after the timed runs. Whole run ${((performance.now() - started) / 1000).toFixed(0)} s.`
  )
} finally {
  rmSync(dir, { recursive: true, force: true })
}
