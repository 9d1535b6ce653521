/**
 * Migration 2, "enhanced-queue": rebuilds a legacy (version 1) `tasks` table into the version 2
 * table with SQLite's 12-step procedure (create `tasks_new`, copy, drop `tasks`, rename), turns
 * the JSON `dependencies` column into `task_dependencies` rows, and creates the audit trail,
 * the per-status statistics and every index.
 *
 * Nothing is lost silently: every value that cannot be carried over as it is (a dependency on a
 * task that does not exist, a self-dependency, a malformed value, an edge that would close a
 * cycle, a parent that does not exist, an out-of-range number, a column the new table does not
 * have) leaves a `task_audit` row on its task that says what was there.
 */
import type Database from "better-sqlite3"
import { randomUUID } from "node:crypto"
import { QUEUE_INDEXES_V2, SEED_INDEXES_V2, TASK_AUDIT_V2, TASK_DEPENDENCIES_V2, TASK_STATS_V2, TASKS_V2 } from "./Ddl.js"
import type { SqlRow, SqlValue } from "./Sqlite.js"
import { quoteIdentifier, tableColumns, tableExists } from "./Sqlite.js"
import { formatTimestamp, parseLegacyTimestamp } from "./Timestamp.js"

/** The columns a legacy table must have to be read as an Abathur tasks table. */
export const REQUIRED_LEGACY_COLUMNS = ["id", "prompt", "status"] as const

const STATUSES = new Set(["pending", "blocked", "ready", "running", "completed", "failed", "cancelled"])
const SOURCES = new Set(["human", "agent_requirements", "agent_planner", "agent_implementation"])
const DEPENDENCY_TYPES = new Set(["sequential", "parallel"])

/** Version 2 columns, in the order of the insert below. */
const V2_COLUMNS = [
  "id",
  "prompt",
  "summary",
  "agent_type",
  "priority",
  "status",
  "input_data",
  "result_data",
  "error_message",
  "retry_count",
  "max_retries",
  "max_execution_timeout_seconds",
  "submitted_at",
  "started_at",
  "completed_at",
  "last_updated_at",
  "created_by",
  "parent_task_id",
  "session_id",
  "source",
  "dependency_type",
  "calculated_priority",
  "deadline",
  "estimated_duration_seconds",
  "dependency_depth",
  "lease_token",
  "lease_expires_at",
  "worker_id",
  "priority_refresh_at",
  "cancelled_by"
] as const
type V2Column = (typeof V2_COLUMNS)[number]
type V2Row = Record<V2Column, SqlValue>

const V2_COLUMN_SET: ReadonlySet<string> = new Set(V2_COLUMNS)
/** Legacy columns whose content moves elsewhere (not into a column of the same name). */
const CONVERTED_COLUMNS: ReadonlySet<string> = new Set(["dependencies"])

const CHUNK = 1000
const SUMMARY_MAX = 140
/** The longest execution timeout (CONTRACT "Bounds": 7 days) and estimate (365 days), as the domain has them. */
const MAX_TIMEOUT_SECONDS = 604_800
const MAX_ESTIMATE_SECONDS = 31_536_000

/**
 * `summary` defaults to the prompt's first line, cut to 140 characters (as the domain does):
 * code points, never inside a surrogate pair.
 */
export const summarize = (prompt: string): string => {
  const firstLine = prompt.trim().split(/\r?\n/, 1)[0] ?? ""
  if (firstLine.length <= SUMMARY_MAX) return firstLine
  return Array.from(firstLine).slice(0, SUMMARY_MAX).join("")
}

/** A value for an audit message: JSON, cut short when long. */
const show = (value: unknown): string => {
  const text =
    typeof value === "string"
      ? JSON.stringify(value)
      : Buffer.isBuffer(value)
        ? `<blob of ${value.length} bytes>`
        : typeof value === "bigint"
          ? value.toString()
          : (JSON.stringify(value) ?? String(value))
  return text.length > 200 ? `${text.slice(0, 200)}...` : text
}

const jsonReplacer = (_key: string, value: unknown): unknown =>
  typeof value === "bigint"
    ? value.toString()
    : value !== null && typeof value === "object" && (value as { type?: unknown }).type === "Buffer"
      ? `base64:${Buffer.from((value as { data: Array<number> }).data).toString("base64")}`
      : value

/** The facts of a migrated task that the dependency conversion needs. */
interface TaskFacts {
  readonly id: string
  readonly status: string
  readonly submittedAt: string
  readonly completedAt: string | null
  readonly dependencyType: string
  readonly dependencies: SqlValue | undefined
}

interface Edge {
  readonly id: string
  readonly dependent: string
  readonly prerequisite: string
  readonly type: string
  readonly createdAt: string
  readonly legacyResolvedAt: string | null
}

/** Resolves legacy ids: exactly, else ignoring case (UUIDs written in upper case). */
class TaskIds {
  private readonly exact = new Set<string>()
  private readonly folded = new Map<string, string>()

  add(id: string): void {
    this.exact.add(id)
    const key = id.toLowerCase()
    if (!this.folded.has(key)) this.folded.set(key, id)
  }

  resolve(value: SqlValue | undefined): string | null {
    if (typeof value !== "string") return null
    const s = value.trim()
    if (this.exact.has(s)) return s
    return this.folded.get(s.toLowerCase()) ?? null
  }
}

interface Conversion {
  readonly row: V2Row
  readonly notes: ReadonlyArray<string>
}

/**
 * Converts one legacy row. `columns` are the legacy table's columns, `target` the new table's;
 * `ids` every legacy task id.
 */
const convertTask = (
  legacy: SqlRow,
  columns: ReadonlySet<string>,
  target: ReadonlyArray<string>,
  ids: TaskIds,
  id: string,
  now: Date
): Conversion => {
  const notes: Array<string> = []
  const value = (column: string): SqlValue | undefined => (columns.has(column) ? (legacy[column] ?? null) : undefined)

  // Status.
  const rawStatus = value("status")
  const folded = typeof rawStatus === "string" ? rawStatus.trim().toLowerCase() : ""
  let status: string
  if (STATUSES.has(folded)) {
    status = folded
    if (folded !== rawStatus) notes.push(`legacy status ${show(rawStatus)} read as ${folded}`)
  } else {
    status = "failed"
    notes.push(`legacy status ${show(rawStatus)} is not a known status; migrated as failed`)
  }

  // Numbers.
  const integer = (column: string, fallback: number, min: number, max: number, outOfRange: "clamp" | "default"): number => {
    const raw = value(column)
    if (raw === null || raw === undefined) return fallback
    const n = typeof raw === "bigint" ? Number(raw) : typeof raw === "string" && raw.trim() !== "" ? Number(raw) : raw
    if (typeof n !== "number" || !Number.isFinite(n)) {
      notes.push(`legacy ${column} ${show(raw)} is not a number; set to ${fallback}`)
      return fallback
    }
    const rounded = Math.round(n)
    const result = rounded >= min && rounded <= max ? rounded : outOfRange === "default" ? fallback : Math.min(max, Math.max(min, rounded))
    if (result !== raw) notes.push(`legacy ${column} ${show(raw)} set to ${result}`)
    return result
  }
  const priority = integer("priority", 5, 0, 10, "clamp")
  const retryCount = integer("retry_count", 0, 0, Number.MAX_SAFE_INTEGER, "clamp")
  const maxRetries = integer("max_retries", 3, 0, Number.MAX_SAFE_INTEGER, "clamp")
  let timeout = integer("max_execution_timeout_seconds", 3600, 1, Number.MAX_SAFE_INTEGER, "default")
  if (timeout > MAX_TIMEOUT_SECONDS) {
    // The contract's bound: a lease computed from a larger timeout may not be a valid date.
    notes.push(`legacy max_execution_timeout_seconds ${timeout} set to ${MAX_TIMEOUT_SECONDS} (7 days, the longest timeout)`)
    timeout = MAX_TIMEOUT_SECONDS
  }

  let estimatedDuration: number | null = null
  const rawEstimate = value("estimated_duration_seconds")
  if (rawEstimate !== null && rawEstimate !== undefined) {
    const n = typeof rawEstimate === "bigint" ? Number(rawEstimate) : Number(rawEstimate)
    if (Number.isFinite(n) && n >= 0) {
      estimatedDuration = Math.min(MAX_ESTIMATE_SECONDS, Math.round(n))
      if (estimatedDuration !== rawEstimate) notes.push(`legacy estimated_duration_seconds ${show(rawEstimate)} set to ${estimatedDuration}`)
    } else {
      notes.push(`legacy estimated_duration_seconds ${show(rawEstimate)} is not a duration; set to NULL`)
    }
  }

  let calculatedPriority = 5
  const rawCalculated = value("calculated_priority")
  if (rawCalculated !== null && rawCalculated !== undefined) {
    const n = typeof rawCalculated === "bigint" ? Number(rawCalculated) : Number(rawCalculated)
    if (Number.isFinite(n)) {
      calculatedPriority = Math.min(100, Math.max(0, n))
      if (calculatedPriority !== rawCalculated) notes.push(`legacy calculated_priority ${show(rawCalculated)} set to ${calculatedPriority}`)
    } else {
      notes.push(`legacy calculated_priority ${show(rawCalculated)} is not a number; set to 5`)
    }
  }

  // Enumerations.
  const enumerated = (column: string, allowed: ReadonlySet<string>, fallback: string): string => {
    const raw = value(column)
    if (raw === null || raw === undefined) return fallback
    const s = typeof raw === "string" ? raw.trim().toLowerCase() : ""
    if (allowed.has(s)) return s
    notes.push(`legacy ${column} ${show(raw)} is not known; set to ${fallback}`)
    return fallback
  }
  const source = enumerated("source", SOURCES, "human")
  const dependencyType = enumerated("dependency_type", DEPENDENCY_TYPES, "sequential")

  // Times.
  const time = (column: string): number | null => {
    const raw = value(column)
    if (raw === null || raw === undefined || (typeof raw === "string" && raw.trim() === "")) return null
    const ms = parseLegacyTimestamp(raw)
    if (ms === null) notes.push(`legacy ${column} ${show(raw)} is not a timestamp; dropped`)
    return ms
  }
  const started = time("started_at")
  const completed = time("completed_at")
  const deadline = time("deadline")
  let submitted = time("submitted_at")
  let lastUpdated = time("last_updated_at")
  if (submitted === null) {
    submitted = lastUpdated ?? started ?? completed ?? now.getTime()
    notes.push(`legacy submitted_at missing or unreadable; set to ${formatTimestamp(submitted)}`)
  }
  if (lastUpdated === null) {
    lastUpdated = Math.max(submitted, started ?? submitted, completed ?? submitted)
    notes.push(`legacy last_updated_at missing or unreadable; set to ${formatTimestamp(lastUpdated)}`)
  }

  // Text and JSON.
  const rawPrompt = value("prompt")
  const prompt: SqlValue = rawPrompt ?? ""
  if (rawPrompt === null || rawPrompt === undefined) notes.push("legacy prompt was NULL; set to ''")
  const promptText = Buffer.isBuffer(prompt) ? prompt.toString("utf8") : String(prompt)
  const rawSummary = value("summary")
  const summary = typeof rawSummary === "string" && rawSummary !== "" ? rawSummary : summarize(promptText)

  const inputData = (() => {
    const raw = value("input_data")
    if (raw === null || raw === undefined || (typeof raw === "string" && raw.trim() === "")) return "{}"
    let parsed: unknown
    try {
      parsed = typeof raw === "string" ? JSON.parse(raw) : raw
    } catch {
      notes.push(`legacy input_data is not JSON; kept as {"legacy_input_data": <text>}`)
      return JSON.stringify({ legacy_input_data: raw })
    }
    if (typeof raw === "string" && parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)) return raw
    notes.push(`legacy input_data is not a JSON object; kept as {"legacy_input_data": <value>}`)
    return JSON.stringify({ legacy_input_data: parsed }, jsonReplacer)
  })()

  const resultData = (() => {
    const raw = value("result_data")
    if (raw === null || raw === undefined) return null
    if (typeof raw === "string") {
      try {
        JSON.parse(raw)
        return raw
      } catch {
        notes.push("legacy result_data is not JSON; kept as a JSON string")
        return JSON.stringify(raw)
      }
    }
    notes.push("legacy result_data is not JSON text; kept as JSON")
    return JSON.stringify(raw, jsonReplacer) ?? null
  })()

  // Parent.
  let parent: string | null = null
  const rawParent = value("parent_task_id")
  if (rawParent !== null && rawParent !== undefined && rawParent !== "") {
    const resolved = ids.resolve(rawParent)
    if (resolved === null) notes.push(`legacy parent_task_id ${show(rawParent)} names no task; set to NULL`)
    else if (resolved === id) notes.push("legacy parent_task_id named the task itself; set to NULL")
    else parent = resolved
  }

  // A legacy RUNNING task keeps running under a lease that expires when its timeout would.
  let leaseToken: string | null = null
  let leaseExpiresAt: string | null = null
  if (status === "running") {
    leaseToken = randomUUID()
    leaseExpiresAt = formatTimestamp((started ?? lastUpdated) + timeout * 1000)
  }

  // Columns the new table does not have: their values stay in the audit trail.
  const extras: Record<string, unknown> = {}
  for (const column of columns) {
    if (V2_COLUMN_SET.has(column) || CONVERTED_COLUMNS.has(column) || target.includes(column)) continue
    const raw = legacy[column]
    if (raw !== null && raw !== undefined) extras[column] = raw
  }
  if (Object.keys(extras).length > 0) {
    notes.push(`legacy columns without a place in schema v2: ${JSON.stringify(extras, jsonReplacer)}`)
  }

  const nullableText = (column: string): SqlValue => value(column) ?? null
  return {
    row: {
      id,
      prompt,
      summary,
      agent_type: value("agent_type") ?? "general",
      priority,
      status,
      input_data: inputData,
      result_data: resultData,
      error_message: nullableText("error_message"),
      retry_count: retryCount,
      max_retries: maxRetries,
      max_execution_timeout_seconds: timeout,
      submitted_at: formatTimestamp(submitted),
      started_at: started === null ? null : formatTimestamp(started),
      completed_at: completed === null ? null : formatTimestamp(completed),
      last_updated_at: formatTimestamp(lastUpdated),
      created_by: nullableText("created_by"),
      parent_task_id: parent,
      session_id: nullableText("session_id"),
      source,
      dependency_type: dependencyType,
      calculated_priority: calculatedPriority,
      deadline: deadline === null ? null : formatTimestamp(deadline),
      estimated_duration_seconds: estimatedDuration,
      dependency_depth: 0,
      lease_token: leaseToken,
      lease_expires_at: leaseExpiresAt,
      worker_id: null,
      priority_refresh_at: null,
      cancelled_by: null
    },
    notes
  }
}

/** The ids a legacy `dependencies` value names, and what is wrong with it. */
const parseDependencies = (raw: SqlValue | undefined): { ids: Array<string>; problems: Array<string> } => {
  if (raw === null || raw === undefined) return { ids: [], problems: [] }
  if (typeof raw !== "string") return { ids: [], problems: [`legacy dependencies value ${show(raw)} is malformed; dropped`] }
  if (raw.trim() === "") return { ids: [], problems: [] }
  let parsed: unknown
  try {
    parsed = JSON.parse(raw)
  } catch {
    return { ids: [], problems: [`legacy dependencies value ${show(raw)} is malformed; dropped`] }
  }
  if (parsed === null) return { ids: [], problems: [] }
  const entries: Array<unknown> = typeof parsed === "string" ? [parsed] : Array.isArray(parsed) ? parsed : []
  if (!Array.isArray(parsed) && typeof parsed !== "string") {
    return { ids: [], problems: [`legacy dependencies value ${show(raw)} is malformed; dropped`] }
  }
  const ids: Array<string> = []
  const problems: Array<string> = []
  for (const entry of entries) {
    if (typeof entry === "string" && entry.trim() !== "") ids.push(entry.trim())
    else problems.push(`legacy dependency entry ${show(entry)} is not a task id; dropped`)
  }
  return { ids, problems }
}

/**
 * Strongly connected components of a directed graph (iterative Tarjan): a map from node to
 * component number. Only edges inside one component can lie on a cycle.
 */
const components = (nodes: Iterable<string>, successors: ReadonlyMap<string, ReadonlyArray<string>>): Map<string, number> => {
  const index = new Map<string, number>()
  const low = new Map<string, number>()
  const onStack = new Set<string>()
  const stack: Array<string> = []
  const component = new Map<string, number>()
  let counter = 0
  let componentCount = 0
  for (const root of nodes) {
    if (index.has(root)) continue
    const work: Array<{ node: string; next: number }> = [{ node: root, next: 0 }]
    index.set(root, counter)
    low.set(root, counter)
    counter++
    stack.push(root)
    onStack.add(root)
    while (work.length > 0) {
      const frame = work[work.length - 1]!
      const out = successors.get(frame.node) ?? []
      if (frame.next < out.length) {
        const next = out[frame.next++]!
        if (!index.has(next)) {
          index.set(next, counter)
          low.set(next, counter)
          counter++
          stack.push(next)
          onStack.add(next)
          work.push({ node: next, next: 0 })
        } else if (onStack.has(next)) {
          low.set(frame.node, Math.min(low.get(frame.node)!, index.get(next)!))
        }
        continue
      }
      work.pop()
      const parent = work[work.length - 1]
      if (parent !== undefined) low.set(parent.node, Math.min(low.get(parent.node)!, low.get(frame.node)!))
      if (low.get(frame.node) === index.get(frame.node)) {
        let member: string | undefined
        do {
          member = stack.pop()!
          onStack.delete(member)
          component.set(member, componentCount)
        } while (member !== frame.node)
        componentCount++
      }
    }
  }
  return component
}

/** A path from `from` to `to` along `successors`, or null. */
const findPath = (from: string, to: string, successors: ReadonlyMap<string, ReadonlyArray<string>>): Array<string> | null => {
  const previous = new Map<string, string | null>([[from, null]])
  const queue = [from]
  for (let head = 0; head < queue.length; head++) {
    const node = queue[head]!
    if (node === to) {
      const path: Array<string> = []
      for (let at: string | null = node; at !== null; at = previous.get(at) ?? null) path.push(at)
      return path.reverse()
    }
    for (const next of successors.get(node) ?? []) {
      if (!previous.has(next)) {
        previous.set(next, node)
        queue.push(next)
      }
    }
  }
  return null
}

/** Keeps the edges, in order, that close no cycle; reports the others with the cycle they close. */
const dropCycles = (edges: ReadonlyArray<Edge>): { kept: Array<Edge>; dropped: Array<{ edge: Edge; cycle: Array<string> }> } => {
  const successors = new Map<string, Array<string>>()
  for (const e of edges) {
    const out = successors.get(e.dependent)
    if (out === undefined) successors.set(e.dependent, [e.prerequisite])
    else out.push(e.prerequisite)
  }
  const component = components(successors.keys(), successors)
  const kept: Array<Edge> = []
  const dropped: Array<{ edge: Edge; cycle: Array<string> }> = []
  const inside = new Map<string, Array<string>>()
  for (const e of edges) {
    if (component.get(e.dependent) !== component.get(e.prerequisite)) {
      kept.push(e)
      continue
    }
    // Both ends in one strongly connected component: keep the edge unless the kept edges
    // already lead from the prerequisite back to the dependent.
    const back = findPath(e.prerequisite, e.dependent, inside)
    if (back !== null) {
      dropped.push({ edge: e, cycle: [e.dependent, ...back] })
      continue
    }
    kept.push(e)
    const out = inside.get(e.dependent)
    if (out === undefined) inside.set(e.dependent, [e.prerequisite])
    else out.push(e.prerequisite)
  }
  return { kept, dropped }
}

/** dependency_depth of every task with prerequisites: 1 + the largest depth of its prerequisites. */
const depths = (edges: ReadonlyArray<Edge>): Map<string, number> => {
  const prerequisites = new Map<string, number>()
  const dependents = new Map<string, Array<string>>()
  for (const e of edges) {
    prerequisites.set(e.dependent, (prerequisites.get(e.dependent) ?? 0) + 1)
    if (!prerequisites.has(e.prerequisite)) prerequisites.set(e.prerequisite, 0)
    const out = dependents.get(e.prerequisite)
    if (out === undefined) dependents.set(e.prerequisite, [e.dependent])
    else out.push(e.dependent)
  }
  const depth = new Map<string, number>()
  const open = new Map(prerequisites)
  const queue: Array<string> = []
  for (const [task, count] of open) {
    if (count === 0) {
      queue.push(task)
      depth.set(task, 0)
    }
  }
  for (let head = 0; head < queue.length; head++) {
    const task = queue[head]!
    const d = depth.get(task)!
    for (const dependent of dependents.get(task) ?? []) {
      depth.set(dependent, Math.max(depth.get(dependent) ?? 0, d + 1))
      const left = open.get(dependent)! - 1
      open.set(dependent, left)
      if (left === 0) queue.push(dependent)
    }
  }
  return depth
}

/** The version 2 tasks DDL under another table name (its self-reference stays `tasks`). */
const tasksTableDdl = (name: string): string => TASKS_V2.replace(/CREATE TABLE tasks \(/, `CREATE TABLE ${name} (`)

/** Migration 2's body. Runs inside the migrator's transaction, with foreign keys off. */
export const upgradeLegacyTasks = (db: Database.Database, now: Date): void => {
  const nowIso = formatTimestamp(now.getTime())
  const legacyColumns = tableColumns(db, "tasks")
  const missing = REQUIRED_LEGACY_COLUMNS.filter((c) => !legacyColumns.includes(c))
  if (missing.length > 0) {
    throw new Error(`the tasks table lacks the column(s) ${missing.join(", ")}, so it is not an Abathur tasks table`)
  }
  const columns: ReadonlySet<string> = new Set(legacyColumns)
  if (tableExists(db, "tasks_new")) {
    throw new Error("a table named tasks_new already exists (left by an interrupted rebuild?); rename or drop it, then migrate again")
  }

  // A table of edges that the old Python migration may already have created.
  const legacyEdges: Array<SqlRow> = tableExists(db, "task_dependencies")
    ? (db.prepare("SELECT * FROM task_dependencies ORDER BY rowid").all() as Array<SqlRow>)
    : []

  db.exec(tasksTableDdl("tasks_new"))
  db.exec(TASK_AUDIT_V2)
  const audit = db.prepare("INSERT INTO task_audit (task_id, from_status, to_status, at, actor, reason) VALUES (?, NULL, ?, ?, 'migration', ?)")
  // Columns of the new table that this conversion does not compute (added to the DDL later)
  // take the legacy column of the same name when there is one, else their default.
  const target = tableColumns(db, "tasks_new")
  const computed = V2_COLUMNS.filter((c) => target.includes(c))
  const copied = target.filter((c) => !V2_COLUMN_SET.has(c) && columns.has(c))
  const insertColumns = [...computed, ...copied]
  const insert = db.prepare(
    `INSERT INTO tasks_new (${insertColumns.map(quoteIdentifier).join(", ")}) VALUES (${insertColumns.map(() => "?").join(", ")})`
  )

  const ids = new TaskIds()
  for (const r of db.prepare("SELECT id FROM tasks WHERE id IS NOT NULL").raw().iterate() as IterableIterator<[SqlValue]>) {
    if (typeof r[0] === "string" && r[0] !== "") ids.add(r[0])
  }

  // Copy, a chunk at a time.
  const facts = new Map<string, TaskFacts>()
  const order: Array<string> = []
  const read = db.prepare(`SELECT rowid AS "abathur_legacy_rowid", * FROM tasks WHERE rowid > ? ORDER BY rowid LIMIT ${CHUNK}`)
  let last: SqlValue = -(2n ** 63n)
  for (;;) {
    const rows = read.all(last) as Array<SqlRow>
    if (rows.length === 0) break
    for (const legacy of rows) {
      last = legacy["abathur_legacy_rowid"] ?? last
      const row = { ...legacy }
      delete row["abathur_legacy_rowid"]
      const rawId = row["id"]
      let id: string
      const notes: Array<string> = []
      if (typeof rawId === "string" && rawId !== "" && !facts.has(rawId)) {
        id = rawId
      } else {
        id = randomUUID()
        notes.push(`legacy task id ${show(rawId)} was missing or not usable; given the id ${id}`)
      }
      const converted = convertTask(row, columns, target, ids, id, now)
      insert.run(...computed.map((c) => converted.row[c]), ...copied.map((c) => row[c] ?? null))
      const status = converted.row.status as string
      audit.run(id, status, nowIso, "migrated from schema v1")
      for (const note of [...notes, ...converted.notes]) audit.run(id, status, nowIso, note)
      facts.set(id, {
        id,
        status,
        submittedAt: converted.row.submitted_at as string,
        completedAt: converted.row.completed_at as string | null,
        dependencyType: converted.row.dependency_type as string,
        dependencies: columns.has("dependencies") ? (row["dependencies"] ?? null) : undefined
      })
      order.push(id)
    }
  }

  // Dependencies: the legacy edge table first, then the JSON column, each edge once.
  const note = (task: string, reason: string) => audit.run(task, facts.get(task)!.status, nowIso, reason)
  const candidates: Array<Edge> = []
  const seen = new Set<string>()
  const edgeIds = new Set<string>()
  const consider = (
    dependent: string,
    prerequisiteRaw: SqlValue | undefined,
    type: string,
    createdAt: string,
    legacyId: SqlValue | undefined,
    legacyResolvedAt: string | null
  ) => {
    const prerequisite = ids.resolve(prerequisiteRaw)
    if (prerequisite === null || !facts.has(prerequisite)) {
      note(dependent, `legacy dependency on unknown task ${typeof prerequisiteRaw === "string" ? prerequisiteRaw : show(prerequisiteRaw)} dropped`)
      return
    }
    if (prerequisite === dependent) {
      note(dependent, `legacy dependency on itself (${prerequisite}) dropped`)
      return
    }
    const key = `${dependent}\u0000${prerequisite}`
    if (seen.has(key)) return
    seen.add(key)
    const id = typeof legacyId === "string" && legacyId !== "" && !edgeIds.has(legacyId) ? legacyId : randomUUID()
    edgeIds.add(id)
    candidates.push({ id, dependent, prerequisite, type, createdAt, legacyResolvedAt })
  }
  for (const e of legacyEdges) {
    const dependent = ids.resolve(e["dependent_task_id"])
    if (dependent === null || !facts.has(dependent)) {
      const prerequisite = ids.resolve(e["prerequisite_task_id"])
      if (prerequisite !== null && facts.has(prerequisite)) {
        note(prerequisite, `legacy dependency of unknown task ${show(e["dependent_task_id"] ?? null)} on this task dropped`)
      }
      continue
    }
    const task = facts.get(dependent)!
    const rawType = typeof e["dependency_type"] === "string" ? e["dependency_type"].trim().toLowerCase() : ""
    const createdMs = parseLegacyTimestamp(e["created_at"])
    const resolvedMs = parseLegacyTimestamp(e["resolved_at"])
    consider(
      dependent,
      e["prerequisite_task_id"],
      DEPENDENCY_TYPES.has(rawType) ? rawType : task.dependencyType,
      createdMs === null ? task.submittedAt : formatTimestamp(createdMs),
      e["id"],
      resolvedMs === null ? null : formatTimestamp(resolvedMs)
    )
  }
  for (const id of order) {
    const task = facts.get(id)!
    const parsed = parseDependencies(task.dependencies)
    for (const problem of parsed.problems) note(id, problem)
    for (const prerequisite of parsed.ids) consider(id, prerequisite, task.dependencyType, task.submittedAt, undefined, null)
  }

  const { kept, dropped } = dropCycles(candidates)
  for (const { edge, cycle } of dropped) {
    note(edge.dependent, `legacy dependency on ${edge.prerequisite} dropped: it would close the cycle ${cycle.join(" -> ")}`)
  }
  const setDepth = db.prepare("UPDATE tasks_new SET dependency_depth = ? WHERE id = ?")
  for (const [task, depth] of depths(kept)) if (depth > 0) setDepth.run(depth, task)

  // The 12-step rebuild: drop the old table, give the new one its name. legacy_alter_table keeps
  // the rename from re-parsing views and triggers that name `tasks` while it is gone.
  db.exec("DROP TABLE tasks")
  if (tableExists(db, "task_dependencies")) db.exec("DROP TABLE task_dependencies")
  const legacyAlter = db.pragma("legacy_alter_table", { simple: true }) as number
  db.pragma("legacy_alter_table = ON")
  try {
    db.exec("ALTER TABLE tasks_new RENAME TO tasks")
  } finally {
    db.pragma(`legacy_alter_table = ${legacyAlter ? "ON" : "OFF"}`)
  }

  db.exec(TASK_DEPENDENCIES_V2)
  const insertEdge = db.prepare(
    "INSERT INTO task_dependencies (id, dependent_task_id, prerequisite_task_id, dependency_type, created_at, resolved_at) VALUES (?, ?, ?, ?, ?, ?)"
  )
  for (const e of kept) {
    const prerequisite = facts.get(e.prerequisite)!
    const resolvedAt = prerequisite.status === "completed" ? (e.legacyResolvedAt ?? prerequisite.completedAt ?? nowIso) : null
    insertEdge.run(e.id, e.dependent, e.prerequisite, e.type, e.createdAt, resolvedAt)
  }

  db.exec(TASK_STATS_V2)
  db.exec(SEED_INDEXES_V2)
  db.exec(QUEUE_INDEXES_V2)
}
