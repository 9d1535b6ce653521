/**
 * An invariant checker for DESIGN.md section 3, over the rows of the queue's tables as read by
 * plain SQL (the SQLite reads are here; a store under test supplies its own through StoreProbe),
 * so that it does not trust the engine or the repository it checks.
 *
 * It stays whole (issue 12): `violationsIn` is one pass over the tables whose checks share the maps
 * it builds (edges by task, subtree counts, the waits-for graph); the row reads and formulas beside
 * it serve it and the property test.
 */
import {
  calculatePriority,
  findCycleIn,
  parseTimestamp,
  type PriorityFacts,
  rankedScore,
  starvationRate,
  type TaskSource,
  type TaskStatus,
  TaskStatuses
} from "@abathur/domain"
import type BetterSqlite3 from "better-sqlite3"
import { Clock, Effect } from "effect"
import { defaultQueueSettings, type QueueSettings } from "../src/QueueConfig.js"
import { StoreProbe } from "./StoreUnderTest.js"

export interface InvariantOptions {
  /** The current instant (epoch ms), for the priority formula. */
  readonly now: number
  readonly settings: QueueSettings
  /**
   * Check the freshness bound: every READY task's stored score within `tolerance` points of
   * the formula now. It is guaranteed at claim time (the claim refreshes what is due), so
   * check it right after a claim or a refresh.
   */
  readonly freshness: boolean
  /** Points of the freshness bound (default 1). */
  readonly tolerance?: number
  /**
   * Tasks that ran (RUNNING, COMPLETED, FAILED) had every prerequisite COMPLETED when they were
   * claimed. True for every database the engine built; a migrated legacy one may break it.
   */
  readonly strictHistory?: boolean
  /**
   * Open dependents of a task, as the priority counts them (default: counted from the edges read:
   * unresolved edges whose dependent is open).
   */
  readonly countOpenDependents?: (id: string) => number
  /** The task rows, when the caller has just read them (`taskRows`). */
  readonly rows?: ReadonlyArray<Row>
}

export interface Row {
  readonly id: string
  readonly status: TaskStatus
  readonly priority: number
  readonly source: TaskSource
  readonly deadline: string | null
  readonly estimated_duration_seconds: number | null
  readonly submitted_at: string
  readonly calculated_priority: number
  readonly dependency_depth: number
  readonly parent_task_id: string | null
  readonly lease_token: string | null
  readonly lease_expires_at: string | null
  readonly priority_refresh_at: string | null
  readonly priority_rank: number | null
  readonly priority_starved: number
  readonly not_before: string | null
  readonly subtree_open: number
  readonly subtree_completed: number
  readonly subtree_failed: number
  readonly subtree_cancelled: number
  readonly ancestor_gated: number
  readonly agent_type: string
  readonly max_execution_timeout_seconds: number
  readonly max_retries: number
  readonly retry_count: number
}

export interface EdgeRow {
  readonly dependent: string
  readonly prerequisite: string
  readonly resolved_at: string | null
  readonly on_failure: "cancel" | "ignore"
}

export interface AuditRow {
  readonly task_id: string
  readonly from_status: TaskStatus | null
  readonly to_status: TaskStatus
}

export interface StatsRow {
  readonly status: TaskStatus
  readonly task_count: number
  readonly priority_sum: number
}

/**
 * What the checks read, in the shapes of SQLite's rows (booleans as 0/1): tasks and edges in
 * insertion order, the counters per status, the audit trail in insertion order, and the
 * database's own report of broken foreign keys.
 */
export interface Tables {
  readonly tasks: ReadonlyArray<Row>
  readonly edges: ReadonlyArray<EdgeRow>
  readonly stats: ReadonlyArray<StatsRow>
  readonly audit: ReadonlyArray<AuditRow>
  readonly foreignKeyViolations: ReadonlyArray<unknown>
}

const WAITING: ReadonlySet<TaskStatus> = new Set(["pending", "blocked", "ready"])

const cache = new WeakMap<BetterSqlite3.Database, Map<string, BetterSqlite3.Statement>>()

/** A statement prepared once per connection (the checks run after every step of long sequences). */
export const prepared = (db: BetterSqlite3.Database, sql: string): BetterSqlite3.Statement => {
  let byDb = cache.get(db)
  if (byDb === undefined) cache.set(db, (byDb = new Map()))
  let st = byDb.get(sql)
  if (st === undefined) byDb.set(sql, (st = db.prepare(sql)))
  return st
}

/** The formula's value for a task row at `now`, recomputed from its facts. */
export const formulaOf = (row: Row, openDependents: number, now: number, settings: QueueSettings): number => {
  const facts: PriorityFacts = {
    priority: row.priority,
    source: row.source,
    deadline: row.deadline === null ? null : parseTimestamp(row.deadline),
    estimatedDurationSeconds: row.estimated_duration_seconds,
    openDependents,
    waitingSince: parseTimestamp(row.submitted_at)!
  }
  return calculatePriority(facts, now, settings.priority)
}

/** The columns of a `Row` (a store under test reads these, booleans as 0/1). */
export const COLUMNS = `id, status, priority, source, deadline, estimated_duration_seconds, submitted_at, calculated_priority,
  dependency_depth, parent_task_id, lease_token, lease_expires_at, priority_refresh_at, priority_rank, priority_starved,
  not_before, subtree_open, subtree_completed, subtree_failed, subtree_cancelled, ancestor_gated, agent_type,
  max_execution_timeout_seconds, max_retries, retry_count`

/**
 * The score a waiting task stands at in the claim order at `now` (what claims compare):
 * its stored rank read back through the domain's definition; null when it has no rank.
 */
export const rankedOf = (row: Row, now: number, settings: QueueSettings): number | null =>
  row.priority_rank === null
    ? null
    : rankedScore(
        { rank: row.priority_rank, starved: row.priority_starved === 1, waitingSince: parseTimestamp(row.submitted_at)! },
        now,
        settings.priority
      )

/** Every task row with the columns the checks read. */
export const taskRows = (db: BetterSqlite3.Database): Array<Row> => prepared(db, `SELECT ${COLUMNS} FROM tasks ORDER BY rowid`).all() as Array<Row>

/** The rows of the waiting tasks (PENDING, BLOCKED, READY): those whose score must stay fresh. */
export const waitingRows = (db: BetterSqlite3.Database): Array<Row> =>
  prepared(db, `SELECT ${COLUMNS} FROM tasks WHERE status IN ('pending', 'blocked', 'ready') ORDER BY rowid`).all() as Array<Row>

/** The edges, in insertion order. */
export const edgeRows = (db: BetterSqlite3.Database): Array<EdgeRow> =>
  prepared(
    db,
    "SELECT dependent_task_id AS dependent, prerequisite_task_id AS prerequisite, resolved_at, on_failure FROM task_dependencies ORDER BY rowid"
  ).all() as Array<EdgeRow>

/** What the checks read, from a SQLite database (the task rows too, unless given). */
export const sqliteTables = (db: BetterSqlite3.Database, rows?: ReadonlyArray<Row>): Tables => ({
  tasks: rows ?? taskRows(db),
  edges: edgeRows(db),
  stats: prepared(db, "SELECT status, task_count, priority_sum FROM task_stats").all() as Array<StatsRow>,
  audit: prepared(db, "SELECT task_id, from_status, to_status FROM task_audit ORDER BY id").all() as Array<AuditRow>,
  foreignKeyViolations: db.pragma("foreign_key_check") as Array<unknown>
})

/** Open dependents of each task as the priority counts them: unresolved edges whose dependent is open. */
export const openDependentsCounter = (tables: Pick<Tables, "tasks" | "edges">): ((id: string) => number) => {
  const status = new Map(tables.tasks.map((t) => [t.id, t.status]))
  const counts = new Map<string, number>()
  for (const e of tables.edges) {
    const s = status.get(e.dependent)
    if (e.resolved_at === null && (s === "pending" || s === "blocked" || s === "ready" || s === "running")) {
      counts.set(e.prerequisite, (counts.get(e.prerequisite) ?? 0) + 1)
    }
  }
  return (id) => counts.get(id) ?? 0
}

/** Every broken invariant, as a readable line; empty when the database is sound. */
export const findViolations = (db: BetterSqlite3.Database, options: InvariantOptions): Array<string> =>
  violationsIn(sqliteTables(db, options.rows), options)

/** Every broken invariant of these tables, as a readable line; empty when they are sound. */
export const violationsIn = (tables: Tables, options: InvariantOptions): Array<string> => {
  const out: Array<string> = []
  const tasks = tables.tasks
  const byId = new Map(tasks.map((t) => [t.id, t]))
  const edges = tables.edges
  const countOpenDependents = options.countOpenDependents ?? openDependentsCounter(tables)
  const prereqs = new Map<string, Array<EdgeRow>>()
  const dependents = new Map<string, Array<string>>()
  for (const e of edges) {
    let p = prereqs.get(e.dependent)
    if (p === undefined) prereqs.set(e.dependent, (p = []))
    p.push(e)
    let d = dependents.get(e.prerequisite)
    if (d === undefined) dependents.set(e.prerequisite, (d = []))
    d.push(e.dependent)
  }
  const children = new Map<string, number>()
  for (const t of tasks) if (t.parent_task_id !== null) children.set(t.parent_task_id, (children.get(t.parent_task_id) ?? 0) + 1)
  const { limits } = options.settings
  const strict = options.strictHistory ?? true
  const runningTokens = new Set<string>()

  // 4. The hierarchy, recomputed from scratch: each task's strict descendants by outcome, the
  // state of its subtree, and whether each edge should be resolved.
  const kids = new Map<string, Array<string>>()
  for (const t of tasks) {
    if (t.parent_task_id === null) continue
    let list = kids.get(t.parent_task_id)
    if (list === undefined) kids.set(t.parent_task_id, (list = []))
    list.push(t.id)
  }
  const counts = new Map<string, { open: number; completed: number; failed: number; cancelled: number }>()
  const countsOf = (id: string) => {
    let c = counts.get(id)
    if (c !== undefined) return c
    c = { open: 0, completed: 0, failed: 0, cancelled: 0 }
    const seen = new Set<string>([id])
    const stack = [...(kids.get(id) ?? [])]
    while (stack.length > 0) {
      const d = stack.pop()!
      if (seen.has(d)) continue
      seen.add(d)
      const st = byId.get(d)!.status
      if (st === "completed" || st === "failed" || st === "cancelled") c[st]++
      else c.open++
      stack.push(...(kids.get(d) ?? []))
    }
    counts.set(id, c)
    return c
  }
  const subtreeOf = (id: string) => {
    const t = byId.get(id)!
    const c = countsOf(id)
    const open = !["completed", "failed", "cancelled"].includes(t.status)
    const closed = !open && c.open === 0
    const doomed = t.status === "failed" || t.status === "cancelled" || c.failed + c.cancelled > 0
    return { closed, complete: closed && !doomed, doomed }
  }
  const shouldResolve = (e: EdgeRow) => {
    const s = subtreeOf(e.prerequisite)
    return e.on_failure === "ignore" ? s.closed : s.complete
  }
  const ownOpen = (id: string) => (prereqs.get(id) ?? []).some((e) => e.resolved_at === null)
  const ancestorsWait = (t: Row) => {
    const seen = new Set<string>()
    for (let p = t.parent_task_id; p !== null && !seen.has(p); p = byId.get(p)?.parent_task_id ?? null) {
      seen.add(p)
      if (ownOpen(p)) return true
    }
    return false
  }

  for (const t of tasks) {
    const where = `task ${t.id} (${t.status})`
    if (!TaskStatuses.includes(t.status)) out.push(`${where}: unknown status`)
    // 1 and 4. PENDING is transient; READY iff every edge of it and of its ancestors is resolved
    // (edges are checked against their prerequisites' subtrees below); BLOCKED iff some is not.
    if (t.status === "pending") out.push(`${where}: a task stays PENDING after the engine opened the database`)
    const mine = prereqs.get(t.id) ?? []
    const aboveWaits = ancestorsWait(t)
    const gated = aboveWaits || mine.some((e) => e.resolved_at === null)
    if (t.status === "ready" && gated) out.push(`${where}: READY while an edge of it or of an ancestor is open`)
    if (t.status === "blocked" && !gated) out.push(`${where}: BLOCKED but every edge of it and of its ancestors is resolved`)
    if ((t.ancestor_gated === 1) !== aboveWaits) out.push(`${where}: ancestor_gated ${t.ancestor_gated}, an ancestor waits: ${aboveWaits}`)
    const c = countsOf(t.id)
    if (t.subtree_open !== c.open || t.subtree_completed !== c.completed || t.subtree_failed !== c.failed || t.subtree_cancelled !== c.cancelled) {
      out.push(
        `${where}: subtree counters ${JSON.stringify([t.subtree_open, t.subtree_completed, t.subtree_failed, t.subtree_cancelled])}, ` +
          `the descendants give ${JSON.stringify([c.open, c.completed, c.failed, c.cancelled])}`
      )
    }
    if (strict && (t.status === "running" || t.status === "completed" || t.status === "failed") && mine.some((e) => e.resolved_at === null)) {
      out.push(`${where}: ran with an unresolved prerequisite edge`)
    }
    // 5. No waiting task behind a `cancel` edge whose prerequisite's subtree failed or was cancelled.
    if (WAITING.has(t.status) && mine.some((e) => e.on_failure === "cancel" && e.resolved_at === null && subtreeOf(e.prerequisite).doomed)) {
      out.push(`${where}: open behind a cancel edge on a failed or cancelled subtree`)
    }
    // Not claimable before notBefore: a READY task waiting for it has no rank until its instant.
    const startAt = t.not_before === null ? null : parseTimestamp(t.not_before)!
    if (t.status === "ready" && startAt !== null && startAt > options.now && t.priority_rank !== null) {
      out.push(`${where}: claimable (ranked) before its notBefore ${t.not_before}`)
    }
    // 2. RUNNING iff a lease (token and expiry); tokens are unique.
    if (t.status === "running") {
      if (t.lease_token === null || t.lease_expires_at === null) out.push(`${where}: RUNNING without a lease`)
      if (t.lease_token !== null) {
        if (runningTokens.has(t.lease_token)) out.push(`${where}: lease token shared with another task`)
        runningTokens.add(t.lease_token)
      }
    } else if (t.lease_token !== null || t.lease_expires_at !== null) {
      out.push(`${where}: a lease on a task that is not RUNNING`)
    }
    // 7. Depth: 0 without prerequisites, else 1 + the deepest prerequisite; limits.
    const expectedDepth = mine.length === 0 ? 0 : 1 + Math.max(...mine.map((e) => byId.get(e.prerequisite)?.dependency_depth ?? -1))
    if (t.dependency_depth !== expectedDepth) out.push(`${where}: depth ${t.dependency_depth}, expected ${expectedDepth}`)
    if (t.dependency_depth > limits.maxDepth) out.push(`${where}: depth ${t.dependency_depth} over ${limits.maxDepth}`)
    if (mine.length > limits.maxDependencies) out.push(`${where}: ${mine.length} prerequisites, over ${limits.maxDependencies}`)
    const kids = children.get(t.id) ?? 0
    if (kids > limits.maxSubtasks) out.push(`${where}: ${kids} subtasks, over ${limits.maxSubtasks}`)
    // Priority in range; a refresh time only on READY tasks (time refreshes only what claims compare).
    if (!(t.calculated_priority >= 0 && t.calculated_priority <= 100)) out.push(`${where}: priority ${t.calculated_priority}`)
    if (t.status !== "ready" && t.priority_refresh_at !== null) out.push(`${where}: refresh time on a task that is not ready`)
    // Every waiting task has a place in the claim order (but a READY one waiting for its
    // notBefore, due for a refresh at that instant); other tasks have none.
    const delayed = t.status === "ready" && t.priority_rank === null && t.not_before !== null && t.priority_refresh_at === t.not_before
    if (WAITING.has(t.status) !== (t.priority_rank !== null) && !delayed) out.push(`${where}: claim rank ${t.priority_rank}`)
    // 6. Freshness (at claim time): every READY task, the tasks a claim compares, stands within
    // the bound of the formula, and is in the starved class exactly when it is past the horizon.
    if (options.freshness && t.status === "ready" && delayed && startAt! <= options.now) {
      out.push(`${where}: its notBefore ${t.not_before} passed, yet it has no rank at a claim`)
    }
    if (options.freshness && t.status === "ready" && !delayed) {
      const truth = formulaOf(t, countOpenDependents(t.id), options.now, options.settings)
      const ranked = rankedOf(t, options.now, options.settings)
      const tolerance = options.tolerance ?? 1
      if (ranked === null || Math.abs(truth - ranked) > tolerance) {
        out.push(`${where}: ranked at ${ranked} but the formula gives ${truth} at ${new Date(options.now).toISOString()}`)
      }
      // Past the horizon a task is starved; it may become so up to one refresh step early.
      const p = options.settings.priority
      const horizonAt = parseTimestamp(t.submitted_at)! + p.starvationHorizonSeconds * 1000
      const early = p.refreshStep / starvationRate(p)
      const starved = t.priority_starved === 1
      if (p.weights.starvation > 0 && (starved ? options.now < horizonAt - early : options.now >= horizonAt)) {
        out.push(`${where}: starved flag ${t.priority_starved} at ${new Date(options.now).toISOString()}`)
      }
    }
  }

  // Edges: both ends exist; an edge of a waiting dependent is resolved iff its prerequisite's
  // subtree is complete, or closed under `ignore` (a dependent that started keeps its edges).
  for (const e of edges) {
    const p = byId.get(e.prerequisite)
    const d = byId.get(e.dependent)
    if (p === undefined || d === undefined) {
      out.push(`edge ${e.dependent} -> ${e.prerequisite}: an end does not exist`)
      continue
    }
    if (WAITING.has(d.status) && (e.resolved_at !== null) !== shouldResolve(e)) {
      out.push(
        `edge ${e.dependent} -> ${e.prerequisite} (${e.on_failure}): resolved_at ${e.resolved_at} but the prerequisite is ${p.status} ` +
          `with descendants ${JSON.stringify(countsOf(p.id))}`
      )
    }
  }

  // 7. Acyclic (Kahn's algorithm over every edge).
  const remaining = new Map(tasks.map((t) => [t.id, (prereqs.get(t.id) ?? []).length]))
  const ready = tasks.filter((t) => remaining.get(t.id) === 0).map((t) => t.id)
  let placed = 0
  while (ready.length > 0) {
    const id = ready.pop()!
    placed++
    for (const d of dependents.get(id) ?? []) {
      const left = remaining.get(d)! - 1
      remaining.set(d, left)
      if (left === 0) ready.push(d)
    }
  }
  if (placed !== tasks.length) out.push(`the dependency graph has a cycle among ${tasks.length - placed} tasks`)

  // 7b. No deadlock through the hierarchy: the waits-for relation among open tasks (own and
  // ancestors' unresolved edges, into the prerequisites' open subtrees) has no cycle.
  const waits = waitsOf(tasks, edges)
  const deadlock = findCycleIn([...waits.keys()], (id) => [...(waits.get(id) ?? [])])
  if (deadlock !== null) out.push(`open tasks wait for each other forever: ${deadlock.join(" -> ")}`)

  // Hierarchy: parents exist.
  for (const t of tasks) {
    if (t.parent_task_id !== null && !byId.has(t.parent_task_id)) out.push(`task ${t.id}: parent ${t.parent_task_id} does not exist`)
  }

  // task_stats equals a real count per status (and the priority sums).
  const stats = tables.stats
  for (const s of TaskStatuses) {
    const real = tasks.filter((t) => t.status === s)
    const row = stats.find((r) => r.status === s)
    if (row === undefined) {
      out.push(`task_stats has no row for ${s}`)
      continue
    }
    if (row.task_count !== real.length) out.push(`task_stats says ${row.task_count} ${s}, the table holds ${real.length}`)
    const sum = real.reduce((acc, t) => acc + t.calculated_priority, 0)
    if (Math.abs(row.priority_sum - sum) > 1e-6 * Math.max(1, real.length)) {
      out.push(`task_stats priority sum for ${s} is ${row.priority_sum}, the table gives ${sum}`)
    }
  }

  // Audit: at least one row per task; a chain of changes ending at the current status.
  const audit = tables.audit
  const trail = new Map<string, Array<AuditRow>>()
  for (const a of audit) {
    if (!byId.has(a.task_id)) {
      out.push(`audit row for task ${a.task_id}, which does not exist`)
      continue
    }
    let list = trail.get(a.task_id)
    if (list === undefined) trail.set(a.task_id, (list = []))
    list.push(a)
  }
  for (const t of tasks) {
    const list = trail.get(t.id) ?? []
    if (list.length === 0) {
      out.push(`task ${t.id}: no audit row`)
      continue
    }
    if (list[list.length - 1]!.to_status !== t.status) {
      out.push(`task ${t.id}: status ${t.status} but its last audit row says ${list[list.length - 1]!.to_status}`)
    }
    for (let i = 1; i < list.length; i++) {
      const [prev, row] = [list[i - 1]!, list[i]!]
      // A row from nothing to the same state is a note (the migration records what it dropped).
      const note = row.from_status === null && row.to_status === prev.to_status
      if (row.from_status !== prev.to_status && !note) {
        out.push(`task ${t.id}: audit row ${i} goes from ${list[i]!.from_status}, the previous one ended at ${list[i - 1]!.to_status}`)
      }
    }
  }

  const fk = tables.foreignKeyViolations
  if (fk.length > 0) out.push(`foreign key violations: ${JSON.stringify(fk)}`)
  return out
}

/** Fails the test (a defect) with every broken invariant, checked now against the store under test (StoreProbe). */
export const checkInvariants = (
  options: {
    readonly settings?: QueueSettings
    readonly freshness?: boolean
    readonly tolerance?: number
    readonly strictHistory?: boolean
    readonly context?: string
    /** The tables, when the caller has just read them (`StoreProbe.tables`). */
    readonly tables?: Tables
  } = {}
) =>
  Effect.gen(function* () {
    const tables = options.tables ?? (yield* (yield* StoreProbe).tables)
    const now = yield* Clock.currentTimeMillis
    const violations = violationsIn(tables, {
      now,
      settings: options.settings ?? defaultQueueSettings,
      freshness: options.freshness ?? false,
      ...(options.tolerance !== undefined && { tolerance: options.tolerance }),
      strictHistory: options.strictHistory ?? true
    })
    if (violations.length > 0) {
      const shown = violations.slice(0, 20).join("\n  ")
      const more = violations.length > 20 ? `\n  ... and ${violations.length - 20} more` : ""
      return yield* Effect.die(new Error(`invariants broken${options.context ? ` ${options.context}` : ""}:\n  ${shown}${more}`))
    }
  })

/**
 * What each open task waits for, recomputed from scratch by the hierarchy rule: the open tasks of
 * the subtree of every prerequisite over an unresolved edge of the task or of one of its ancestors.
 */
export const waitsOf = (
  tasks: ReadonlyArray<Pick<Row, "id" | "status" | "parent_task_id">>,
  edges: ReadonlyArray<{ dependent: string; prerequisite: string; resolved_at: string | null }>
): Map<string, Set<string>> => {
  const byId = new Map(tasks.map((t) => [t.id, t]))
  const open = (id: string) => {
    const st = byId.get(id)?.status
    return st !== undefined && st !== "completed" && st !== "failed" && st !== "cancelled"
  }
  const kids = new Map<string, Array<string>>()
  for (const t of tasks) if (t.parent_task_id !== null) kids.set(t.parent_task_id, [...(kids.get(t.parent_task_id) ?? []), t.id])
  const unresolved = new Map<string, Array<string>>()
  for (const e of edges) if (e.resolved_at === null) unresolved.set(e.dependent, [...(unresolved.get(e.dependent) ?? []), e.prerequisite])
  const out = new Map<string, Set<string>>()
  for (const t of tasks) {
    if (!open(t.id)) continue
    const w = new Set<string>()
    const seen = new Set<string>()
    for (let x: string | null = t.id; x !== null && !seen.has(x); x = byId.get(x)?.parent_task_id ?? null) {
      seen.add(x)
      // A finished ancestor's edges gate nothing below it any more (they were resolved or cancelled it).
      if (x !== t.id && !open(x)) continue
      for (const p of unresolved.get(x) ?? []) {
        const stack = [p]
        const inSubtree = new Set<string>()
        while (stack.length > 0) {
          const d = stack.pop()!
          if (inSubtree.has(d)) continue
          inSubtree.add(d)
          if (open(d)) w.add(d)
          stack.push(...(kids.get(d) ?? []))
        }
      }
    }
    out.set(t.id, w)
  }
  return out
}
