/**
 * The floor: plain better-sqlite3 on the same schema (a fresh file migrated with `migrate`
 * from @abathur/schema), the same pragmas as Database.layer, hand-written prepared statements.
 */
import { migrate } from "@abathur/schema"
import BetterSqlite3 from "better-sqlite3"

export type Db = BetterSqlite3.Database

/** Opens and migrates a database file exactly as Database.layer does by default. */
export const openFloor = (filename: string): Db => {
  const db = new BetterSqlite3(filename)
  db.pragma("busy_timeout = 5000")
  db.pragma("journal_mode = WAL")
  db.pragma("synchronous = NORMAL")
  db.pragma("foreign_keys = ON")
  migrate(db, { backup: false })
  return db
}

/** Copies the tasks and edges of another database of the same schema (set-up, not measured). */
export const copyGraph = (db: Db, sourceFile: string): void => {
  db.prepare("ATTACH DATABASE ? AS src").run(sourceFile)
  db.transaction(() => {
    db.exec("INSERT INTO main.tasks SELECT * FROM src.tasks ORDER BY rowid")
    db.exec("INSERT INTO main.task_dependencies SELECT * FROM src.task_dependencies ORDER BY rowid")
  }).immediate()
  db.exec("DETACH DATABASE src")
}

export const iso = (ms: number): string => new Date(ms).toISOString()

/** Claim: one statement through idx_tasks_ready_priority, in its own write transaction. */
export const floorClaim = (db: Db): (() => string | null) => {
  const claim = db.prepare(
    `UPDATE tasks SET status = 'running', started_at = ?, last_updated_at = ?, lease_token = ?,
       lease_expires_at = ?, worker_id = ?, priority_refresh_at = NULL
     WHERE id = (SELECT id FROM tasks WHERE status = 'ready' ORDER BY calculated_priority DESC, submitted_at LIMIT 1)
     RETURNING id, lease_token AS token`
  )
  const tx = db.transaction(() => {
    const now = Date.now()
    const at = iso(now)
    const row = claim.get(at, at, crypto.randomUUID(), iso(now + 3_600_000), "bench") as { id: string; token: string } | undefined
    return row?.id ?? null
  })
  return () => tx.immediate()
}

/**
 * Complete: the task to COMPLETED, its open edges resolved, and each dependent whose last
 * open prerequisite it was to READY; one write transaction. Returns the unblocked ids.
 */
export const floorComplete = (db: Db): ((id: string) => Array<string>) => {
  const done = db.prepare(
    `UPDATE tasks SET status = 'completed', completed_at = ?, last_updated_at = ?, lease_token = NULL, lease_expires_at = NULL
     WHERE id = ? AND status = 'running'`
  )
  const resolve = db
    .prepare(
      `UPDATE task_dependencies SET resolved_at = ? WHERE prerequisite_task_id = ? AND resolved_at IS NULL
       RETURNING dependent_task_id`
    )
    .pluck()
  const unblock = db.prepare(
    `UPDATE tasks SET status = 'ready', last_updated_at = ? WHERE id = ? AND status = 'blocked'
       AND NOT EXISTS (SELECT 1 FROM task_dependencies WHERE dependent_task_id = ? AND resolved_at IS NULL)`
  )
  const tx = db.transaction((id: string) => {
    const at = iso(Date.now())
    if (done.run(at, at, id).changes !== 1) throw new Error(`floor: task ${id} is not running`)
    const unblocked: Array<string> = []
    for (const dep of resolve.all(at, id) as Array<string>) {
      if (unblock.run(at, dep, dep).changes === 1) unblocked.push(dep)
    }
    return unblocked
  })
  return (id) => tx.immediate(id)
}
