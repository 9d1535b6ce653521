import Database from "better-sqlite3"
import * as path from "node:path"
import { afterEach } from "vitest"
// @abathur/testing depends on this package, so its helpers come by path.
import { dumpDatabase as dump } from "../../testing/src/DatabaseDump.js"
import { tempDir } from "../../testing/src/Vitest.js"
import { TASKS_V1 } from "../src/Ddl.js"
import { LATEST_VERSION, type Migration } from "../src/Migrations.js"

export { SEED_INDEXES } from "./SeedIndexes.js"
export { dump, tempDir }

const open: Array<Database.Database> = []

afterEach(() => {
  for (const db of open.splice(0)) if (db.open) db.close()
})

/** A database file in a fresh temporary directory, closed after the test. */
export const openDatabase = (file?: string): Database.Database => {
  const db = new Database(file ?? path.join(tempDir(), "abathur.db"))
  open.push(db)
  return db
}

/** A legacy row: an id and any columns (values as loose as SQLite allows). */
export interface V1Task {
  readonly id: string
  readonly [column: string]: unknown
}

/** The TASKS_V1 table, optionally without its status CHECK, filled with rows. */
export const createV1 = (
  db: Database.Database,
  tasks: ReadonlyArray<V1Task>,
  options: { versioned?: boolean; statusCheck?: boolean; ddl?: string } = {}
): void => {
  let ddl = options.ddl ?? TASKS_V1
  if (options.statusCheck === false) ddl = ddl.replace(/ CHECK\(status IN \([^)]*\)\)/, "")
  db.exec(ddl)
  if (options.versioned === true) {
    db.exec("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)")
    db.prepare("INSERT INTO schema_migrations VALUES (1, 'legacy-tasks', '2025-10-01T00:00:00.000Z')").run()
  }
  const foreignKeys = db.pragma("foreign_keys", { simple: true }) === 1
  db.pragma("foreign_keys = OFF")
  db.transaction(() => {
    for (const t of tasks) insertV1(db, t)
  })()
  db.pragma(`foreign_keys = ${foreignKeys ? "ON" : "OFF"}`)
}

export const insertV1 = (db: Database.Database, task: V1Task): void => {
  const row: Record<string, unknown> = {
    prompt: `Task ${task.id}`,
    agent_type: "general",
    priority: 5,
    status: "pending",
    input_data: "{}",
    submitted_at: "2025-10-10 12:00:00",
    last_updated_at: "2025-10-10 12:00:00",
    ...task
  }
  const columns = Object.keys(row)
  db.prepare(`INSERT INTO tasks (${columns.join(", ")}) VALUES (${columns.map(() => "?").join(", ")})`).run(...columns.map((c) => row[c]))
}

/** A row of a table by id. */
export const row = (db: Database.Database, table: string, id: string): Record<string, unknown> =>
  db.prepare(`SELECT * FROM ${table} WHERE id = ?`).get(id) as Record<string, unknown>

/** The audit reasons of a task, in order. */
export const auditReasons = (db: Database.Database, taskId: string): Array<string> =>
  (db.prepare("SELECT reason FROM task_audit WHERE task_id = ? ORDER BY id").all(taskId) as Array<{ reason: string }>).map((r) => r.reason)

export const uuid = (n: number): string => `00000000-0000-4000-8000-${n.toString(16).padStart(12, "0")}`

/** The instant the legacy upgrade tests migrate at. */
export const NOW = "2026-11-26T06:04:11.123Z"
export const now = () => new Date(NOW)

/** A legacy tasks table as loose as SQLite allows: no NOT NULL, no CHECK. */
export const LOOSE_V1 = `
CREATE TABLE tasks (
  id TEXT PRIMARY KEY, prompt TEXT, agent_type TEXT, priority INTEGER, status TEXT, input_data TEXT,
  result_data TEXT, error_message TEXT, retry_count INTEGER, max_retries INTEGER,
  max_execution_timeout_seconds INTEGER, submitted_at TIMESTAMP, started_at TIMESTAMP,
  completed_at TIMESTAMP, last_updated_at TIMESTAMP, created_by TEXT, parent_task_id TEXT,
  dependencies TEXT, session_id TEXT
)`

/** The dependency edges of a migrated database, as [dependent, prerequisite], sorted. */
export const edges = (db: Database.Database): Array<[string, string]> =>
  (
    db.prepare("SELECT dependent_task_id AS d, prerequisite_task_id AS p FROM task_dependencies ORDER BY d, p").all() as Array<{
      d: string
      p: string
    }>
  ).map((e) => [e.d, e.p])

/** A migration that throws "boom" (after the last one unless `version` says otherwise): for the all-or-nothing tests. */
export const failingMigration = (version: number = LATEST_VERSION + 1): Migration => ({
  version,
  name: "boom",
  up: () => {
    throw new Error("boom")
  }
})
