/** Migration 2 on a legacy database: every value kept, other tables untouched, many chunks, a second run. */
import { describe, expect, it } from "vitest"
import { migrate, readVersion } from "../src/index.js"
import { auditReasons, createV1, dump, edges, NOW, now, openDatabase, row, uuid } from "./helpers.js"

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
