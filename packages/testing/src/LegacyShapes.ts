/**
 * What the Python implementation of Abathur left in its databases, for LegacyDatabase.ts: the
 * timestamp formats it wrote, the session and agent tables beside the tasks, and the columns and
 * edge table its own migration added.
 */
import { TASK_DEPENDENCIES_V2 } from "@abathur/schema"

const pad = (n: number, width = 2): string => String(n).padStart(width, "0")

/** Formats an instant the ways the legacy code did. `micros` extends the milliseconds. */
export const formatLegacy = (ms: number, style: number, micros: number): string => {
  const d = new Date(ms)
  const date = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`
  const time = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`
  const fraction = `${pad(d.getUTCMilliseconds(), 3)}${pad(micros, 3)}`
  switch (style) {
    case 0: // SQLite CURRENT_TIMESTAMP (whole seconds: callers pass such instants)
      return `${date} ${time}`
    case 1: // Python naive isoformat()
      return `${date}T${time}.${fraction}`
    case 2: {
      // Python aware isoformat() in another zone
      const offsetMinutes = [120, -300, 330][micros % 3]!
      const local = new Date(ms + offsetMinutes * 60_000)
      const sign = offsetMinutes < 0 ? "-" : "+"
      const abs = Math.abs(offsetMinutes)
      return `${local.toISOString().slice(0, 19)}.${fraction}${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`
    }
    case 3: // Python aware isoformat() in UTC
      return `${date}T${time}.${fraction}+00:00`
    default: // JavaScript
      return d.toISOString()
  }
}

export const SESSIONS_DDL = `
CREATE TABLE sessions (
  id TEXT PRIMARY KEY,
  app_name TEXT NOT NULL,
  user_id TEXT NOT NULL,
  project_id TEXT,
  status TEXT NOT NULL DEFAULT 'created',
  events TEXT NOT NULL DEFAULT '[]',
  state TEXT NOT NULL DEFAULT '{}',
  metadata TEXT DEFAULT '{}',
  created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
  last_update_time TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
  terminated_at TIMESTAMP,
  archived_at TIMESTAMP,
  CHECK(status IN ('created', 'active', 'paused', 'terminated', 'archived'))
);
CREATE INDEX idx_sessions_status_updated ON sessions(status, last_update_time DESC);
CREATE TABLE agents (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  specialization TEXT NOT NULL,
  task_id TEXT NOT NULL,
  state TEXT NOT NULL,
  model TEXT NOT NULL,
  spawned_at TIMESTAMP NOT NULL,
  terminated_at TIMESTAMP,
  resource_usage TEXT,
  session_id TEXT,
  FOREIGN KEY (task_id) REFERENCES tasks(id),
  FOREIGN KEY (session_id) REFERENCES sessions(id)
);
CREATE INDEX idx_agents_task ON agents(task_id);
`

/** The columns the old Python migration added to the tasks table. */
export const PYTHON_TASK_COLUMNS = `
ALTER TABLE tasks ADD COLUMN source TEXT NOT NULL DEFAULT 'human';
ALTER TABLE tasks ADD COLUMN calculated_priority REAL NOT NULL DEFAULT 5.0;
ALTER TABLE tasks ADD COLUMN deadline TIMESTAMP;
ALTER TABLE tasks ADD COLUMN estimated_duration_seconds INTEGER;
ALTER TABLE tasks ADD COLUMN dependency_depth INTEGER DEFAULT 0;
ALTER TABLE tasks ADD COLUMN dependency_type TEXT NOT NULL DEFAULT 'sequential';
`

// The old Python migration created the seed's task_dependencies table: the same DDL as v2's.
export const PYTHON_COLUMNS = `${PYTHON_TASK_COLUMNS}${TASK_DEPENDENCIES_V2};
CREATE INDEX IF NOT EXISTS idx_task_dependencies_prerequisite
  ON task_dependencies(prerequisite_task_id, resolved_at) WHERE resolved_at IS NULL;
CREATE INDEX IF NOT EXISTS idx_task_dependencies_dependent
  ON task_dependencies(dependent_task_id, resolved_at) WHERE resolved_at IS NULL;
CREATE INDEX IF NOT EXISTS idx_tasks_source_created ON tasks(source, created_by, submitted_at DESC);
`
