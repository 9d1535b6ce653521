import { describe, expect, it } from "vitest"
import { normalizeTimestamp, parseLegacyTimestamp } from "../src/index.js"

describe("normalizeTimestamp", () => {
  it.each([
    ["2025-10-10 12:00:00", "2025-10-10T12:00:00.000Z"],
    ["2025-10-10T12:00:00", "2025-10-10T12:00:00.000Z"],
    ["2025-10-10T12:00:00.000Z", "2025-10-10T12:00:00.000Z"],
    ["2025-10-10T12:00:00.1", "2025-10-10T12:00:00.100Z"],
    ["2025-10-10T12:00:00,25", "2025-10-10T12:00:00.250Z"],
    ["2025-10-10T12:00:00.123456", "2025-10-10T12:00:00.123Z"],
    ["2025-10-10T12:00:00.123999999Z", "2025-10-10T12:00:00.123Z"],
    ["2025-10-10T12:00:00.123456+00:00", "2025-10-10T12:00:00.123Z"],
    ["2025-10-10T14:00:00+02:00", "2025-10-10T12:00:00.000Z"],
    ["2025-10-10T14:00:00+0200", "2025-10-10T12:00:00.000Z"],
    ["2025-10-10T14:00:00+02", "2025-10-10T12:00:00.000Z"],
    ["2025-10-10T00:30:00-05:00", "2025-10-10T05:30:00.000Z"],
    ["2025-10-10 12:00:00 UTC", "2025-10-10T12:00:00.000Z"],
    ["2025-10-10 12:00:00 gmt", "2025-10-10T12:00:00.000Z"],
    ["2025-10-10t12:00:00z", "2025-10-10T12:00:00.000Z"],
    ["  2025-10-10 12:00  ", "2025-10-10T12:00:00.000Z"],
    ["2025-10-10", "2025-10-10T00:00:00.000Z"],
    ["2024-02-29 00:00:00", "2024-02-29T00:00:00.000Z"],
    ["0099-01-01 00:00:00", "0099-01-01T00:00:00.000Z"],
    ["1760097600", "2025-10-10T12:00:00.000Z"],
    ["1760097600.5", "2025-10-10T12:00:00.500Z"]
  ])("reads %s", (text, iso) => {
    expect(normalizeTimestamp(text)).toBe(iso)
  })

  it("reads epoch numbers in seconds or milliseconds", () => {
    expect(normalizeTimestamp(1760097600)).toBe("2025-10-10T12:00:00.000Z")
    expect(normalizeTimestamp(1760097600123)).toBe("2025-10-10T12:00:00.123Z")
    expect(normalizeTimestamp(1760097600n)).toBe("2025-10-10T12:00:00.000Z")
  })

  it.each([
    "",
    "yesterday",
    "2025-13-01 00:00:00",
    "2025-02-30",
    "2025-02-29",
    "2025-10-10 24:00:00",
    "2025-10-10 12:60:00",
    "2025-10-10 12:00:61",
    "2025-10-10T12:00:00+25:00",
    "2025-10-10T12:00:00+02:75",
    "10/10/2025 12:00"
  ])("rejects %j", (text) => {
    expect(parseLegacyTimestamp(text)).toBeNull()
    expect(normalizeTimestamp(text)).toBeNull()
  })

  it("rejects values that are not text or numbers", () => {
    expect(normalizeTimestamp(null)).toBeNull()
    expect(normalizeTimestamp(undefined)).toBeNull()
    expect(normalizeTimestamp(Buffer.from("2025-10-10"))).toBeNull()
    expect(normalizeTimestamp(Number.NaN)).toBeNull()
    expect(normalizeTimestamp(Number.POSITIVE_INFINITY)).toBeNull()
    expect(normalizeTimestamp(1e20)).toBeNull()
  })

  it("reads only the UTC years 0000 to 9999 (what the stored form holds)", () => {
    expect(normalizeTimestamp(253402300799999)).toBe("9999-12-31T23:59:59.999Z")
    expect(normalizeTimestamp(8_640_000_000_000_000)).toBeNull()
    expect(normalizeTimestamp(253402300800000)).toBeNull()
    expect(normalizeTimestamp("9999-12-31T23:00:00-05:00")).toBeNull()
    expect(normalizeTimestamp("0000-01-01T00:30:00+01:00")).toBeNull()
  })

  it("keeps the order of instants", () => {
    const texts = ["2025-10-10 12:00:00", "2025-10-10T12:00:00.000999", "2025-10-10T14:00:00.001+02:00", "2025-10-10T12:00:01"]
    const normalized = texts.map((t) => normalizeTimestamp(t)!)
    expect([...normalized].sort()).toEqual(normalized)
  })
})
