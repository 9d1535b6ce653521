/** Migration 2 on a legacy database: dependencies and parents (unknown, self, cyclic, the old Python migration's edges). */
import { describe, expect, it } from "vitest"
import { PYTHON_TASK_COLUMNS } from "../../testing/src/LegacyShapes.js"
import { migrate } from "../src/index.js"
import { auditReasons, createV1, edges, NOW, now, openDatabase, row, uuid } from "./helpers.js"

describe("migration 2 on a legacy database", () => {
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

  it("uses the columns the old Python migration added, and its task_dependencies table", () => {
    const db = openDatabase()
    const [a, b, c, d] = [uuid(1), uuid(2), uuid(3), uuid(4)]
    createV1(db, [
      { id: a, status: "completed", completed_at: "2025-10-10 12:00:00" },
      { id: b, dependencies: JSON.stringify([a]) },
      { id: c, dependencies: JSON.stringify([a, b]) },
      { id: d }
    ])
    // The Python migration's columns, a column of its own, and its own edge table and indexes.
    db.exec(`${PYTHON_TASK_COLUMNS}
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
})
