/**
 * The SQL of every schema version, as plain strings. Migrations (Migrations.ts) apply them;
 * nothing else in the project writes DDL.
 */

/** Version 1: the existing Abathur schema (five states, dependencies as a JSON column). */
export const TASKS_V1 = `
CREATE TABLE tasks (
  id TEXT PRIMARY KEY,
  prompt TEXT NOT NULL,
  agent_type TEXT NOT NULL DEFAULT 'general',
  priority INTEGER NOT NULL DEFAULT 5,
  status TEXT NOT NULL CHECK(status IN ('pending', 'running', 'completed', 'failed', 'cancelled')),
  input_data TEXT NOT NULL,
  result_data TEXT,
  error_message TEXT,
  retry_count INTEGER DEFAULT 0,
  max_retries INTEGER DEFAULT 3,
  max_execution_timeout_seconds INTEGER DEFAULT 3600,
  submitted_at TIMESTAMP NOT NULL,
  started_at TIMESTAMP,
  completed_at TIMESTAMP,
  last_updated_at TIMESTAMP NOT NULL,
  created_by TEXT,
  parent_task_id TEXT,
  dependencies TEXT,
  session_id TEXT,
  FOREIGN KEY (parent_task_id) REFERENCES tasks(id)
);
CREATE INDEX IF NOT EXISTS idx_tasks_status_priority ON tasks(status, priority DESC, submitted_at ASC);
CREATE INDEX IF NOT EXISTS idx_tasks_submitted_at ON tasks(submitted_at);
`

/** The existing columns of a version 1 (or never versioned) tasks table. */
export const TASK_COLUMNS_V1 = [
  "id",
  "prompt",
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
  "dependencies",
  "session_id"
] as const

/**
 * Version 2: the enhanced queue. The tasks table is rebuilt (the status CHECK grows to seven
 * states; the JSON `dependencies` column becomes rows of task_dependencies).
 * All times are TEXT in ISO-8601 UTC with milliseconds (`2026-01-31T17:00:00.000Z`), so they
 * compare and sort as strings.
 */
export const TASKS_V2 = `
CREATE TABLE tasks (
  id TEXT PRIMARY KEY,
  prompt TEXT NOT NULL,
  summary TEXT NOT NULL DEFAULT '',
  agent_type TEXT NOT NULL DEFAULT 'general',
  priority INTEGER NOT NULL DEFAULT 5 CHECK(priority BETWEEN 0 AND 10),
  status TEXT NOT NULL DEFAULT 'pending'
    CHECK(status IN ('pending', 'blocked', 'ready', 'running', 'completed', 'failed', 'cancelled')),
  input_data TEXT NOT NULL DEFAULT '{}',
  result_data TEXT,
  error_message TEXT,
  retry_count INTEGER NOT NULL DEFAULT 0 CHECK(retry_count >= 0),
  max_retries INTEGER NOT NULL DEFAULT 3 CHECK(max_retries >= 0),
  max_execution_timeout_seconds INTEGER NOT NULL DEFAULT 3600 CHECK(max_execution_timeout_seconds > 0),
  submitted_at TEXT NOT NULL,
  started_at TEXT,
  completed_at TEXT,
  last_updated_at TEXT NOT NULL,
  created_by TEXT,
  parent_task_id TEXT REFERENCES tasks(id),
  session_id TEXT,
  source TEXT NOT NULL DEFAULT 'human'
    CHECK(source IN ('human', 'agent_requirements', 'agent_planner', 'agent_implementation')),
  dependency_type TEXT NOT NULL DEFAULT 'sequential' CHECK(dependency_type IN ('sequential', 'parallel')),
  calculated_priority REAL NOT NULL DEFAULT 5.0,
  deadline TEXT,
  estimated_duration_seconds INTEGER CHECK(estimated_duration_seconds >= 0),
  dependency_depth INTEGER NOT NULL DEFAULT 0 CHECK(dependency_depth >= 0),
  lease_token TEXT,
  lease_expires_at TEXT,
  worker_id TEXT,
  priority_refresh_at TEXT,
  cancelled_by TEXT,
  CHECK(parent_task_id IS NULL OR parent_task_id != id)
)
`

export const TASK_DEPENDENCIES_V2 = `
CREATE TABLE IF NOT EXISTS task_dependencies (
  id TEXT PRIMARY KEY,
  dependent_task_id TEXT NOT NULL,
  prerequisite_task_id TEXT NOT NULL,
  dependency_type TEXT NOT NULL DEFAULT 'sequential',
  created_at TIMESTAMP NOT NULL,
  resolved_at TIMESTAMP,

  FOREIGN KEY (dependent_task_id) REFERENCES tasks(id) ON DELETE CASCADE,
  FOREIGN KEY (prerequisite_task_id) REFERENCES tasks(id) ON DELETE CASCADE,
  CHECK(dependency_type IN ('sequential', 'parallel')),
  CHECK(dependent_task_id != prerequisite_task_id),
  UNIQUE(dependent_task_id, prerequisite_task_id)
)
`

/** Every state change and submission, for audit. Rows go with their task when it is pruned. */
export const TASK_AUDIT_V2 = `
CREATE TABLE IF NOT EXISTS task_audit (
  id INTEGER PRIMARY KEY,
  task_id TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
  from_status TEXT,
  to_status TEXT NOT NULL,
  at TEXT NOT NULL,
  actor TEXT,
  reason TEXT
)
`

/**
 * Per-status counts and priority sums, kept by triggers in the same transaction as every
 * change, so that queue status costs O(1) at any table size.
 */
export const TASK_STATS_V2 = `
CREATE TABLE IF NOT EXISTS task_stats (
  status TEXT PRIMARY KEY,
  task_count INTEGER NOT NULL DEFAULT 0,
  priority_sum REAL NOT NULL DEFAULT 0
);
INSERT OR IGNORE INTO task_stats(status) VALUES
  ('pending'), ('blocked'), ('ready'), ('running'), ('completed'), ('failed'), ('cancelled');
CREATE TRIGGER IF NOT EXISTS trg_task_stats_insert AFTER INSERT ON tasks BEGIN
  UPDATE task_stats SET task_count = task_count + 1, priority_sum = priority_sum + NEW.calculated_priority
  WHERE status = NEW.status;
END;
CREATE TRIGGER IF NOT EXISTS trg_task_stats_delete AFTER DELETE ON tasks BEGIN
  UPDATE task_stats SET task_count = task_count - 1, priority_sum = priority_sum - OLD.calculated_priority
  WHERE status = OLD.status;
END;
CREATE TRIGGER IF NOT EXISTS trg_task_stats_update AFTER UPDATE OF status, calculated_priority ON tasks
WHEN OLD.status IS NOT NEW.status OR OLD.calculated_priority IS NOT NEW.calculated_priority BEGIN
  UPDATE task_stats SET task_count = task_count - 1, priority_sum = priority_sum - OLD.calculated_priority
  WHERE status = OLD.status;
  UPDATE task_stats SET task_count = task_count + 1, priority_sum = priority_sum + NEW.calculated_priority
  WHERE status = NEW.status;
END;
UPDATE task_stats SET
  task_count = (SELECT count(*) FROM tasks t WHERE t.status = task_stats.status),
  priority_sum = (SELECT coalesce(sum(calculated_priority), 0) FROM tasks t WHERE t.status = task_stats.status);
`

/** The seed's six indexes. */
export const SEED_INDEXES_V2 = `
CREATE INDEX IF NOT EXISTS idx_task_dependencies_prerequisite
  ON task_dependencies(prerequisite_task_id, resolved_at) WHERE resolved_at IS NULL;
CREATE INDEX IF NOT EXISTS idx_task_dependencies_dependent
  ON task_dependencies(dependent_task_id, resolved_at) WHERE resolved_at IS NULL;
CREATE INDEX IF NOT EXISTS idx_tasks_ready_priority
  ON tasks(status, calculated_priority DESC, submitted_at ASC) WHERE status = 'ready';
CREATE INDEX IF NOT EXISTS idx_tasks_source_created
  ON tasks(source, created_by, submitted_at DESC);
CREATE INDEX IF NOT EXISTS idx_tasks_deadline
  ON tasks(deadline, status) WHERE deadline IS NOT NULL AND status IN ('pending', 'blocked', 'ready');
CREATE INDEX IF NOT EXISTS idx_tasks_blocked
  ON tasks(status, submitted_at ASC) WHERE status = 'blocked';
`

/** Indexes the queue's own hot paths use, beyond the seed's. */
export const QUEUE_INDEXES_V2 = `
CREATE INDEX IF NOT EXISTS idx_tasks_ready_agent_priority
  ON tasks(agent_type, calculated_priority DESC, submitted_at ASC) WHERE status = 'ready';
CREATE INDEX IF NOT EXISTS idx_tasks_ready_submitted
  ON tasks(submitted_at) WHERE status = 'ready';
CREATE INDEX IF NOT EXISTS idx_tasks_lease_expiry
  ON tasks(lease_expires_at) WHERE status = 'running';
CREATE INDEX IF NOT EXISTS idx_tasks_priority_refresh
  ON tasks(priority_refresh_at) WHERE priority_refresh_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS idx_tasks_open_depth
  ON tasks(dependency_depth) WHERE status IN ('pending', 'blocked', 'ready', 'running');
CREATE INDEX IF NOT EXISTS idx_tasks_parent ON tasks(parent_task_id);
CREATE INDEX IF NOT EXISTS idx_tasks_status_submitted ON tasks(status, submitted_at);
CREATE INDEX IF NOT EXISTS idx_task_dependencies_prerequisite_all ON task_dependencies(prerequisite_task_id);
CREATE INDEX IF NOT EXISTS idx_task_audit_task ON task_audit(task_id, id);
`

/** The version table the migrator keeps (one row per applied migration). */
export const SCHEMA_MIGRATIONS = `
CREATE TABLE IF NOT EXISTS schema_migrations (
  version INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  applied_at TEXT NOT NULL
)
`

/**
 * Version 3: the claim order. Starvation rises at the same rate for every waiting task, so
 * a task's `priority_rank` (its score minus that shared growth) keeps its place as time
 * passes; tasks past the starvation horizon (`priority_starved` = 1) rank by their score.
 * A claim reads the head of each class through `idx_tasks_ready_rank` and compares the two
 * at the current instant. Existing READY tasks are made due for a refresh, which computes
 * their rank before the next claim.
 */
export const CLAIM_RANK_V3 = `
ALTER TABLE tasks ADD COLUMN priority_rank REAL;
ALTER TABLE tasks ADD COLUMN priority_starved INTEGER NOT NULL DEFAULT 0 CHECK (priority_starved IN (0, 1));
DROP INDEX IF EXISTS idx_tasks_ready_agent_priority;
CREATE INDEX IF NOT EXISTS idx_tasks_ready_rank
  ON tasks(priority_starved, priority_rank DESC, submitted_at ASC) WHERE status = 'ready';
CREATE INDEX IF NOT EXISTS idx_tasks_ready_agent_rank
  ON tasks(agent_type, priority_starved, priority_rank DESC, submitted_at ASC) WHERE status = 'ready';
UPDATE tasks SET priority_refresh_at = submitted_at WHERE status = 'ready';
`

/**
 * Version 4: the hierarchy gates the work (CONTRACT, December additions).
 * - `subtree_open|completed|failed|cancelled`: counts of a task's strict descendants by outcome,
 *   kept by the engine along the ancestor chain of every state change (no subtree scans);
 * - `ancestor_gated`: 1 when some ancestor has an unresolved prerequisite edge;
 * - `not_before`, `retry_backoff_seconds`, `stall_count`: delayed starts, retry backoff, stalls;
 * - `idempotency_key` (unique) and `idempotency_fingerprint` (the submit fields' hash);
 * - `task_dependencies.on_failure`: `cancel` or `ignore`;
 * - `plan_submissions`: plans submitted with an idempotency key, with their tasks by key.
 */
export const HIERARCHY_V4 = `
ALTER TABLE tasks ADD COLUMN not_before TEXT;
ALTER TABLE tasks ADD COLUMN idempotency_key TEXT;
ALTER TABLE tasks ADD COLUMN idempotency_fingerprint TEXT;
ALTER TABLE tasks ADD COLUMN stall_count INTEGER NOT NULL DEFAULT 0 CHECK (stall_count >= 0);
ALTER TABLE tasks ADD COLUMN retry_backoff_seconds INTEGER CHECK (retry_backoff_seconds >= 0);
ALTER TABLE tasks ADD COLUMN subtree_open INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD COLUMN subtree_completed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD COLUMN subtree_failed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD COLUMN subtree_cancelled INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD COLUMN ancestor_gated INTEGER NOT NULL DEFAULT 0 CHECK (ancestor_gated IN (0, 1));
ALTER TABLE task_dependencies ADD COLUMN on_failure TEXT NOT NULL DEFAULT 'cancel' CHECK (on_failure IN ('cancel', 'ignore'));
CREATE UNIQUE INDEX IF NOT EXISTS idx_tasks_idempotency_key ON tasks(idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS idx_tasks_cancelled_by ON tasks(cancelled_by) WHERE cancelled_by IS NOT NULL;
CREATE INDEX IF NOT EXISTS idx_tasks_not_before ON tasks(not_before) WHERE status = 'ready' AND priority_rank IS NULL;
CREATE TABLE IF NOT EXISTS plan_submissions (
  idempotency_key TEXT PRIMARY KEY,
  fingerprint TEXT NOT NULL,
  task_keys TEXT NOT NULL,
  created_at TEXT NOT NULL
);
`

/**
 * Version 5: the index diet. Every index on the queue's tables is there for a query whose plan a
 * test pins (packages/storage/test/QueryPlans.test.ts), or for a constraint, or because the seed
 * named it; each index a write touches is a page it writes.
 * - `idx_tasks_status_submitted` (every task, by status and age) goes: each state change moved its
 *   entry, completed tasks included, and each of its queries has a narrower index: the oldest
 *   READY task `idx_tasks_ready_submitted`, the oldest BLOCKED one the seed's `idx_tasks_blocked`,
 *   the earliest lease and RUNNING tasks `idx_tasks_lease_expiry`, READY lists the seed's
 *   `idx_tasks_ready_priority`; lists of finished tasks and prune candidates read the table.
 * - `idx_tasks_open_depth` keeps only open tasks with prerequisites (`dependency_depth > 0`): the
 *   deepest open task is read from it, and "some open task at depth 0" from task_stats' counts,
 *   so that independent tasks never write it (their claim and completion moved two entries).
 */
export const INDEX_DIET_V5 = `
DROP INDEX IF EXISTS idx_tasks_status_submitted;
DROP INDEX IF EXISTS idx_tasks_open_depth;
CREATE INDEX idx_tasks_open_depth
  ON tasks(dependency_depth) WHERE status IN ('pending', 'blocked', 'ready', 'running') AND dependency_depth > 0;
`
