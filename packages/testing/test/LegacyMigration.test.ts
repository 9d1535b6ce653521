import { parseTimestamp, summarize } from "@abathur/domain"
import { LATEST_VERSION, Migrations, migrate, readVersion, TASK_COLUMNS_V1 } from "@abathur/schema"
import BetterSqlite3 from "better-sqlite3"
import { existsSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { dumpDatabase } from "../src/DatabaseDump.js"
import { createLegacyDatabase, type LegacyDatabaseSummary } from "../src/LegacyDatabase.js"

/** The migrations up to version 3, before the hierarchy rules (version 4) apply to the data. */
const V3 = Migrations.filter((m) => m.version <= 3)

type Row = Record<string, unknown>

const cleanups: Array<() => void> = []
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup()
})

const openLegacy = (options: Parameters<typeof createLegacyDatabase>[1]): { db: BetterSqlite3.Database; summary: LegacyDatabaseSummary } => {
  const dir = mkdtempSync(join(tmpdir(), "abathur-legacy-"))
  const summary = createLegacyDatabase(join(dir, "abathur.db"), options)
  const db = new BetterSqlite3(summary.path)
  cleanups.push(() => {
    db.close()
    rmSync(dir, { recursive: true, force: true })
  })
  db.pragma("foreign_keys = ON")
  return { db, summary }
}

const tasksById = (db: BetterSqlite3.Database): Map<string, Row> =>
  new Map((db.prepare("SELECT * FROM tasks").all() as Array<Row>).map((r) => [r["id"] as string, r]))

const edgeSet = (db: BetterSqlite3.Database): Set<string> =>
  new Set(
    (db.prepare("SELECT dependent_task_id AS d, prerequisite_task_id AS p FROM task_dependencies").all() as Array<{ d: string; p: string }>).map(
      (e) => `${e.d} ${e.p}`
    )
  )

/** The instant of a legacy or new timestamp (null stays null). */
const instant = (value: unknown): number | null => {
  if (value === null || value === undefined) return null
  const ms = parseTimestamp(String(value))
  if (ms === null) throw new Error(`not a timestamp: ${String(value)}`)
  return ms
}

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/

/** dependency_depth from a list of edges on earlier tasks, in task order. */
const expectedDepths = (summary: LegacyDatabaseSummary): Map<string, number> => {
  const prerequisites = new Map<string, Array<string>>()
  for (const [d, p] of summary.dependencies) prerequisites.set(d, [...(prerequisites.get(d) ?? []), p])
  const depth = new Map<string, number>()
  for (const id of summary.taskIds) {
    const ps = prerequisites.get(id) ?? []
    depth.set(id, ps.length === 0 ? 0 : 1 + Math.max(...ps.map((p) => depth.get(p)!)))
  }
  return depth
}

/**
 * What differs between a legacy task and its migrated row, beyond what the migration must change
 * (times compared as instants). Empty when every legacy value is kept.
 */
const taskDifferences = (legacy: Row, migrated: Row, depth: number): Array<string> => {
  const id = String(legacy["id"])
  const differences: Array<string> = []
  const check = (column: string, actual: unknown, expected: unknown) => {
    if (!Object.is(actual, expected)) differences.push(`${id}.${column}: ${JSON.stringify(actual)} != ${JSON.stringify(expected)}`)
  }
  // Every legacy column is kept as it is, but those the migration converts (checked below).
  const converted = new Set([
    "retry_count",
    "max_retries",
    "submitted_at",
    "started_at",
    "completed_at",
    "last_updated_at",
    "parent_task_id",
    "dependencies"
  ])
  const same = TASK_COLUMNS_V1.filter((column) => !converted.has(column))
  for (const column of same) check(column, migrated[column], legacy[column])
  check("retry_count", migrated["retry_count"], legacy["retry_count"] ?? 0)
  check("max_retries", migrated["max_retries"], legacy["max_retries"] ?? 3)
  const times = ["submitted_at", "started_at", "completed_at", "last_updated_at", ...("source" in legacy ? ["deadline"] : [])]
  for (const column of times) {
    check(column, instant(migrated[column]), instant(legacy[column]))
    if (migrated[column] !== null && !ISO.test(String(migrated[column]))) differences.push(`${id}.${column}: not ISO`)
  }
  check("summary", migrated["summary"], summarize(legacy["prompt"] as string))
  check("dependency_depth", migrated["dependency_depth"], depth)
  // Migration 3: not ranked yet; a READY task is due for a refresh (ranked) before any claim.
  check("priority_refresh_at", migrated["priority_refresh_at"], migrated["status"] === "ready" ? migrated["submitted_at"] : null)
  check("priority_rank", migrated["priority_rank"], null)
  check("priority_starved", migrated["priority_starved"], 0)
  if (legacy["status"] === "running") {
    if (!/^[0-9a-f-]{36}$/.test(String(migrated["lease_token"]))) differences.push(`${id}.lease_token missing`)
    check(
      "lease_expires_at",
      instant(migrated["lease_expires_at"]),
      instant(legacy["started_at"])! + (legacy["max_execution_timeout_seconds"] as number) * 1000
    )
  } else {
    check("lease_token", migrated["lease_token"], null)
    check("lease_expires_at", migrated["lease_expires_at"], null)
  }
  if ("source" in legacy) {
    for (const column of ["source", "calculated_priority", "estimated_duration_seconds", "dependency_type"]) {
      check(column, migrated[column], legacy[column])
    }
  } else {
    check("source", migrated["source"], "human")
    check("calculated_priority", migrated["calculated_priority"], 5)
    check("deadline", migrated["deadline"], null)
    check("dependency_type", migrated["dependency_type"], "sequential")
  }
  return differences
}

describe("migrating a legacy database", () => {
  it("keeps every one of 10,000 tasks, every value and every dependency; a second run changes nothing", () => {
    const { db, summary } = openLegacy({ tasks: 10_000, versioned: true, dependencies: 3, seed: 7 })
    expect(readVersion(db)).toBe(1)
    const before = tasksById(db)
    expect(before.size).toBe(10_000)
    // The fixture's summary agrees with the legacy JSON column itself.
    const legacyEdges = new Set<string>()
    for (const [id, r] of before) {
      const deps = r["dependencies"] === null || r["dependencies"] === "" ? [] : (JSON.parse(r["dependencies"] as string) as Array<string>)
      for (const p of deps) legacyEdges.add(`${id} ${p}`)
    }
    const expectedEdges = new Set(summary.dependencies.map(([d, p]) => `${d} ${p}`))
    expect(legacyEdges).toEqual(expectedEdges)
    expect(summary.dependencyCount).toBeGreaterThan(10_000)
    expect(summary.statusCounts.running).toBeGreaterThan(0)

    // Up to version 3: every legacy value and edge as it was (version 4 applies the hierarchy
    // rules to them, below, and in the schema package's tests).
    const started = performance.now()
    const result = migrate(db, { migrations: V3 })
    const elapsed = performance.now() - started
    expect(result.fromVersion).toBe(1)
    expect(result.toVersion).toBe(3)
    expect(result.applied).toEqual([2, 3])
    expect(result.backup).not.toBeNull()
    expect(existsSync(result.backup!)).toBe(true)

    const after = tasksById(db)
    expect(after.size).toBe(before.size)
    const depths = expectedDepths(summary)
    const differences = [...before].flatMap(([id, legacy]) => taskDifferences(legacy, after.get(id)!, depths.get(id)!))
    expect(differences).toEqual([])
    const parents = [...after.values()].filter((r) => r["parent_task_id"] !== null).length
    expect(parents).toBe(summary.parentCount)
    expect([...before].filter(([id, legacy]) => after.get(id)!["parent_task_id"] !== legacy["parent_task_id"])).toEqual([])

    expect(edgeSet(db)).toEqual(expectedEdges)
    const edges = db.prepare("SELECT * FROM task_dependencies").all() as Array<Row>
    expect(edges.length).toBe(summary.dependencyCount)
    const wrongEdges = edges.filter((e) => {
      const dependent = after.get(e["dependent_task_id"] as string)!
      const prerequisite = after.get(e["prerequisite_task_id"] as string)!
      return (
        e["created_at"] !== dependent["submitted_at"] ||
        e["dependency_type"] !== "sequential" ||
        e["resolved_at"] !== (prerequisite["status"] === "completed" ? prerequisite["completed_at"] : null)
      )
    })
    expect(wrongEdges).toEqual([])
    expect(edges.some((e) => e["resolved_at"] !== null)).toBe(true)

    const byStatus = Object.fromEntries(
      (db.prepare("SELECT status, task_count FROM task_stats").all() as Array<{ status: string; task_count: number }>).map((s) => [
        s.status,
        s.task_count
      ])
    )
    expect(byStatus).toEqual({ ...summary.statusCounts, blocked: 0, ready: 0 })
    expect(db.prepare("SELECT count(*) FROM task_audit").pluck().get()).toBe(10_000)
    expect(db.prepare("SELECT DISTINCT reason FROM task_audit").pluck().all()).toEqual(["migrated from schema v1"])
    expect(db.pragma("foreign_key_check")).toEqual([])
    expect(db.pragma("quick_check", { simple: true })).toBe("ok")

    // The backup is the legacy database as it was.
    const backup = new BetterSqlite3(result.backup!, { readonly: true })
    try {
      expect(readVersion(backup)).toBe(1)
      expect(backup.prepare("SELECT count(*) FROM tasks").pluck().get()).toBe(10_000)
    } finally {
      backup.close()
    }

    const dump = dumpDatabase(db)
    expect(migrate(db, { migrations: V3 })).toEqual({ fromVersion: 3, toVersion: 3, backup: null, applied: [] })
    expect(dumpDatabase(db)).toBe(dump)
    // Version 4 on top: the hierarchy's edges that would wait for themselves go, audited, and
    // nothing else is lost.
    expect(migrate(db, { backup: false }).applied).toEqual(Migrations.filter((m) => m.version > 3).map((m) => m.version))
    expect(readVersion(db)).toBe(LATEST_VERSION)
    const notes = db.prepare("SELECT count(*) FROM task_audit WHERE reason LIKE 'schema v4 dropped%'").pluck().get() as number
    expect(db.prepare("SELECT count(*) FROM task_dependencies").pluck().get()).toBe(summary.dependencyCount - notes)
    expect(tasksById(db).size).toBe(10_000)
    expect(db.pragma("foreign_key_check")).toEqual([])
    console.info(`migrated 10,000 legacy tasks and ${summary.dependencyCount} dependencies in ${elapsed.toFixed(0)} ms`)
  }, 120_000) // about 13 s alone; a loaded 2-core machine (turbo runs two suites at once) needs room

  it.each([
    { statusCheck: true, legacyColumns: false, seed: 11 },
    { statusCheck: false, legacyColumns: false, seed: 12 },
    { statusCheck: true, legacyColumns: true, seed: 13 },
    { statusCheck: false, legacyColumns: true, seed: 14 }
  ])(
    "migrates an unversioned database beside sessions and agents in place (status CHECK $statusCheck, Python columns $legacyColumns)",
    ({ statusCheck, legacyColumns, seed }) => {
      const { db, summary } = openLegacy({
        tasks: 1500,
        versioned: false,
        statusCheck,
        withSessionsAndAgents: true,
        dependencies: 4,
        legacyColumns,
        anomalies: true,
        seed
      })
      expect(summary.otherTables).toEqual(legacyColumns ? ["agents", "sessions", "task_dependencies"] : ["agents", "sessions"])
      expect(summary.agentIds.length).toBeGreaterThan(0)
      expect(new Set(summary.droppedDependencies.map((d) => d.kind))).toEqual(new Set(["unknown", "self", "malformed"]))
      if (legacyColumns) expect(summary.tableOnlyDependencyCount).toBeGreaterThan(0)
      expect(summary.danglingParentTaskIds.length).toBeGreaterThan(0)
      expect(readVersion(db)).toBe(1)

      const others = () =>
        JSON.stringify({
          sessions: db.prepare("SELECT * FROM sessions ORDER BY rowid").all(),
          agents: db.prepare("SELECT * FROM agents ORDER BY rowid").all(),
          schema: db.prepare("SELECT * FROM sqlite_schema WHERE tbl_name IN ('sessions', 'agents') ORDER BY name").all()
        })
      const othersBefore = others()
      const before = tasksById(db)

      const result = migrate(db, { migrations: V3 })
      expect(result).toMatchObject({ fromVersion: 1, toVersion: 3, applied: [2, 3] })
      expect(db.pragma("foreign_keys", { simple: true })).toBe(1)

      // Other tables: row for row, and their foreign keys now point at the new tasks table.
      expect(others()).toBe(othersBefore)
      expect(db.pragma("foreign_key_check")).toEqual([])
      expect(db.pragma("foreign_key_list(agents)")).toEqual(
        expect.arrayContaining([expect.objectContaining({ table: "tasks", from: "task_id", to: "id" })])
      )
      const joined = db.prepare("SELECT count(*) FROM agents JOIN tasks ON tasks.id = agents.task_id").pluck().get()
      expect(joined).toBe(summary.agentIds.length)
      expect(() =>
        db
          .prepare(
            "INSERT INTO agents (id, name, specialization, task_id, state, model, spawned_at) VALUES ('x', 'x', 'x', 'missing', 'busy', 'm', 'now')"
          )
          .run()
      ).toThrow(/FOREIGN KEY constraint failed/)
      const agentTask = db.prepare("SELECT task_id FROM agents LIMIT 1").pluck().get() as string
      expect(() => db.prepare("DELETE FROM tasks WHERE id = ?").run(agentTask)).toThrow(/FOREIGN KEY constraint failed/)

      // Tasks: every value kept; the damaged parts set right and audited.
      const after = tasksById(db)
      expect(after.size).toBe(summary.taskIds.length)
      const depths = expectedDepths(summary)
      const dangling = new Set(summary.danglingParentTaskIds)
      const differences = [...before].flatMap(([id, legacy]) => {
        const migrated = after.get(id)!
        const expectedParent = dangling.has(id) ? null : legacy["parent_task_id"]
        return [
          ...taskDifferences(legacy, migrated, depths.get(id)!),
          ...(migrated["parent_task_id"] === expectedParent ? [] : [`${id}.parent_task_id`])
        ]
      })
      expect(differences).toEqual([])
      expect(edgeSet(db)).toEqual(new Set(summary.dependencies.map(([d, p]) => `${d} ${p}`)))

      const reasons = (id: string) => db.prepare("SELECT reason FROM task_audit WHERE task_id = ? ORDER BY id").pluck().all(id)
      for (const id of summary.taskIds) expect(reasons(id)[0]).toBe("migrated from schema v1")
      for (const d of summary.droppedDependencies) {
        const expected =
          d.kind === "unknown"
            ? `legacy dependency on unknown task ${d.value} dropped`
            : d.kind === "self"
              ? `legacy dependency on itself (${d.value}) dropped`
              : `legacy dependencies value ${JSON.stringify(d.value)} is malformed; dropped`
        expect(reasons(d.taskId)).toContain(expected)
      }
      for (const id of summary.danglingParentTaskIds) {
        expect(reasons(id).some((r) => /^legacy parent_task_id ".*" names no task; set to NULL$/.test(String(r)))).toBe(true)
      }
      const audited = db.prepare("SELECT count(*) FROM task_audit WHERE reason != 'migrated from schema v1'").pluck().get()
      expect(audited).toBe(summary.droppedDependencies.length + summary.danglingParentTaskIds.length)

      const dump = dumpDatabase(db)
      expect(migrate(db, { migrations: V3 }).applied).toEqual([])
      expect(dumpDatabase(db)).toBe(dump)
      expect(migrate(db, { migrations: Migrations.filter((m) => m.version <= 4), backup: false }).applied).toEqual([4])
      // Version 5 drops an index and nothing else: every row stays (but its own version row).
      const rowsOf = (d: string) => {
        const { tables } = JSON.parse(d) as { tables: Record<string, unknown> }
        delete tables["schema_migrations"]
        return JSON.stringify(tables)
      }
      const v4 = rowsOf(dumpDatabase(db))
      expect(migrate(db, { backup: false }).applied).toEqual([5])
      expect(rowsOf(dumpDatabase(db))).toBe(v4)
      expect(db.pragma("foreign_key_check")).toEqual([])
    }
  )

  it("is deterministic for a seed", () => {
    const a = openLegacy({ tasks: 200, versioned: false, dependencies: 2, withSessionsAndAgents: true, seed: 3 })
    const b = openLegacy({ tasks: 200, versioned: false, dependencies: 2, withSessionsAndAgents: true, seed: 3 })
    expect(dumpDatabase(a.db)).toBe(dumpDatabase(b.db))
    expect({ ...a.summary, path: "" }).toEqual({ ...b.summary, path: "" })
    const c = openLegacy({ tasks: 200, versioned: false, dependencies: 2, withSessionsAndAgents: true, seed: 4 })
    expect(dumpDatabase(c.db)).not.toBe(dumpDatabase(a.db))
  })
})
