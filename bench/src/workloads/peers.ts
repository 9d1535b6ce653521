/**
 * PEERS: Abathur beside two peers on the same three workloads, in the same child process:
 * plainjob (a SQLite job queue for Node, pinned as a dev dependency of the harness, through its
 * public API) and a bare job table (one table, one partial index, the minimal SQL of a job
 * queue). The same-schema floor (plain SQL on Abathur's own schema) stays as a further column:
 * it says what the schema costs, the peers say what the whole design costs.
 */
import type { TaskSource } from "@abathur/domain"
import BetterSqlite3 from "better-sqlite3"
import { createRequire } from "node:module"
import { join } from "node:path"
import { better, defineQueue, type Logger } from "plainjob"
import { floorClaim, floorComplete, iso, openFloor } from "../floor.js"
import { openQueue } from "../runtime.js"
import { SOURCES } from "../seed.js"
import type { PeerRow, WorkloadResult } from "../types.js"
import { fmtInt, prng, randInt, settle, tempDir } from "../util.js"
import type { Ctx } from "./common.js"

const REPS = 3
/** Tasks per transaction in the batch row (claimMany / completeMany). */
const BATCH = 32

const silent: Logger = { error: () => {}, warn: () => {}, info: () => {}, debug: () => {} }

const median = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}

const time = (f: () => void): number => {
  settle()
  const t0 = performance.now()
  f()
  return performance.now() - t0
}

/** The pragmas every side runs with (Abathur's Database.layer defaults; plainjob sets the same). */
const openPlain = (file: string): BetterSqlite3.Database => {
  const db = new BetterSqlite3(file)
  db.pragma("journal_mode = WAL")
  db.pragma("synchronous = NORMAL")
  db.pragma("busy_timeout = 5000")
  return db
}

/** The bare job table: one table, one partial index, three statements. */
const openBare = (file: string) => {
  const db = openPlain(file)
  db.exec(`
    CREATE TABLE jobs (
      id INTEGER PRIMARY KEY,
      payload TEXT NOT NULL,
      priority INTEGER NOT NULL,
      status INTEGER NOT NULL DEFAULT 0,
      created_at INTEGER NOT NULL
    );
    CREATE INDEX jobs_ready ON jobs(priority DESC, id) WHERE status = 0;
  `)
  const insert = db.prepare("INSERT INTO jobs (payload, priority, created_at) VALUES (?, ?, ?)")
  const claim = db.prepare(
    `UPDATE jobs SET status = 1 WHERE id = (SELECT id FROM jobs WHERE status = 0 ORDER BY priority DESC, id LIMIT 1)
     RETURNING id, payload`
  )
  const complete = db.prepare("UPDATE jobs SET status = 2 WHERE id = ? AND status = 1")
  const claimUpTo = db.prepare(
    `UPDATE jobs SET status = 1 WHERE id IN (SELECT id FROM jobs WHERE status = 0 ORDER BY priority DESC, id LIMIT ?)
     RETURNING id`
  )
  const done = (id: number) => {
    if (complete.run(id).changes !== 1) throw new Error(`bare: job ${id} is not running`)
  }
  /** Completes these jobs and claims up to `limit` more, in one transaction. */
  const completeMany = db.transaction((ids: ReadonlyArray<number>, limit: number) => {
    for (const id of ids) done(id)
    return (claimUpTo.all(limit) as Array<{ id: number }>).map((r) => r.id)
  })
  const insertMany = db.transaction((rows: ReadonlyArray<Input>) => {
    const now = Date.now()
    for (const r of rows) insert.run(r.payload, r.priority, now)
  })
  return {
    db,
    submit: (r: Input) => insert.run(r.payload, r.priority, Date.now()),
    submitMany: (rows: ReadonlyArray<Input>) => insertMany.immediate(rows),
    claim: () => (claim.get() as { id: number } | undefined)?.id,
    complete: done,
    claimMany: (limit: number) => (claimUpTo.all(limit) as Array<{ id: number }>).map((r) => r.id),
    completeMany: (ids: ReadonlyArray<number>, limit: number) => completeMany.immediate(ids, limit)
  }
}

interface Input {
  readonly prompt: string
  readonly payload: string
  readonly priority: number
  readonly source: TaskSource
}

const inputsOf = (n: number, seed: number): Array<Input> => {
  const rand = prng(seed)
  return Array.from({ length: n }, (_, i) => {
    const prompt = `independent task ${i}: write the unit tests of one module`
    return { prompt, payload: JSON.stringify({ prompt }), priority: randInt(rand, 11), source: SOURCES[randInt(rand, SOURCES.length)]! }
  })
}

const submitOf = (t: Input) => ({ prompt: t.prompt, priority: t.priority, source: t.source })

const planOf = (inputs: ReadonlyArray<Input>) => ({
  tasks: inputs.map((t, i) => ({ key: `t${i}`, prompt: t.prompt, priority: t.priority, source: t.source }))
})

const SAME_SCHEMA_INSERT = `INSERT INTO tasks (id, prompt, summary, priority, status, source, submitted_at, last_updated_at,
  calculated_priority, priority_refresh_at) VALUES (?, ?, ?, ?, 'ready', ?, ?, ?, ?, ?)`

/**
 * The four sides of a row, each on a file of its own: Abathur's queue, plainjob, the bare SQL
 * queue and the same-schema floor (with its insert); `close` closes them all.
 */
const openSides = async (file: (name: string) => string) => {
  const h = await openQueue(file("abathur"))
  const pj = defineQueue({ connection: better(openPlain(file("plainjob"))), logger: silent })
  const bare = openBare(file("bare"))
  const db = openFloor(file("floor"))
  const close = async () => {
    await h.dispose()
    pj.close()
    bare.db.close()
    db.close()
  }
  return { h, pj, bare, db, insert: db.prepare(SAME_SCHEMA_INSERT), close }
}

export const peers = async (ctx: Ctx): Promise<WorkloadResult> => {
  const started = performance.now()
  const nSubmit = ctx.size(10_000)
  const nPlan = ctx.size(10_000)
  const nCycle = ctx.size(5_000)
  const warm = Math.min(500, nSubmit / 10)
  const { dir, cleanup } = tempDir()
  let files = 0
  const file = (name: string) => join(dir, `${name}-${++files}.db`)
  const rows: Array<PeerRow> = []
  const abathurCycle = "complete with the lease token and `next` (the completion and the next claim in one transaction, as `abathur work` does)"
  try {
    // ---- 1. single submits: one call, one transaction per task --------------------------------
    // The sides take turns in slices of a tenth, so that a shared machine's load, which swings
    // over minutes, weighs on each of them alike.
    {
      const inputs = inputsOf(nSubmit + warm, 3)
      const { h, pj, bare, db, insert, close } = await openSides(file)
      const tx = db.transaction((t: Input) => {
        const now = Date.now()
        const at = iso(now)
        insert.run(crypto.randomUUID(), t.prompt, t.prompt, t.priority, t.source, at, at, 50, iso(now + 216_000))
      })
      const sides: Array<(t: Input) => void> = [
        (t) => void h.run(h.q.submit(submitOf(t))),
        (t) => void pj.add("bench", { prompt: t.prompt }),
        (t) => void bare.submit(t),
        (t) => void tx.immediate(t)
      ]
      for (const side of sides) for (let i = nSubmit; i < nSubmit + warm; i++) side(inputs[i]!)
      const [a, p, b, f] = turns(sides.length, REPS, nSubmit, (side, from, to) => {
        for (let i = from; i < to; i++) sides[side]!(inputs[i % nSubmit]!)
      })
      await close()
      rows.push(
        peerRow(
          `${fmtInt(nSubmit)} single submits`,
          nSubmit,
          a!,
          p!,
          b!,
          f!,
          { plainjob: 1.0 },
          "TaskQueue.submit per task / plainjob add / one INSERT (autocommit) / same-schema INSERT per BEGIN IMMEDIATE"
        )
      )
    }

    // ---- 2. independent tasks in one call -----------------------------------------------------
    {
      const a: Array<number> = [],
        p: Array<number> = [],
        b: Array<number> = [],
        f: Array<number> = []
      const { h, pj, bare, db, insert, close } = await openSides(file)
      const floorMany = db.transaction((inputs: ReadonlyArray<Input>) => {
        const now = Date.now()
        const at = iso(now)
        for (const t of inputs) insert.run(crypto.randomUUID(), t.prompt, t.prompt, t.priority, t.source, at, at, 50, iso(now + 216_000))
      })
      for (let rep = -1; rep < REPS; rep++) {
        // rep -1 warms every side up.
        const inputs = inputsOf(nPlan, 200 + rep)
        const plan = planOf(inputs)
        const data = inputs.map((t) => ({ prompt: t.prompt }))
        const ta = time(() => void h.run(h.q.submitPlan(plan)))
        const tp = time(() => void pj.addMany("bench", data))
        const tb = time(() => bare.submitMany(inputs))
        const tf = time(() => floorMany.immediate(inputs))
        if (rep >= 0) {
          a.push(ta)
          p.push(tp)
          b.push(tb)
          f.push(tf)
        }
      }
      await close()
      rows.push(
        peerRow(
          `${fmtInt(nPlan)} independent tasks in one call`,
          nPlan,
          a,
          p,
          b,
          f,
          { plainjob: 0.5 },
          "TaskQueue.submitPlan / plainjob addMany / prepared INSERTs in one transaction (bare and same-schema)"
        )
      )
    }

    // ---- 3. claim + complete, one worker --------------------------------------------------------
    {
      // Each side's tasks: the per-task sides' and the batch sides' (`claimMany`, `completeMany`).
      const total = REPS * nCycle + warm + BATCH
      const inputs = inputsOf(total, 31)
      const seed = (h: Awaited<ReturnType<typeof openQueue>>) => {
        for (let i = 0; i < total; i += 10_000) h.run(h.q.submitPlan(planOf(inputs.slice(i, i + 10_000))))
      }
      // Abathur as `abathur work` runs it: each completion claims the next task in its transaction.
      const hn = await openQueue(file("abathur"))
      seed(hn)
      let current = hn.run(hn.q.claim({ worker: "bench" }))
      const withNext = () => {
        if (current === null) throw new Error("abathur: the queue ran dry")
        current = hn.run(hn.q.complete(current.id, { leaseToken: current.leaseToken, next: { worker: "bench" } })).next ?? null
      }
      // And through the two calls a client without `next` makes: claim, then complete.
      const h2 = await openQueue(file("abathur"))
      seed(h2)
      const twoCalls = () => {
        const c = h2.run(h2.q.claim({ worker: "bench" }))
        if (c === null) throw new Error("abathur: the queue ran dry")
        h2.run(h2.q.complete(c.id, { leaseToken: c.leaseToken }))
      }
      const pj = defineQueue({ connection: better(openPlain(file("plainjob"))), logger: silent })
      for (let i = 0; i < total; i += 10_000)
        pj.addMany(
          "bench",
          inputs.slice(i, i + 10_000).map((t) => ({ prompt: t.prompt }))
        )
      const pjCycle = () => {
        const job = pj.getAndMarkJobAsProcessing("bench")
        if (job === undefined) throw new Error("plainjob: the queue ran dry")
        pj.markJobAsDone(job.id)
      }
      const bare = openBare(file("bare"))
      for (let i = 0; i < total; i += 10_000) bare.submitMany(inputs.slice(i, i + 10_000))
      const bareCycle = () => {
        const id = bare.claim()
        if (id === undefined) throw new Error("bare: the queue ran dry")
        bare.complete(id)
      }
      const db = openFloor(file("floor"))
      const insert = db.prepare(SAME_SCHEMA_INSERT)
      db.transaction(() => {
        const now = Date.now()
        // Twice the tasks: the per-task floor and the batched one take from this file.
        for (let i = 0; i < 2 * total; i++) {
          const t = inputs[i % total]!
          const at = iso(now + i)
          insert.run(crypto.randomUUID(), t.prompt, t.prompt, t.priority, t.source, at, at, t.priority * 10, iso(now + 216_000))
        }
      }).immediate()
      const claim = floorClaim(db)
      const complete = floorComplete(db)
      const floorCycle = () => {
        const id = claim()
        if (id === null) throw new Error("floor: the queue ran dry")
        complete(id)
      }
      // In batches: Abathur claims BATCH tasks once, then each `completeMany` completes `k` of the
      // tasks it holds and claims `k` more in the same transaction (`next`); the bare table does the
      // same in one transaction (k UPDATEs, one claiming UPDATE ... LIMIT k); the same-schema floor
      // runs k of its claim + complete in one transaction. plainjob has no batch API.
      const hb = await openQueue(file("abathur"))
      seed(hb)
      let held = hb.run(hb.q.claimMany({ worker: "bench", limit: BATCH }))
      const abathurBatch = (k: number) => {
        const items = held.slice(0, k).map((t) => ({ id: t.id, leaseToken: t.leaseToken }))
        if (items.length < k) throw new Error("abathur: the queue ran dry")
        held = [...held.slice(k), ...hb.run(hb.q.completeMany(items, { next: { worker: "bench", limit: k } })).next]
      }
      const bareB = openBare(file("bare"))
      for (let i = 0; i < total; i += 10_000) bareB.submitMany(inputs.slice(i, i + 10_000))
      let bareHeld = bareB.claimMany(BATCH)
      const bareBatch = (k: number) => {
        if (bareHeld.length < k) throw new Error("bare: the queue ran dry")
        bareHeld = [...bareHeld.slice(k), ...bareB.completeMany(bareHeld.slice(0, k), k)]
      }
      const floorBatch = db.transaction((k: number) => {
        for (let i = 0; i < k; i++) floorCycle()
      })
      const inBatches = (step: (k: number) => void) => (from: number, to: number) => {
        for (let i = from; i < to; i += BATCH) step(Math.min(BATCH, to - i))
      }
      const sides = [withNext, pjCycle, bareCycle, floorCycle, twoCalls]
      const batchSides = [inBatches(abathurBatch), inBatches(bareBatch), inBatches((k) => floorBatch.immediate(k))]
      for (const side of sides) for (let i = 0; i < warm; i++) side()
      for (const side of batchSides) side(0, warm)
      const [a, p, b, f, a2, ab, bb, fb] = turns(sides.length + batchSides.length, REPS, nCycle, (side, from, to) => {
        if (side >= sides.length) return batchSides[side - sides.length]!(from, to)
        for (let i = from; i < to; i++) sides[side]!()
      })
      await hn.dispose()
      await h2.dispose()
      await hb.dispose()
      pj.close()
      bare.db.close()
      bareB.db.close()
      db.close()
      rows.push(
        peerRow(
          `${fmtInt(nCycle)} claim + complete, one worker`,
          nCycle,
          a!,
          p!,
          b!,
          f!,
          { plainjob: 1.5 },
          `Abathur: ${abathurCycle} / plainjob getAndMarkJobAsProcessing + markJobAsDone / bare: claim UPDATE ... RETURNING, complete UPDATE / same-schema floor claim + complete`
        )
      )
      rows.push(
        peerRow(
          `${fmtInt(nCycle)} claim + complete, one worker, without next`,
          nCycle,
          a2!,
          p!,
          b!,
          f!,
          { plainjob: Number.NaN },
          "Abathur: claim, then complete with the lease token (two transactions, what a client without `next` does); the peers' figures are the row above's"
        )
      )
      rows.push(
        peerRow(
          `${fmtInt(nCycle)} claim + complete, one worker, batches of ${BATCH}`,
          nCycle,
          ab!,
          p!,
          bb!,
          fb!,
          { plainjob: 1.5 },
          `Abathur: claimMany (limit ${BATCH}) once, then completeMany of ${BATCH} held tasks with next (limit ${BATCH}): one transaction per ${BATCH} tasks / ` +
            `plainjob has no batch API: its figure is the per-task row's (getAndMarkJobAsProcessing + markJobAsDone) / ` +
            `bare: ${BATCH} completing UPDATEs and one claiming UPDATE ... LIMIT ${BATCH} ... RETURNING in one transaction / same-schema floor: ${BATCH} claims + completes in one transaction`
        )
      )
    }
  } finally {
    cleanup()
  }
  const targetMiss = rows.filter((r) => r.target !== undefined && r.vsPlainjob < r.target)
  return {
    id: "PEERS",
    title: "Abathur beside plainjob and a bare job table",
    setup:
      `each side through its own API on a fresh file database (WAL, synchronous=NORMAL) in the same child process, median of ${REPS}; ` +
      `plainjob ${PLAINJOB_VERSION}; bare job table: one table, one partial index (priority DESC, id WHERE status = 0); ` +
      `claim + complete scaled to ${fmtInt(nCycle)} cycles per repetition for every side`,
    rows: rows.map((r) => ({
      metric: r.workload,
      abathur: `${fmtInt(r.abathur)} jobs/s`,
      floor: `${fmtInt(r.floor)} jobs/s`,
      ratio: `${r.vsPlainjob.toFixed(2)}× plainjob, ${r.vsBare.toFixed(2)}× bare`,
      target: r.target === undefined ? "" : `≥ ${r.target.toFixed(1)}× plainjob`,
      verdict: r.target === undefined ? "INFO" : r.vsPlainjob >= r.target ? "PASS" : "MISS"
    })),
    peers: rows,
    notes: targetMiss.length === 0 ? [] : [`below target against plainjob: ${targetMiss.map((r) => r.workload).join("; ")}`],
    elapsedMs: performance.now() - started
  }
}

/**
 * Runs `sides` workloads of `n` operations, `reps` times, taking turns in slices of a tenth;
 * returns each side's time per repetition (milliseconds). `run(side, from, to)` runs operations
 * [from, to) of the side's current repetition.
 */
const turns = (sides: number, reps: number, n: number, run: (side: number, from: number, to: number) => void): Array<Array<number>> => {
  const times = Array.from({ length: sides }, () => Array.from({ length: reps }, () => 0))
  const slice = Math.max(1, Math.ceil(n / 10))
  for (let rep = 0; rep < reps; rep++) {
    for (let from = 0; from < n; from += slice) {
      const to = Math.min(n, from + slice)
      for (let side = 0; side < sides; side++) {
        const offset = rep * n
        times[side]![rep]! += time(() => run(side, offset + from, offset + to))
      }
    }
  }
  return times
}

const peerRow = (
  workload: string,
  n: number,
  a: ReadonlyArray<number>,
  p: ReadonlyArray<number>,
  b: ReadonlyArray<number>,
  f: ReadonlyArray<number>,
  target: { plainjob: number }, // NaN: no target
  how: string
): PeerRow => {
  const rate = (ms: ReadonlyArray<number>) => n / (median(ms) / 1000)
  const abathur = rate(a),
    plainjob = rate(p),
    bare = rate(b),
    floor = rate(f)
  return {
    workload,
    how,
    abathur,
    plainjob,
    bare,
    floor,
    vsPlainjob: abathur / plainjob,
    vsBare: abathur / bare,
    vsFloor: abathur / floor,
    target: Number.isNaN(target.plainjob) ? undefined : target.plainjob
  }
}

const PLAINJOB_VERSION = (() => {
  try {
    const require = createRequire(import.meta.url)
    return (require("plainjob/package.json") as { version: string }).version
  } catch {
    return "(version unknown)"
  }
})()
