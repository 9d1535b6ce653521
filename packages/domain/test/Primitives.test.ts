import fc from "fast-check"
import { describe, expect, it } from "vitest"
import {
  BasePriority,
  formatIssues,
  formatTimestamp,
  JsonObject,
  JsonValue,
  nonNegativeInt,
  parseAge,
  parseTimestamp,
  positiveInt,
  TaskId,
  Timestamp
} from "@abathur/domain"

const NOON = Date.UTC(2025, 9, 10, 12, 0, 0)

describe("parseTimestamp", () => {
  it.each([
    ["2025-10-10T12:00:00Z", NOON],
    ["2025-10-10T12:00:00.000Z", NOON],
    ["2025-10-10T12:00:00", NOON],
    ["2025-10-10 12:00:00", NOON],
    ["2025-10-10T12:00", NOON],
    ["2025-10-10t12:00:00z", NOON],
    ["2025-10-10T14:00:00+02:00", NOON],
    ["2025-10-10T14:00:00+0200", NOON],
    ["2025-10-10T07:00:00-05:00", NOON],
    ["  2025-10-10 12:00:00  ", NOON],
    ["2025-10-10", Date.UTC(2025, 9, 10)],
    ["2024-02-29", Date.UTC(2024, 1, 29)],
    ["2024-02-29T23:59:59.999Z", Date.UTC(2024, 1, 29, 23, 59, 59, 999)]
  ])("reads %j", (text, ms) => {
    expect(parseTimestamp(text)).toBe(ms)
  })

  it("keeps milliseconds and drops finer digits (Python writes microseconds)", () => {
    expect(parseTimestamp("2025-10-10T12:00:00.123456+02:00")).toBe(NOON - 2 * 3_600_000 + 123)
    expect(parseTimestamp("2025-10-10 12:00:00.5")).toBe(NOON + 500)
  })

  it.each([
    "",
    "tomorrow",
    "2025-10-10T12",
    "2025/10/10",
    "10/10/2025",
    "2025-13-01",
    "2025-10-32",
    "2025-10-10T12:60:00",
    "2025-13-01T00:00:00.000Z",
    "2025-10-10T12:60:00.000Z",
    "2025-10-10T25:00:00",
    "2025-10-10T12:00:00+25:00",
    "1760097600000"
  ])("refuses %j", (text) => {
    expect(parseTimestamp(text)).toBeNull()
  })

  it.each(["2025-02-29", "2025-02-30", "2025-04-31", "2025-06-31T10:00:00Z", "1900-02-29", "2025-02-29T00:00:00.000Z", "2025-04-31T23:59:59.999Z"])(
    "refuses a day that the month does not have: %j (instead of rolling it into the next month)",
    (text) => {
      expect(parseTimestamp(text)).toBeNull()
    }
  )

  it("accepts the last day of every month, leap years included", () => {
    expect(parseTimestamp("2000-02-29")).toBe(Date.UTC(2000, 1, 29))
    for (let month = 1; month <= 12; month++) {
      const last = new Date(Date.UTC(2025, month, 0)).getUTCDate()
      const text = `2025-${String(month).padStart(2, "0")}-${last}`
      expect(parseTimestamp(text)).toBe(Date.UTC(2025, month - 1, last))
    }
  })

  it("round-trips every instant through formatTimestamp", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Date.UTC(9999, 11, 31) }), (ms) => {
        expect(parseTimestamp(formatTimestamp(ms))).toBe(ms)
      })
    )
  })
})

describe("formatTimestamp", () => {
  it("writes ISO-8601 UTC with milliseconds", () => {
    expect(formatTimestamp(0)).toBe("1970-01-01T00:00:00.000Z")
    expect(formatTimestamp(NOON + 7)).toBe("2025-10-10T12:00:00.007Z")
  })
})

describe("Timestamp", () => {
  it("normalises any accepted form to ISO-8601 UTC", () => {
    expect(Timestamp.parse("2025-10-10 12:00:00")).toBe("2025-10-10T12:00:00.000Z")
    expect(Timestamp.parse("2025-10-10T14:00:00+02:00")).toBe("2025-10-10T12:00:00.000Z")
    expect(Timestamp.parse("2025-10-10")).toBe("2025-10-10T00:00:00.000Z")
  })

  it("says which text is not a time and what to write instead", () => {
    const r = Timestamp.safeParse("next friday")
    expect(r.success).toBe(false)
    if (!r.success) {
      expect(formatIssues(r.error)).toBe('"next friday" is not an ISO-8601 time: use a form such as 2026-01-31T17:00:00Z')
    }
  })

  it("rejects a non-string", () => {
    const r = Timestamp.safeParse(123)
    expect(r.success).toBe(false)
    if (!r.success) expect(formatIssues(r.error)).toBe("a time must be an ISO-8601 string such as 2026-01-31T17:00:00Z")
  })
})

describe("TaskId", () => {
  it("accepts a UUID in any case and lower-cases it", () => {
    expect(TaskId.parse("3F2B8C1E-9D4A-4F6B-8E2A-1C5D7E9F0A2B")).toBe("3f2b8c1e-9d4a-4f6b-8e2a-1c5d7e9f0a2b")
  })

  it.each(["", "abc", "3f2b8c1e9d4a4f6b8e2a1c5d7e9f0a2b", "3f2b8c1e-9d4a-4f6b-8e2a-1c5d7e9f0a2g"])("rejects %j", (s) => {
    const r = TaskId.safeParse(s)
    expect(r.success).toBe(false)
    if (!r.success) expect(formatIssues(r.error)).toContain("is not a task id: expected a UUID")
  })

  it("rejects a non-string with a clear message", () => {
    const r = TaskId.safeParse(7)
    expect(r.success).toBe(false)
    if (!r.success) expect(formatIssues(r.error)).toBe("a task id must be a string")
  })

  it("accepts every generated UUID", () => {
    fc.assert(fc.property(fc.uuid(), (id) => TaskId.parse(id.toUpperCase()) === id.toLowerCase()))
  })
})

describe("JsonValue / JsonObject", () => {
  it("accepts nested JSON", () => {
    const v = { a: [1, "two", null, false, { b: { c: [] } }] }
    expect(JsonValue.parse(v)).toEqual(v)
    expect(JsonObject.parse(v)).toEqual(v)
  })

  it("rejects values that are not JSON", () => {
    expect(JsonValue.safeParse(undefined).success).toBe(false)
    expect(JsonValue.safeParse({ f: () => 1 }).success).toBe(false)
    expect(JsonObject.safeParse("text").success).toBe(false)
    expect(JsonObject.safeParse([1]).success).toBe(false)
  })

  it("accepts whatever JSON.parse gives back", () => {
    fc.assert(fc.property(fc.jsonValue(), (v) => JsonValue.safeParse(JSON.parse(JSON.stringify(v))).success))
  })
})

describe("number schemas", () => {
  it("nonNegativeInt names the field", () => {
    const r = nonNegativeInt("retries").safeParse(-1)
    expect(r.success).toBe(false)
    if (!r.success) expect(formatIssues(r.error)).toBe("retries must not be negative")
    expect(nonNegativeInt("retries").parse(0)).toBe(0)
  })

  it("positiveInt names the field", () => {
    const r = positiveInt("timeout").safeParse(0)
    expect(r.success).toBe(false)
    if (!r.success) expect(formatIssues(r.error)).toBe("timeout must be at least 1")
    expect(positiveInt("timeout").parse(1)).toBe(1)
  })

  it("BasePriority is a whole number from 0 to 10", () => {
    expect(BasePriority.parse(0)).toBe(0)
    expect(BasePriority.parse(10)).toBe(10)
    expect(BasePriority.safeParse(10.5).success).toBe(false)
    expect(BasePriority.safeParse(11).success).toBe(false)
  })
})

describe("parseAge", () => {
  it.each([
    ["30s", 30_000],
    ["15m", 15 * 60_000],
    ["12h", 12 * 3_600_000],
    ["30d", 30 * 86_400_000],
    ["2w", 14 * 86_400_000],
    ["0d", 0],
    [" 2W ", 14 * 86_400_000],
    ["7 d", 7 * 86_400_000]
  ])("reads %j", (text, ms) => {
    expect(parseAge(text)).toBe(ms)
  })

  it.each(["", "30", "d", "1.5h", "-1d", "30y", "30 days", "thirty d", "30dd"])("refuses %j", (text) => {
    expect(parseAge(text)).toBeNull()
  })
})
