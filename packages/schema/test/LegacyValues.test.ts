/** Migration 2 on a legacy database: defaults, ranges, timestamps, statuses and ids, each change audited. */
import { describe, expect, it } from "vitest"
import { migrate } from "../src/index.js"
import { auditReasons, createV1, LOOSE_V1, NOW, now, openDatabase, row, uuid } from "./helpers.js"

describe("migration 2 on a legacy database", () => {
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
})
