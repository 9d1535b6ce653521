import * as z from "zod"
import { boundedJson, MAX_INSTANT_MS, MIN_INSTANT_MS } from "./Bounds.js"

/** A task id: any RFC 4122 UUID (new ids are v4, time-ordered in their first bits: Ids.ts). Normalised to lower case. */
export const TaskId = z
  .string({ error: "a task id must be a string" })
  .trim()
  .regex(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, {
    error: (issue) => `${JSON.stringify(issue.input)} is not a task id: expected a UUID such as 3f2b8c1e-9d4a-4f6b-8e2a-1c5d7e9f0a2b`
  })
  .transform((s) => s.toLowerCase())
export type TaskId = z.output<typeof TaskId>

const zoned = /(Z|[+-]\d{2}:?\d{2})$/i
const dateOnly = /^\d{4}-\d{2}-\d{2}$/
const dateTime = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?$/i

/**
 * Reads a timestamp as SQLite and Python write them (`2025-10-10 12:00:00`,
 * `2025-10-10T12:00:00.123456+02:00`, `2025-10-10`). A time without a zone is UTC.
 * Returns epoch milliseconds, or null when the text is not a timestamp.
 */
export const parseTimestamp = (text: string): number | null => {
  // The canonical form (every stored time, formatTimestamp's): Date.parse reads it as it is.
  if (text.length === 24 && canonical.test(text)) {
    const ms = Date.parse(text)
    return Number.isNaN(ms) || !dayFits(Number(text.slice(0, 4)), Number(text.slice(5, 7)), Number(text.slice(8, 10))) ? null : ms
  }
  const s = text.trim()
  if (!dateTime.test(s) && !dateOnly.test(s)) return null
  let iso = s.replace(" ", "T")
  if (dateOnly.test(s)) iso += "T00:00:00Z"
  else if (!zoned.test(iso)) iso += "Z"
  // JavaScript reads at most milliseconds: drop extra fractional digits.
  iso = iso.replace(/(\.\d{3})\d+/, "$1")
  const ms = Date.parse(iso)
  if (Number.isNaN(ms)) return null
  const [year, month, day] = s.slice(0, 10).split("-").map(Number) as [number, number, number]
  return dayFits(year, month, day) ? ms : null
}

const canonical = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]

/** Date.parse rolls a day past the month's end over (2025-02-30 -> March 2): such a date is refused. */
const dayFits = (year: number, month: number, day: number): boolean => {
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0
  const daysInMonth = month === 2 && leap ? 29 : (DAYS_IN_MONTH[month - 1] ?? 31)
  return day <= daysInMonth
}

/** The canonical form of every stored and printed time: ISO-8601 UTC with milliseconds. */
export const formatTimestamp = (ms: number): string => {
  // One operation formats its instant several times (audit rows, lease, timestamps): the last one is kept.
  if (ms === lastFormatted.ms) return lastFormatted.text
  const text = new Date(ms).toISOString()
  lastFormatted = { ms, text }
  return text
}
let lastFormatted = { ms: Number.NaN, text: "" }

/** An ISO-8601 timestamp, normalised to UTC (`2026-01-31T17:00:00.000Z`). */
export const Timestamp = z.string({ error: "a time must be an ISO-8601 string such as 2026-01-31T17:00:00Z" }).transform((s, ctx) => {
  const ms = parseTimestamp(s)
  if (ms === null) {
    ctx.addIssue({
      code: "custom",
      message: `${JSON.stringify(s)} is not an ISO-8601 time: use a form such as 2026-01-31T17:00:00Z`
    })
    return z.NEVER
  }
  return formatTimestamp(ms)
})
export type Timestamp = z.output<typeof Timestamp>

/** An instant given as input (a deadline): a Timestamp in the UTC years 0000 to 9999. */
export const Instant = Timestamp.refine(
  (iso) => {
    const ms = Date.parse(iso)
    return ms >= MIN_INSTANT_MS && ms <= MAX_INSTANT_MS
  },
  { error: (issue) => `${JSON.stringify(issue.input)} is out of range: a time must be from 0000-01-01 to 9999-12-31 (UTC)` }
)

/** Any JSON value. */
export type JsonValue = string | number | boolean | null | ReadonlyArray<JsonValue> | { readonly [key: string]: JsonValue }
/**
 * The shape of any JSON value, without the bounds: for documents (the API's JSON Schema names it
 * JsonValue); validate input with JsonValue.
 */
export const JsonTree: z.ZodType<JsonValue> = z.lazy(() =>
  z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(JsonTree), z.record(z.string(), JsonTree)])
)
/** Any JSON value, at most 64 levels deep, its text (keys too) well-formed Unicode (Bounds.ts). */
export const JsonValue: z.ZodType<JsonValue> = boundedJson(JsonTree)

/** A JSON object (task input data), bounded as JsonValue is. */
export const JsonObject = boundedJson(z.record(z.string(), JsonTree, { error: 'must be a JSON object such as {"repo": "x"}' }))
export type JsonObject = z.output<typeof JsonObject>

export const nonNegativeInt = (what: string) =>
  z
    .number({ error: `${what} must be a number` })
    .int({ error: `${what} must be a whole number` })
    .min(0, { error: `${what} must not be negative` })

export const positiveInt = (what: string) =>
  z
    .number({ error: `${what} must be a number` })
    .int({ error: `${what} must be a whole number` })
    .min(1, { error: `${what} must be at least 1` })

/** A base priority: a whole number from 0 (lowest) to 10 (highest). */
export const BasePriority = z
  .number({ error: "priority must be a whole number from 0 to 10" })
  .int({ error: "priority must be a whole number from 0 to 10" })
  .min(0, { error: "priority must be from 0 to 10" })
  .max(10, { error: "priority must be from 0 to 10" })
