/**
 * Timestamps as legacy Abathur databases hold them, read into the one stored form:
 * ISO-8601 UTC with milliseconds (`2025-10-10T12:00:00.000Z`).
 *
 * Accepted: `2025-10-10 12:00:00` (SQLite's CURRENT_TIMESTAMP), Python's `isoformat()` with or
 * without microseconds and offsets (`2025-10-10T14:00:00.123456+02:00`), `Z`, ` UTC`, a bare date,
 * and epoch numbers (seconds, or milliseconds when large). A time without a zone is UTC.
 * Fractions beyond milliseconds are cut (not rounded), so ordering is kept.
 */

const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?\s*(Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?$/i
const EPOCH = /^-?\d{9,}(\.\d+)?$/

const daysInMonth = (year: number, month: number): number => {
  const d = new Date(0)
  d.setUTCFullYear(year, month, 0)
  return d.getUTCDate()
}

/**
 * The instants the stored form holds: the UTC years 0000 to 9999 (`+010000-01-01T...` is not
 * read back as a time, and a lease computed from the edge of JavaScript's range is not a date).
 */
const MIN_MS = Date.parse("0000-01-01T00:00:00.000Z")
const MAX_MS = Date.parse("9999-12-31T23:59:59.999Z")
const inRange = (ms: number): number | null => (ms >= MIN_MS && ms <= MAX_MS ? ms : null)

const fromEpoch = (n: number): number | null => {
  if (!Number.isFinite(n)) return null
  // Seconds until the year 5138; larger values are milliseconds.
  const ms = Math.abs(n) < 1e11 ? Math.trunc(n * 1000) : Math.trunc(n)
  return inRange(ms)
}

/** Epoch milliseconds of a legacy timestamp, or null when it is not one. */
export const parseLegacyTimestamp = (value: unknown): number | null => {
  if (typeof value === "number") return fromEpoch(value)
  if (typeof value === "bigint") return fromEpoch(Number(value))
  if (typeof value !== "string") return null
  const s = value.trim()
  if (EPOCH.test(s)) return fromEpoch(Number(s))
  const m = DATE_TIME.exec(s)
  if (m === null) return null
  const [, ys, mos, ds, hs, mis, ss, fs, zone] = m
  const year = Number(ys)
  const month = Number(mos)
  const day = Number(ds)
  const hour = hs === undefined ? 0 : Number(hs)
  const minute = mis === undefined ? 0 : Number(mis)
  const second = ss === undefined ? 0 : Number(ss)
  const millis = fs === undefined ? 0 : Number(fs.slice(0, 3).padEnd(3, "0"))
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return null
  if (hour > 23 || minute > 59 || second > 59) return null
  let offsetMinutes = 0
  if (zone !== undefined && /^[+-]/.test(zone)) {
    const sign = zone.startsWith("-") ? -1 : 1
    const digits = zone.slice(1).replace(":", "")
    const oh = Number(digits.slice(0, 2))
    const om = digits.length > 2 ? Number(digits.slice(2, 4)) : 0
    if (oh > 23 || om > 59) return null
    offsetMinutes = sign * (oh * 60 + om)
  }
  const date = new Date(0)
  date.setUTCFullYear(year, month - 1, day)
  date.setUTCHours(hour, minute, second, millis)
  return inRange(date.getTime() - offsetMinutes * 60_000)
}

/** The stored form of an instant: `2025-10-10T12:00:00.000Z`. */
export const formatTimestamp = (ms: number): string => new Date(ms).toISOString()

/** A legacy timestamp in the stored form, or null when the value is not a timestamp. */
export const normalizeTimestamp = (value: unknown): string | null => {
  const ms = parseLegacyTimestamp(value)
  return ms === null ? null : formatTimestamp(ms)
}
