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
 *
 * The body is one migration script kept whole on purpose (read, convert, link, rebuild, in that
 * order); the conversion of one row is in LegacyRow.ts and the graph work in LegacyGraph.ts.
 */
import type Database from "better-sqlite3"
import { randomUUID } from "node:crypto"
import { QUEUE_INDEXES_V2, SEED_INDEXES_V2, TASK_AUDIT_V2, TASK_DEPENDENCIES_V2, TASK_STATS_V2, TASKS_V2 } from "./Ddl.js"
import { depths, dropCycles, type Edge } from "./LegacyGraph.js"
import { convertTask, DEPENDENCY_TYPES, parseDependencies, show, TaskIds, V2_COLUMN_SET, V2_COLUMNS } from "./LegacyRow.js"
import type { SqlRow, SqlValue } from "./Sqlite.js"
import { quoteIdentifier, tableColumns, tableExists } from "./Sqlite.js"
import { formatTimestamp, parseLegacyTimestamp } from "./Timestamp.js"

export { summarize } from "./LegacyRow.js"

/** The columns a legacy table must have to be read as an Abathur tasks table. */
export const REQUIRED_LEGACY_COLUMNS = ["id", "prompt", "status"] as const

const CHUNK = 1000

/** The facts of a migrated task that the dependency conversion needs. */
interface TaskFacts {
  readonly id: string
  readonly status: string
  readonly submittedAt: string
  readonly completedAt: string | null
  readonly dependencyType: string
  readonly dependencies: SqlValue | undefined
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
