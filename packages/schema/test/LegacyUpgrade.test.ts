import type Database from "better-sqlite3"
import { describe, expect, it } from "vitest"
import { migrate, readVersion } from "../src/index.js"
import { auditReasons, createV1, dump, openDatabase, row, uuid } from "./helpers.js"

const NOW = "2026-11-26T06:04:11.123Z"
const now = () => new Date(NOW)

/** A legacy tasks table as loose as SQLite allows: no NOT NULL, no CHECK. */
const LOOSE_V1 = `
CREATE TABLE tasks (
  id TEXT PRIMARY KEY, prompt TEXT, agent_type TEXT, priority INTEGER, status TEXT, input_data TEXT,
  result_data TEXT, error_message TEXT, retry_count INTEGER, max_retries INTEGER,
  max_execution_timeout_seconds INTEGER, submitted_at TIMESTAMP, started_at TIMESTAMP,
  completed_at TIMESTAMP, last_updated_at TIMESTAMP, created_by TEXT, parent_task_id TEXT,
  dependencies TEXT, session_id TEXT
)`

const edges = (db: Database.Database): Array<[string, string]> =>
  (
    db.prepare("SELECT dependent_task_id AS d, prerequisite_task_id AS p FROM task_dependencies ORDER BY d, p").all() as Array<{
      d: string
      p: string
    }>
  ).map((e) => [e.d, e.p])

describe("migration 2 on a legacy database", () => {
  it("keeps every value, normalises times and turns JSON dependencies into rows", () => {
    const db = openDatabase()
    const [a, b, c, d, e] = [uuid(1), uuid(2), uuid(3), uuid(4), uuid(5)]
    createV1(db, [
      {
        id: a,
        prompt: "  Build the parser\nwith tests",
        agent_type: "coder",
        priority: 8,
        status: "completed",
        input_data: '{"repo": "x", "n": [1, 2]}',
        result_data: '{"ok":true}',
        retry_count: 1,
        max_retries: 5,
        max_execution_timeout_seconds: 600,
        submitted_at: "2025-10-10 12:00:00",
        started_at: "2025-10-10T12:10:00.5",
        completed_at: "2025-10-10T12:30:00.123456",
        last_updated_at: "2025-10-10T14:30:00.123456+02:00",
        created_by: "alice",
        session_id: "s1",
        dependencies: "[]"
      },
      {
        id: b,
        prompt: "x".repeat(300),
        status: "pending",
        parent_task_id: a,
        dependencies: JSON.stringify([a]),
        submitted_at: "2025-10-11T08:00:00Z",
        last_updated_at: "2025-10-11T08:00:00Z"
      },
      {
        id: c,
        status: "running",
        started_at: "2025-10-10T14:00:00+02:00",
        max_execution_timeout_seconds: 1800,
        dependencies: JSON.stringify([a, b]),
        submitted_at: "2025-10-10T11:00:00.000000"
      },
      { id: d, status: "failed", error_message: "exploded", dependencies: JSON.stringify([c]) },
      { id: e, status: "cancelled", dependencies: null }
    ])
    const result = migrate(db, { now })
    // Migrations 3, 4 and 5 follow in the same run.
    expect(result.applied).toEqual([2, 3, 4, 5])
    expect(readVersion(db)).toBe(5)

    expect(row(db, "tasks", a)).toEqual({
      id: a,
      prompt: "  Build the parser\nwith tests",
      summary: "Build the parser",
      agent_type: "coder",
      priority: 8,
      status: "completed",
      input_data: '{"repo": "x", "n": [1, 2]}',
      result_data: '{"ok":true}',
      error_message: null,
      retry_count: 1,
      max_retries: 5,
      max_execution_timeout_seconds: 600,
      submitted_at: "2025-10-10T12:00:00.000Z",
      started_at: "2025-10-10T12:10:00.500Z",
      completed_at: "2025-10-10T12:30:00.123Z",
      last_updated_at: "2025-10-10T12:30:00.123Z",
      created_by: "alice",
      parent_task_id: null,
      session_id: "s1",
      source: "human",
      dependency_type: "sequential",
      calculated_priority: 5,
      deadline: null,
      estimated_duration_seconds: null,
      dependency_depth: 0,
      lease_token: null,
      lease_expires_at: null,
      worker_id: null,
      priority_refresh_at: null,
      cancelled_by: null,
      priority_rank: null,
      priority_starved: 0,
      not_before: null,
      idempotency_key: null,
      idempotency_fingerprint: null,
      stall_count: 0,
      retry_backoff_seconds: null,
      // Migration 4 counts its subtask b (open).
      subtree_open: 1,
      subtree_completed: 0,
      subtree_failed: 0,
      subtree_cancelled: 0,
      ancestor_gated: 0
    })
    expect(row(db, "tasks", b)).toMatchObject({
      summary: "x".repeat(140),
      status: "pending",
      parent_task_id: a,
      // Its only prerequisite was its parent (dropped by migration 4, below).
      dependency_depth: 0,
      submitted_at: "2025-10-11T08:00:00.000Z"
    })
    const running = row(db, "tasks", c)
    expect(running).toMatchObject({
      status: "running",
      started_at: "2025-10-10T12:00:00.000Z",
      lease_expires_at: "2025-10-10T12:30:00.000Z",
      dependency_depth: 1,
      priority_refresh_at: null
    })
    expect(running["lease_token"]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    expect(row(db, "tasks", d)).toMatchObject({ status: "failed", error_message: "exploded", dependency_depth: 2 })
    expect(row(db, "tasks", e)).toMatchObject({ status: "cancelled", dependency_depth: 0 })

    expect(edges(db)).toEqual([
      [c, a],
      [c, b],
      [d, c]
    ])
    // b is a's subtask and depended on it: migration 4 drops that edge (it would wait for itself
    // under the hierarchy rule) and keeps it in b's audit trail.
    expect(db.prepare("SELECT * FROM task_dependencies WHERE dependent_task_id = ?").get(b)).toBeUndefined()
    expect(auditReasons(db, b)).toEqual([
      "migrated from schema v1",
      `schema v4 dropped the dependency on ${a}, an ancestor of this task: a subtask now waits for its ancestors' prerequisites, and an edge within one line of the hierarchy would wait for itself`
    ])
    const ca = db.prepare("SELECT * FROM task_dependencies WHERE dependent_task_id = ? AND prerequisite_task_id = ?").get(c, a) as Record<
      string,
      unknown
    >
    expect(ca["id"]).toMatch(/^[0-9a-f-]{36}$/)
    expect(ca["on_failure"]).toBe("cancel")
    expect(db.prepare("SELECT resolved_at FROM task_dependencies WHERE dependent_task_id = ? ORDER BY prerequisite_task_id").pluck().all(c)).toEqual([
      "2025-10-10T12:30:00.123Z",
      null
    ])

    for (const id of [a, c, d, e]) expect(auditReasons(db, id)).toEqual(["migrated from schema v1"])
    const audit = db.prepare("SELECT * FROM task_audit WHERE task_id = ?").get(c)
    expect(audit).toMatchObject({ from_status: null, to_status: "running", at: NOW, actor: "migration" })
    expect(db.pragma("foreign_key_check")).toEqual([])
    expect(db.pragma("integrity_check", { simple: true })).toBe("ok")
    expect(db.prepare("SELECT status, task_count FROM task_stats WHERE task_count > 0 ORDER BY status").all()).toEqual([
      { status: "cancelled", task_count: 1 },
      { status: "completed", task_count: 1 },
      { status: "failed", task_count: 1 },
      { status: "pending", task_count: 1 },
      { status: "running", task_count: 1 }
    ])
  })

  it("keeps dependencies on unknown tasks, self-references and malformed values in the audit trail", () => {
    const db = openDatabase()
    const [a, b, c, d, e, f] = [uuid(1), uuid(2), uuid(3), uuid(4), uuid(5), uuid(6)]
    const ghost = uuid(404)
    createV1(db, [
      { id: a, status: "completed", completed_at: "2025-10-10 13:00:00" },
      { id: b, dependencies: JSON.stringify([a, ghost, b, a, a.toUpperCase(), ""]) },
      { id: c, dependencies: "not json [" },
      { id: d, dependencies: '{"a": 1}' },
      { id: e, dependencies: JSON.stringify([7, null, a]) },
      { id: f, dependencies: JSON.stringify(a) }
    ])
    migrate(db, { now })
    expect(edges(db)).toEqual([
      [b, a],
      [e, a],
      [f, a]
    ])
    expect(auditReasons(db, b)).toEqual([
      "migrated from schema v1",
      'legacy dependency entry "" is not a task id; dropped',
      `legacy dependency on unknown task ${ghost} dropped`,
      `legacy dependency on itself (${b}) dropped`
    ])
    expect(auditReasons(db, c)).toEqual(["migrated from schema v1", 'legacy dependencies value "not json [" is malformed; dropped'])
    expect(auditReasons(db, d)).toEqual(["migrated from schema v1", 'legacy dependencies value "{\\"a\\": 1}" is malformed; dropped'])
    expect(auditReasons(db, e)).toEqual([
      "migrated from schema v1",
      "legacy dependency entry 7 is not a task id; dropped",
      "legacy dependency entry null is not a task id; dropped"
    ])
    const audit = db.prepare("SELECT * FROM task_audit WHERE reason LIKE '%unknown task%'").get()
    expect(audit).toMatchObject({ task_id: b, from_status: null, to_status: "pending", actor: "migration", at: NOW })
    expect(db.pragma("foreign_key_check")).toEqual([])
  })

  it("drops the legacy edges that would close a cycle, audited with the cycle", () => {
    const db = openDatabase()
    const [a, b, c, d, e] = [uuid(1), uuid(2), uuid(3), uuid(4), uuid(5)]
    createV1(db, [
      { id: a, dependencies: JSON.stringify([c]) },
      { id: b, dependencies: JSON.stringify([a]) },
      { id: c, dependencies: JSON.stringify([b]) },
      { id: d, dependencies: JSON.stringify([c, e]) },
      { id: e, dependencies: JSON.stringify([d]) }
    ])
    migrate(db, { now })
    expect(edges(db)).toEqual([
      [a, c],
      [b, a],
      [d, c],
      [d, e]
    ])
    expect(auditReasons(db, c)).toEqual([
      "migrated from schema v1",
      `legacy dependency on ${b} dropped: it would close the cycle ${c} -> ${b} -> ${a} -> ${c}`
    ])
    expect(auditReasons(db, e)).toEqual([
      "migrated from schema v1",
      `legacy dependency on ${d} dropped: it would close the cycle ${e} -> ${d} -> ${e}`
    ])
    const depth = db.prepare("SELECT id, dependency_depth FROM tasks ORDER BY id").all()
    expect(depth).toEqual([
      { id: a, dependency_depth: 1 },
      { id: b, dependency_depth: 2 },
      { id: c, dependency_depth: 0 },
      { id: d, dependency_depth: 1 },
      { id: e, dependency_depth: 0 }
    ])
  })

  it("sets parents that name no task to NULL and audits them", () => {
    const db = openDatabase()
    const [a, b, c] = [uuid(1), uuid(2), uuid(3)]
    createV1(db, [{ id: a }, { id: b, parent_task_id: uuid(999) }, { id: c, parent_task_id: c }])
    db.pragma("foreign_keys = ON")
    migrate(db, { now })
    expect(row(db, "tasks", b)["parent_task_id"]).toBeNull()
    expect(row(db, "tasks", c)["parent_task_id"]).toBeNull()
    expect(auditReasons(db, b)).toEqual(["migrated from schema v1", `legacy parent_task_id "${uuid(999)}" names no task; set to NULL`])
    expect(auditReasons(db, c)).toEqual(["migrated from schema v1", "legacy parent_task_id named the task itself; set to NULL"])
    expect(db.pragma("foreign_key_check")).toEqual([])
  })

  it("fills NULLs with defaults and brings numbers into range, saying what it changed", () => {
    const db = openDatabase()
    createV1(
      db,
      [
        {
          id: uuid(1),
          prompt: null,
          agent_type: null,
          priority: null,
          input_data: null,
          retry_count: null,
          max_retries: null,
          max_execution_timeout_seconds: null
        },
        { id: uuid(2), priority: 15, retry_count: -2, max_execution_timeout_seconds: 0, input_data: "" },
        { id: uuid(3), priority: -3, max_retries: 2.6, input_data: "[1, 2]", result_data: "oops" },
        { id: uuid(4), priority: "high", input_data: "{broken", result_data: "42" },
        { id: uuid(5), priority: "7", max_execution_timeout_seconds: 90.4 }
      ],
      { ddl: LOOSE_V1 }
    )
    migrate(db, { now })
    expect(row(db, "tasks", uuid(1))).toMatchObject({
      prompt: "",
      summary: "",
      agent_type: "general",
      priority: 5,
      input_data: "{}",
      retry_count: 0,
      max_retries: 3,
      max_execution_timeout_seconds: 3600
    })
    expect(auditReasons(db, uuid(1))).toEqual(["migrated from schema v1", "legacy prompt was NULL; set to ''"])
    expect(row(db, "tasks", uuid(2))).toMatchObject({ priority: 10, retry_count: 0, max_execution_timeout_seconds: 3600, input_data: "{}" })
    expect(auditReasons(db, uuid(2))).toEqual([
      "migrated from schema v1",
      "legacy priority 15 set to 10",
      "legacy retry_count -2 set to 0",
      "legacy max_execution_timeout_seconds 0 set to 3600"
    ])
    expect(row(db, "tasks", uuid(3))).toMatchObject({
      priority: 0,
      max_retries: 3,
      input_data: '{"legacy_input_data":[1,2]}',
      result_data: '"oops"'
    })
    expect(auditReasons(db, uuid(3))).toEqual([
      "migrated from schema v1",
      "legacy priority -3 set to 0",
      "legacy max_retries 2.6 set to 3",
      'legacy input_data is not a JSON object; kept as {"legacy_input_data": <value>}',
      "legacy result_data is not JSON; kept as a JSON string"
    ])
    expect(row(db, "tasks", uuid(4))).toMatchObject({
      priority: 5,
      input_data: '{"legacy_input_data":"{broken"}',
      result_data: "42"
    })
    expect(auditReasons(db, uuid(4))).toEqual([
      "migrated from schema v1",
      'legacy priority "high" is not a number; set to 5',
      'legacy input_data is not JSON; kept as {"legacy_input_data": <text>}'
    ])
    expect(row(db, "tasks", uuid(5))).toMatchObject({ priority: 7, max_execution_timeout_seconds: 90 })
  })

  it("clamps a timeout over 7 days (a RUNNING task's lease is computed from it) and cuts summaries on characters", () => {
    const db = openDatabase()
    const a139 = "a".repeat(139)
    createV1(
      db,
      [
        {
          id: uuid(1),
          prompt: "poison",
          status: "running",
          max_execution_timeout_seconds: Number.MAX_SAFE_INTEGER,
          started_at: "2026-11-26 06:00:00"
        },
        { id: uuid(2), prompt: `${a139}\u{1F600}\u{1F600}`, status: "pending", max_execution_timeout_seconds: 604_801 },
        // The last millisecond JavaScript can hold: a lease after it is not a date.
        { id: uuid(3), prompt: "edge of time", status: "running", started_at: 8_640_000_000_000_000, last_updated_at: "2026-11-26 06:00:00" }
      ],
      { ddl: LOOSE_V1 }
    )
    migrate(db, { now })
    expect(row(db, "tasks", uuid(1))).toMatchObject({
      max_execution_timeout_seconds: 604_800,
      lease_expires_at: "2026-12-03T06:00:00.000Z"
    })
    expect(auditReasons(db, uuid(1))).toContain("legacy max_execution_timeout_seconds 9007199254740991 set to 604800 (7 days, the longest timeout)")
    expect(row(db, "tasks", uuid(2))).toMatchObject({ max_execution_timeout_seconds: 604_800, summary: `${a139}\u{1F600}` })
    expect(row(db, "tasks", uuid(3))).toMatchObject({ started_at: null, lease_expires_at: "2026-11-26T07:00:00.000Z" })
    expect(auditReasons(db, uuid(3))).toContain("legacy started_at 8640000000000000 is not a timestamp; dropped")
  })

  it("normalises every timestamp format to ISO-8601 UTC with milliseconds", () => {
    const db = openDatabase()
    const cases: Array<[string | number, string]> = [
      ["2025-10-10 12:00:00", "2025-10-10T12:00:00.000Z"],
      ["2025-10-10T12:00:00", "2025-10-10T12:00:00.000Z"],
      ["2025-10-10T12:00:00.123456", "2025-10-10T12:00:00.123Z"],
      ["2025-10-10T12:00:00.999999+00:00", "2025-10-10T12:00:00.999Z"],
      ["2025-10-10T14:00:00.5+02:00", "2025-10-10T12:00:00.500Z"],
      ["2025-10-10T07:30:00-0430", "2025-10-10T12:00:00.000Z"],
      ["2025-10-10 12:00:00 UTC", "2025-10-10T12:00:00.000Z"],
      ["2025-10-10T12:00Z", "2025-10-10T12:00:00.000Z"],
      ["2025-10-10", "2025-10-10T00:00:00.000Z"],
      [1760097600, "2025-10-10T12:00:00.000Z"],
      [1760097600123, "2025-10-10T12:00:00.123Z"]
    ]
    createV1(
      db,
      cases.map(([text], i) => ({ id: uuid(i), submitted_at: text, last_updated_at: text, deadline: text })),
      { ddl: `${LOOSE_V1.replace(/\)$/, ", deadline TIMESTAMP)")}` }
    )
    migrate(db, { now })
    cases.forEach(([, iso], i) => {
      expect(row(db, "tasks", uuid(i))).toMatchObject({ submitted_at: iso, last_updated_at: iso, deadline: iso })
    })
  })

  it("audits timestamps it cannot read, and fills the ones it needs", () => {
    const db = openDatabase()
    createV1(
      db,
      [
        {
          id: uuid(1),
          status: "running",
          submitted_at: "yesterday",
          started_at: "2025-13-01 00:00:00",
          last_updated_at: "2025-10-10 12:00:00",
          max_execution_timeout_seconds: 60
        },
        { id: uuid(2), submitted_at: "2025-10-10 12:00:00", last_updated_at: null, started_at: "2025-10-10 12:05:00", completed_at: "" },
        { id: uuid(3), submitted_at: null, last_updated_at: null }
      ],
      { ddl: LOOSE_V1 }
    )
    migrate(db, { now })
    expect(row(db, "tasks", uuid(1))).toMatchObject({
      submitted_at: "2025-10-10T12:00:00.000Z",
      started_at: null,
      last_updated_at: "2025-10-10T12:00:00.000Z",
      // No readable start: the lease runs from the last update.
      lease_expires_at: "2025-10-10T12:01:00.000Z"
    })
    expect(auditReasons(db, uuid(1))).toEqual([
      "migrated from schema v1",
      'legacy started_at "2025-13-01 00:00:00" is not a timestamp; dropped',
      'legacy submitted_at "yesterday" is not a timestamp; dropped',
      "legacy submitted_at missing or unreadable; set to 2025-10-10T12:00:00.000Z"
    ])
    expect(row(db, "tasks", uuid(2))).toMatchObject({ last_updated_at: "2025-10-10T12:05:00.000Z", completed_at: null })
    expect(row(db, "tasks", uuid(3))).toMatchObject({ submitted_at: NOW, last_updated_at: NOW })
  })

  it("reads statuses without a CHECK: case folded, unknown ones kept as failed with an audit", () => {
    const db = openDatabase()
    createV1(
      db,
      [
        { id: uuid(1), status: "RUNNING", started_at: "2025-10-10 12:00:00" },
        { id: uuid(2), status: "paused" },
        { id: uuid(3), status: "ready" }
      ],
      { statusCheck: false }
    )
    migrate(db, { now })
    expect(row(db, "tasks", uuid(1))).toMatchObject({ status: "running", lease_expires_at: "2025-10-10T13:00:00.000Z" })
    expect(auditReasons(db, uuid(1))).toEqual(["migrated from schema v1", 'legacy status "RUNNING" read as running'])
    expect(row(db, "tasks", uuid(2))).toMatchObject({ status: "failed" })
    expect(auditReasons(db, uuid(2))).toEqual(["migrated from schema v1", 'legacy status "paused" is not a known status; migrated as failed'])
    // A legacy READY task is due for a refresh at once (migration 3), so that it is ranked before any claim.
    expect(row(db, "tasks", uuid(3))).toMatchObject({
      status: "ready",
      priority_refresh_at: "2025-10-10T12:00:00.000Z",
      priority_rank: null,
      priority_starved: 0
    })
    expect(row(db, "tasks", uuid(1))).toMatchObject({ priority_refresh_at: null, priority_rank: null, priority_starved: 0 })
    expect(row(db, "tasks", uuid(2))).toMatchObject({ priority_refresh_at: null })
  })

  it("uses the columns the old Python migration added, and its task_dependencies table", () => {
    const db = openDatabase()
    const [a, b, c, d] = [uuid(1), uuid(2), uuid(3), uuid(4)]
    createV1(db, [
      { id: a, status: "completed", completed_at: "2025-10-10 12:00:00" },
      { id: b, dependencies: JSON.stringify([a]) },
      { id: c, dependencies: JSON.stringify([a, b]) },
      { id: d }
    ])
    db.exec(`
      ALTER TABLE tasks ADD COLUMN source TEXT NOT NULL DEFAULT 'human';
      ALTER TABLE tasks ADD COLUMN calculated_priority REAL NOT NULL DEFAULT 5.0;
      ALTER TABLE tasks ADD COLUMN deadline TIMESTAMP;
      ALTER TABLE tasks ADD COLUMN estimated_duration_seconds INTEGER;
      ALTER TABLE tasks ADD COLUMN dependency_depth INTEGER DEFAULT 0;
      ALTER TABLE tasks ADD COLUMN dependency_type TEXT NOT NULL DEFAULT 'sequential';
      ALTER TABLE tasks ADD COLUMN feature_branch TEXT;
      CREATE TABLE task_dependencies (
        id TEXT PRIMARY KEY, dependent_task_id TEXT NOT NULL, prerequisite_task_id TEXT NOT NULL,
        dependency_type TEXT NOT NULL DEFAULT 'sequential', created_at TIMESTAMP NOT NULL, resolved_at TIMESTAMP,
        FOREIGN KEY (dependent_task_id) REFERENCES tasks(id) ON DELETE CASCADE,
        FOREIGN KEY (prerequisite_task_id) REFERENCES tasks(id) ON DELETE CASCADE,
        CHECK(dependency_type IN ('sequential', 'parallel')), CHECK(dependent_task_id != prerequisite_task_id),
        UNIQUE(dependent_task_id, prerequisite_task_id));
      CREATE INDEX idx_task_dependencies_prerequisite ON task_dependencies(prerequisite_task_id, resolved_at) WHERE resolved_at IS NULL;
      CREATE INDEX idx_tasks_deadline ON tasks(deadline, status) WHERE deadline IS NOT NULL AND status IN ('pending', 'blocked', 'ready');
    `)
    db.prepare(
      "UPDATE tasks SET source = 'agent_planner', calculated_priority = 7.5, deadline = '2025-12-01T00:00:00+00:00', estimated_duration_seconds = 120, dependency_depth = 9, dependency_type = 'parallel', feature_branch = 'feat/x' WHERE id = ?"
    ).run(c)
    db.prepare(
      "UPDATE tasks SET source = 'robot', calculated_priority = 250, estimated_duration_seconds = -1, dependency_type = 'serial' WHERE id = ?"
    ).run(d)
    db.pragma("foreign_keys = OFF")
    db.prepare("INSERT INTO task_dependencies VALUES (?, ?, ?, ?, ?, ?)").run(
      "edge-1",
      c,
      a,
      "sequential",
      "2025-10-10T12:00:00.123456",
      "2025-10-10T12:00:01"
    )
    db.prepare("INSERT INTO task_dependencies VALUES (?, ?, ?, ?, ?, ?)").run("edge-2", d, b, "parallel", "garbage", null)
    db.prepare("INSERT INTO task_dependencies VALUES (?, ?, ?, ?, ?, ?)").run("edge-3", uuid(77), a, "sequential", "2025-10-10", null)
    db.prepare("INSERT INTO task_dependencies VALUES (?, ?, ?, ?, ?, ?)").run("edge-4", uuid(78), uuid(79), "sequential", "2025-10-10", null)
    db.prepare("INSERT INTO task_dependencies VALUES (?, ?, ?, ?, ?, ?)").run("edge-5", b, uuid(80), "sequential", "2025-10-10", null)
    db.pragma("foreign_keys = ON")

    migrate(db, { now })
    expect(row(db, "tasks", c)).toMatchObject({
      source: "agent_planner",
      calculated_priority: 7.5,
      deadline: "2025-12-01T00:00:00.000Z",
      estimated_duration_seconds: 120,
      dependency_type: "parallel",
      dependency_depth: 2
    })
    expect(auditReasons(db, c)).toEqual(["migrated from schema v1", 'legacy columns without a place in schema v2: {"feature_branch":"feat/x"}'])
    expect(row(db, "tasks", d)).toMatchObject({
      source: "human",
      calculated_priority: 100,
      estimated_duration_seconds: null,
      dependency_type: "sequential",
      dependency_depth: 2
    })
    expect(auditReasons(db, d)).toEqual([
      "migrated from schema v1",
      "legacy estimated_duration_seconds -1 is not a duration; set to NULL",
      "legacy calculated_priority 250 set to 100",
      'legacy source "robot" is not known; set to human',
      'legacy dependency_type "serial" is not known; set to sequential'
    ])
    const rows = db
      .prepare(
        "SELECT id, dependent_task_id AS d, prerequisite_task_id AS p, dependency_type AS t, created_at, resolved_at FROM task_dependencies ORDER BY d, p"
      )
      .all()
    expect(rows).toEqual([
      { id: expect.any(String), d: b, p: a, t: "sequential", created_at: "2025-10-10T12:00:00.000Z", resolved_at: "2025-10-10T12:00:00.000Z" },
      { id: "edge-1", d: c, p: a, t: "sequential", created_at: "2025-10-10T12:00:00.123Z", resolved_at: "2025-10-10T12:00:01.000Z" },
      { id: expect.any(String), d: c, p: b, t: "parallel", created_at: "2025-10-10T12:00:00.000Z", resolved_at: null },
      { id: "edge-2", d: d, p: b, t: "parallel", created_at: "2025-10-10T12:00:00.000Z", resolved_at: null }
    ])
    expect(auditReasons(db, a)).toEqual(["migrated from schema v1", `legacy dependency of unknown task "${uuid(77)}" on this task dropped`])
    expect(auditReasons(db, b)).toEqual(["migrated from schema v1", `legacy dependency on unknown task ${uuid(80)} dropped`])
    expect(db.pragma("foreign_key_check")).toEqual([])
    const sql = db.prepare("SELECT sql FROM sqlite_schema WHERE name = 'task_dependencies'").pluck().get() as string
    expect(sql).toContain("CREATE TABLE task_dependencies")
  })

  it("leaves other tables row for row, their foreign keys pointing at the new tasks table", () => {
    const db = openDatabase()
    const [a, b] = [uuid(1), uuid(2)]
    createV1(db, [{ id: a, status: "running", started_at: "2025-10-10 12:00:00" }, { id: b }])
    db.exec(`
      CREATE TABLE sessions (id TEXT PRIMARY KEY, app_name TEXT NOT NULL, created_at TIMESTAMP NOT NULL);
      CREATE TABLE agents (id TEXT PRIMARY KEY, name TEXT NOT NULL, task_id TEXT NOT NULL REFERENCES tasks(id),
        session_id TEXT REFERENCES sessions(id), spawned_at TIMESTAMP NOT NULL);
      CREATE VIEW running_tasks AS SELECT id, prompt FROM tasks WHERE status = 'running';
      CREATE TRIGGER agents_touch AFTER INSERT ON agents BEGIN UPDATE tasks SET last_updated_at = NEW.spawned_at WHERE id = NEW.task_id; END;
    `)
    db.prepare("INSERT INTO sessions VALUES ('s1', 'abathur', '2025-10-10 12:00:00')").run()
    db.prepare("INSERT INTO agents VALUES ('ag1', 'worker', ?, 's1', '2025-10-10 12:00:00')").run(a)
    const others = () => JSON.stringify([db.prepare("SELECT * FROM sessions").all(), db.prepare("SELECT * FROM agents").all()])
    const before = others()
    const agentsSql = db.prepare("SELECT sql FROM sqlite_schema WHERE name = 'agents'").pluck().get()
    db.pragma("foreign_keys = ON")
    migrate(db, { now })
    expect(others()).toBe(before)
    expect(db.prepare("SELECT sql FROM sqlite_schema WHERE name = 'agents'").pluck().get()).toBe(agentsSql)
    expect(db.pragma("foreign_key_list(agents)")).toEqual(
      expect.arrayContaining([expect.objectContaining({ table: "tasks", from: "task_id", to: "id" })])
    )
    expect(db.pragma("foreign_key_check")).toEqual([])
    expect(db.prepare("SELECT * FROM running_tasks").all()).toEqual([{ id: a, prompt: `Task ${a}` }])
    // The foreign key is enforced against the new table.
    expect(() => db.prepare("INSERT INTO agents VALUES ('ag2', 'w', ?, 's1', 'x')").run(uuid(9))).toThrow(/FOREIGN KEY/)
    db.prepare("INSERT INTO agents VALUES ('ag3', 'w', ?, 's1', '2025-10-11T00:00:00.000Z')").run(b)
    expect(row(db, "tasks", b)["last_updated_at"]).toBe("2025-10-11T00:00:00.000Z")
    expect(db.pragma("legacy_alter_table", { simple: true })).toBe(0)
  })

  it("gives a task without an id one, and audits it", () => {
    const db = openDatabase()
    createV1(db, [{ id: uuid(1) }], { ddl: LOOSE_V1 })
    db.prepare(
      "INSERT INTO tasks (id, prompt, status, submitted_at, last_updated_at) VALUES (NULL, 'orphan', 'pending', '2025-10-10', '2025-10-10')"
    ).run()
    migrate(db, { now })
    const orphan = db.prepare("SELECT * FROM tasks WHERE prompt = 'orphan'").get() as Record<string, unknown>
    expect(orphan["id"]).toMatch(/^[0-9a-f-]{36}$/)
    expect(auditReasons(db, orphan["id"] as string)).toEqual([
      "migrated from schema v1",
      `legacy task id null was missing or not usable; given the id ${String(orphan["id"])}`
    ])
  })

  it("migrates many chunks, and a second run changes nothing", () => {
    const db = openDatabase()
    const tasks = Array.from({ length: 2500 }, (_, i) => ({
      id: uuid(i),
      status: i % 3 === 0 ? "completed" : "pending",
      completed_at: i % 3 === 0 ? "2025-10-10 12:00:00" : null,
      dependencies: i > 0 ? JSON.stringify([uuid(i - 1)]) : null
    }))
    createV1(db, tasks)
    migrate(db, { now })
    expect(db.prepare("SELECT count(*) FROM tasks").pluck().get()).toBe(2500)
    expect(db.prepare("SELECT count(*) FROM task_dependencies").pluck().get()).toBe(2499)
    expect(db.prepare("SELECT max(dependency_depth) FROM tasks").pluck().get()).toBe(2499)
    const before = dump(db)
    expect(migrate(db, { now }).applied).toEqual([])
    expect(dump(db)).toBe(before)
  })
})
