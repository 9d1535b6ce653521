/**
 * The PostgreSQL schema of the queue, as numbered migrations of its own (the SQLite schema's
 * history, versions 1-4, is not replayed: version 1 here is SQLite's version 4 as one step).
 * Table, column and index names are SQLite's (packages/schema, Ddl.ts); the types differ where
 * PostgreSQL has a better one:
 * - times stay TEXT in ISO-8601 UTC with milliseconds (`2026-01-31T17:00:00.000Z`), COLLATE "C":
 *   the engine passes and compares exactly these strings (`lease_expires_at <= $1`), so they sort
 *   bytewise in time order, round-trip unchanged and map with the same row mapper as SQLite;
 * - ids are TEXT COLLATE "C", so a prefix is a range over the primary key in any database locale;
 * - booleans (`priority_starved`, `ancestor_gated`) are `boolean`; reals are `double precision`;
 * - `seq` (an identity column, not in SQLite) stands in for SQLite's rowid as the tie-break of
 *   insertion order;
 * - `task_stats` is sharded by backend (see STATS) so that concurrent writers do not all update
 *   the same seven rows;
 * - `task_audit` has an index on `at` (SQLite bisects its ids, which grow with time only while
 *   one writer at a time stamps them).
 * JSON stays TEXT (jsonb would reorder keys and drop duplicates: results must round-trip as given).
 */

/** A numbered step of the schema; `up` is SQL run inside the migrator's transaction. */
export interface PgMigration {
  readonly version: number
  readonly name: string
  readonly up: string
}

const T = `TEXT COLLATE "C"`

// Alike in shape to SQLite's DDL (packages/schema, Ddl.ts) by design: the same names in another dialect.
export const TASKS_V1 = `
CREATE TABLE tasks (
  id ${T} PRIMARY KEY,
  seq bigint GENERATED ALWAYS AS IDENTITY,
  prompt TEXT NOT NULL,
  summary TEXT NOT NULL DEFAULT '',
  agent_type TEXT NOT NULL DEFAULT 'general',
  priority integer NOT NULL DEFAULT 5 CHECK (priority BETWEEN 0 AND 10),
  status TEXT NOT NULL DEFAULT 'pending'
    CHECK (status IN ('pending', 'blocked', 'ready', 'running', 'completed', 'failed', 'cancelled')),
  input_data TEXT NOT NULL DEFAULT '{}',
  result_data TEXT,
  error_message TEXT,
  retry_count integer NOT NULL DEFAULT 0 CHECK (retry_count >= 0),
  max_retries integer NOT NULL DEFAULT 3 CHECK (max_retries >= 0),
  max_execution_timeout_seconds integer NOT NULL DEFAULT 3600 CHECK (max_execution_timeout_seconds > 0),
  submitted_at ${T} NOT NULL,
  started_at ${T},
  completed_at ${T},
  last_updated_at ${T} NOT NULL,
  created_by TEXT,
  parent_task_id ${T} REFERENCES tasks(id),
  session_id TEXT,
  source TEXT NOT NULL DEFAULT 'human'
    CHECK (source IN ('human', 'agent_requirements', 'agent_planner', 'agent_implementation')),
  dependency_type TEXT NOT NULL DEFAULT 'sequential' CHECK (dependency_type IN ('sequential', 'parallel')),
  calculated_priority double precision NOT NULL DEFAULT 5.0,
  deadline ${T},
  estimated_duration_seconds integer CHECK (estimated_duration_seconds >= 0),
  dependency_depth integer NOT NULL DEFAULT 0 CHECK (dependency_depth >= 0),
  lease_token TEXT,
  lease_expires_at ${T},
  worker_id TEXT,
  priority_refresh_at ${T},
  cancelled_by ${T},
  priority_rank double precision,
  priority_starved boolean NOT NULL DEFAULT false,
  not_before ${T},
  idempotency_key TEXT,
  idempotency_fingerprint TEXT,
  stall_count integer NOT NULL DEFAULT 0 CHECK (stall_count >= 0),
  retry_backoff_seconds integer CHECK (retry_backoff_seconds >= 0),
  subtree_open integer NOT NULL DEFAULT 0,
  subtree_completed integer NOT NULL DEFAULT 0,
  subtree_failed integer NOT NULL DEFAULT 0,
  subtree_cancelled integer NOT NULL DEFAULT 0,
  ancestor_gated boolean NOT NULL DEFAULT false,
  CONSTRAINT tasks_not_own_parent CHECK (parent_task_id IS NULL OR parent_task_id != id)
);

CREATE TABLE task_dependencies (
  id ${T} PRIMARY KEY,
  seq bigint GENERATED ALWAYS AS IDENTITY,
  dependent_task_id ${T} NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
  prerequisite_task_id ${T} NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
  dependency_type TEXT NOT NULL DEFAULT 'sequential' CHECK (dependency_type IN ('sequential', 'parallel')),
  created_at ${T} NOT NULL,
  resolved_at ${T},
  on_failure TEXT NOT NULL DEFAULT 'cancel' CHECK (on_failure IN ('cancel', 'ignore')),
  CONSTRAINT task_dependencies_not_self CHECK (dependent_task_id != prerequisite_task_id),
  CONSTRAINT task_dependencies_pair UNIQUE (dependent_task_id, prerequisite_task_id)
);

CREATE TABLE task_audit (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  task_id ${T} NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
  from_status TEXT,
  to_status TEXT NOT NULL,
  at ${T} NOT NULL,
  actor TEXT,
  reason TEXT
);

CREATE TABLE plan_submissions (
  idempotency_key TEXT PRIMARY KEY,
  fingerprint TEXT NOT NULL,
  task_keys TEXT NOT NULL,
  created_at ${T} NOT NULL
);
`

/**
 * Per-status counts and priority sums, kept by triggers in the same transaction as every change
 * (status costs O(1) at any size). One row per status and shard, the shard being the writing
 * backend's pid modulo 64: a counter row that every transaction updated would make any two
 * concurrent status changes conflict (a serialization failure under SERIALIZABLE).
 */
export const STATS_V1 = `
CREATE TABLE task_stats (
  status TEXT NOT NULL,
  shard integer NOT NULL,
  task_count integer NOT NULL DEFAULT 0,
  priority_sum double precision NOT NULL DEFAULT 0,
  PRIMARY KEY (status, shard)
);

CREATE FUNCTION abathur_task_stats_add(s TEXT, n integer, p double precision) RETURNS void LANGUAGE sql AS $$
  INSERT INTO task_stats AS t (status, shard, task_count, priority_sum) VALUES (s, pg_backend_pid() % 64, n, p)
  ON CONFLICT (status, shard) DO UPDATE SET task_count = t.task_count + excluded.task_count,
    priority_sum = t.priority_sum + excluded.priority_sum
$$;

CREATE FUNCTION abathur_task_stats_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM abathur_task_stats_add(status, count(*)::integer, sum(calculated_priority)) FROM new_rows GROUP BY status;
  RETURN NULL;
END $$;

CREATE FUNCTION abathur_task_stats_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM abathur_task_stats_add(status, -count(*)::integer, -sum(calculated_priority)) FROM old_rows GROUP BY status;
  RETURN NULL;
END $$;

CREATE FUNCTION abathur_task_stats_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM abathur_task_stats_add(OLD.status, -1, -OLD.calculated_priority);
  PERFORM abathur_task_stats_add(NEW.status, 1, NEW.calculated_priority);
  RETURN NULL;
END $$;

CREATE TRIGGER trg_task_stats_insert AFTER INSERT ON tasks REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION abathur_task_stats_insert();
CREATE TRIGGER trg_task_stats_delete AFTER DELETE ON tasks REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION abathur_task_stats_delete();
CREATE TRIGGER trg_task_stats_update AFTER UPDATE OF status, calculated_priority ON tasks
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.calculated_priority IS DISTINCT FROM NEW.calculated_priority)
  EXECUTE FUNCTION abathur_task_stats_update();
`

/**
 * SQLite's indexes (Ddl.ts, versions 2-4), by the same names; `seq` replaces rowid (SQLite orders
 * equal keys of an index by rowid: the claim indexes end with `seq` for the same tie-break).
 */
export const INDEXES_V1 = `
CREATE INDEX idx_task_dependencies_prerequisite
  ON task_dependencies(prerequisite_task_id, resolved_at) WHERE resolved_at IS NULL;
CREATE INDEX idx_task_dependencies_dependent
  ON task_dependencies(dependent_task_id, resolved_at) WHERE resolved_at IS NULL;
CREATE INDEX idx_task_dependencies_prerequisite_all ON task_dependencies(prerequisite_task_id);
CREATE INDEX idx_tasks_ready_rank
  ON tasks(priority_starved, priority_rank DESC, submitted_at ASC, seq ASC) WHERE status = 'ready';
CREATE INDEX idx_tasks_ready_agent_rank
  ON tasks(agent_type, priority_starved, priority_rank DESC, submitted_at ASC, seq ASC) WHERE status = 'ready';
CREATE INDEX idx_tasks_ready_priority
  ON tasks(status, calculated_priority DESC, submitted_at ASC) WHERE status = 'ready';
CREATE INDEX idx_tasks_source_created ON tasks(source, created_by, submitted_at DESC);
CREATE INDEX idx_tasks_deadline
  ON tasks(deadline, status) WHERE deadline IS NOT NULL AND status IN ('pending', 'blocked', 'ready');
CREATE INDEX idx_tasks_blocked ON tasks(status, submitted_at ASC) WHERE status = 'blocked';
CREATE INDEX idx_tasks_ready_submitted ON tasks(submitted_at) WHERE status = 'ready';
CREATE INDEX idx_tasks_lease_expiry ON tasks(lease_expires_at) WHERE status = 'running';
CREATE INDEX idx_tasks_priority_refresh ON tasks(priority_refresh_at) WHERE priority_refresh_at IS NOT NULL;
CREATE INDEX idx_tasks_open_depth ON tasks(dependency_depth) WHERE status IN ('pending', 'blocked', 'ready', 'running');
CREATE INDEX idx_tasks_parent ON tasks(parent_task_id, submitted_at, seq);
CREATE INDEX idx_tasks_status_submitted ON tasks(status, submitted_at);
CREATE UNIQUE INDEX idx_tasks_idempotency_key ON tasks(idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX idx_tasks_cancelled_by ON tasks(cancelled_by) WHERE cancelled_by IS NOT NULL;
CREATE INDEX idx_tasks_not_before ON tasks(not_before) WHERE status = 'ready' AND priority_rank IS NULL;
CREATE INDEX idx_task_audit_task ON task_audit(task_id, id);
CREATE INDEX idx_task_audit_at ON task_audit(at);
`

/**
 * Version 2: wake-ups across servers. A task that becomes READY (inserted READY, or any other
 * status changed to READY) notifies the channel `abathur_ready` with its agent type at commit
 * (PostgreSQL sends one notification per distinct payload per transaction, and none for a
 * rolled-back one). A claim (READY -> RUNNING) notifies nobody. See Listen.ts.
 */
export const READY_NOTIFY_V2 = `
CREATE FUNCTION abathur_notify_ready() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('abathur_ready', NEW.agent_type);
  RETURN NULL;
END $$;
CREATE TRIGGER trg_tasks_notify_ready_insert AFTER INSERT ON tasks
  FOR EACH ROW WHEN (NEW.status = 'ready') EXECUTE FUNCTION abathur_notify_ready();
CREATE TRIGGER trg_tasks_notify_ready_update AFTER UPDATE OF status ON tasks
  FOR EACH ROW WHEN (NEW.status = 'ready' AND OLD.status IS DISTINCT FROM 'ready') EXECUTE FUNCTION abathur_notify_ready();
`

/** The channel a task that became READY is announced on (payload: its agent type). */
export const READY_CHANNEL = "abathur_ready"

/**
 * SQLite's version 5 (index diet): the index over every task's status and submission time goes
 * (each state change rewrote it; its reads walk the per-status indexes), and the open-depth index
 * keeps only open tasks that have prerequisites.
 */
const INDEX_DIET_V3 = `
DROP INDEX IF EXISTS idx_tasks_status_submitted;
DROP INDEX IF EXISTS idx_tasks_open_depth;
CREATE INDEX idx_tasks_open_depth ON tasks(dependency_depth) WHERE status IN ('pending', 'blocked', 'ready', 'running') AND dependency_depth > 0;
`

/**
 * Version 4: lease expiries seen by every server. A task that enters RUNNING (a claim, with a new
 * lease) notifies the channel `abathur_lease` at commit, without a payload (one notification per
 * transaction, none for a rollback): a server whose claims wait reads the earliest lease expiry
 * again, so that it recovers a lease taken through another server when that lease expires. A
 * heartbeat (RUNNING stays RUNNING) notifies nobody: a later expiry only makes a wake-up early.
 */
const LEASE_NOTIFY_V4 = `
CREATE FUNCTION abathur_notify_lease() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('abathur_lease', '');
  RETURN NULL;
END $$;
CREATE TRIGGER trg_tasks_notify_lease AFTER UPDATE OF status ON tasks
  FOR EACH ROW WHEN (NEW.status = 'running' AND OLD.status IS DISTINCT FROM 'running') EXECUTE FUNCTION abathur_notify_lease();
`

/** The channel a task that entered RUNNING (a new lease) is announced on (no payload). */
export const LEASE_CHANNEL = "abathur_lease"

/** Every migration, in order. Append only: a released migration is never changed. */
export const PgMigrations: ReadonlyArray<PgMigration> = [
  { version: 1, name: "queue", up: TASKS_V1 + STATS_V1 + INDEXES_V1 },
  { version: 2, name: "ready-notify", up: READY_NOTIFY_V2 },
  { version: 3, name: "index-diet", up: INDEX_DIET_V3 },
  { version: 4, name: "lease-notify", up: LEASE_NOTIFY_V4 }
]

/** The schema version this code writes. */
export const PG_LATEST_VERSION: number = PgMigrations[PgMigrations.length - 1]?.version ?? 0

/** The version table (one row per applied migration), as SQLite's. */
export const SCHEMA_MIGRATIONS = `
CREATE TABLE IF NOT EXISTS schema_migrations (
  version integer PRIMARY KEY,
  name TEXT NOT NULL,
  applied_at TEXT NOT NULL
)
`
