/**
 * Migration 2's conversion of one legacy (version 1) task row into a version 2 row: status,
 * times, numbers and enumerations read leniently, with a note for every value that cannot be
 * carried over as it is (the migration writes each note to the task's audit trail).
 */
import { randomUUID } from "node:crypto"
import { TASK_COLUMNS_V1 } from "./Ddl.js"
import type { SqlRow, SqlValue } from "./Sqlite.js"
import { formatTimestamp, parseLegacyTimestamp } from "./Timestamp.js"

const STATUSES = new Set(["pending", "blocked", "ready", "running", "completed", "failed", "cancelled"])
const SOURCES = new Set(["human", "agent_requirements", "agent_planner", "agent_implementation"])
export const DEPENDENCY_TYPES = new Set(["sequential", "parallel"])

/** Version 1's columns that version 2 keeps by name, in their order (`dependencies` becomes edges). */
type CarriedColumn = Exclude<(typeof TASK_COLUMNS_V1)[number], "id" | "prompt" | "dependencies">
const CARRIED_V1 = TASK_COLUMNS_V1.filter((c): c is CarriedColumn => c !== "id" && c !== "prompt" && c !== "dependencies")

/** Version 2 columns, in the order of the insert below: version 1's, with `summary`, then the queue's own. */
export const V2_COLUMNS = [
  "id",
  "prompt",
  "summary",
  ...CARRIED_V1,
  "source",
  "dependency_type",
  "calculated_priority",
  "deadline",
  "estimated_duration_seconds",
  "dependency_depth",
  "lease_token",
  "lease_expires_at",
  "worker_id",
  "priority_refresh_at",
  "cancelled_by"
] as const
type V2Column = (typeof V2_COLUMNS)[number]
export type V2Row = Record<V2Column, SqlValue>

export const V2_COLUMN_SET: ReadonlySet<string> = new Set(V2_COLUMNS)
/** Legacy columns whose content moves elsewhere (not into a column of the same name). */
const CONVERTED_COLUMNS: ReadonlySet<string> = new Set(["dependencies"])

const SUMMARY_MAX = 140
/** The longest execution timeout (CONTRACT "Bounds": 7 days) and estimate (365 days), as the domain has them. */
const MAX_TIMEOUT_SECONDS = 604_800
const MAX_ESTIMATE_SECONDS = 31_536_000

/**
 * `summary` defaults to the prompt's first line, cut to 140 characters (as the domain does):
 * code points, never inside a surrogate pair.
 */
export const summarize = (prompt: string): string => {
  const firstLine = prompt.trim().split(/\r?\n/, 1)[0] ?? ""
  if (firstLine.length <= SUMMARY_MAX) return firstLine
  return Array.from(firstLine).slice(0, SUMMARY_MAX).join("")
}

/** A value for an audit message: JSON, cut short when long. */
export const show = (value: unknown): string => {
  const text =
    typeof value === "string"
      ? JSON.stringify(value)
      : Buffer.isBuffer(value)
        ? `<blob of ${value.length} bytes>`
        : typeof value === "bigint"
          ? value.toString()
          : (JSON.stringify(value) ?? String(value))
  return text.length > 200 ? `${text.slice(0, 200)}...` : text
}

const jsonReplacer = (_key: string, value: unknown): unknown =>
  typeof value === "bigint"
    ? value.toString()
    : value !== null && typeof value === "object" && (value as { type?: unknown }).type === "Buffer"
      ? `base64:${Buffer.from((value as { data: Array<number> }).data).toString("base64")}`
      : value

/** Resolves legacy ids: exactly, else ignoring case (UUIDs written in upper case). */
export class TaskIds {
  private readonly exact = new Set<string>()
  private readonly folded = new Map<string, string>()

  add(id: string): void {
    this.exact.add(id)
    const key = id.toLowerCase()
    if (!this.folded.has(key)) this.folded.set(key, id)
  }

  resolve(value: SqlValue | undefined): string | null {
    if (typeof value !== "string") return null
    const s = value.trim()
    if (this.exact.has(s)) return s
    return this.folded.get(s.toLowerCase()) ?? null
  }
}

interface Conversion {
  readonly row: V2Row
  readonly notes: ReadonlyArray<string>
}

/**
 * Converts one legacy row. `columns` are the legacy table's columns, `target` the new table's;
 * `ids` every legacy task id.
 */
export const convertTask = (
  legacy: SqlRow,
  columns: ReadonlySet<string>,
  target: ReadonlyArray<string>,
  ids: TaskIds,
  id: string,
  now: Date
): Conversion => {
  const notes: Array<string> = []
  const value = (column: string): SqlValue | undefined => (columns.has(column) ? (legacy[column] ?? null) : undefined)

  // Status.
  const rawStatus = value("status")
  const folded = typeof rawStatus === "string" ? rawStatus.trim().toLowerCase() : ""
  let status: string
  if (STATUSES.has(folded)) {
    status = folded
    if (folded !== rawStatus) notes.push(`legacy status ${show(rawStatus)} read as ${folded}`)
  } else {
    status = "failed"
    notes.push(`legacy status ${show(rawStatus)} is not a known status; migrated as failed`)
  }

  // Numbers.
  const integer = (column: string, fallback: number, min: number, max: number, outOfRange: "clamp" | "default"): number => {
    const raw = value(column)
    if (raw === null || raw === undefined) return fallback
    const n = typeof raw === "bigint" ? Number(raw) : typeof raw === "string" && raw.trim() !== "" ? Number(raw) : raw
    if (typeof n !== "number" || !Number.isFinite(n)) {
      notes.push(`legacy ${column} ${show(raw)} is not a number; set to ${fallback}`)
      return fallback
    }
    const rounded = Math.round(n)
    const result = rounded >= min && rounded <= max ? rounded : outOfRange === "default" ? fallback : Math.min(max, Math.max(min, rounded))
    if (result !== raw) notes.push(`legacy ${column} ${show(raw)} set to ${result}`)
    return result
  }
  const priority = integer("priority", 5, 0, 10, "clamp")
  const retryCount = integer("retry_count", 0, 0, Number.MAX_SAFE_INTEGER, "clamp")
  const maxRetries = integer("max_retries", 3, 0, Number.MAX_SAFE_INTEGER, "clamp")
  let timeout = integer("max_execution_timeout_seconds", 3600, 1, Number.MAX_SAFE_INTEGER, "default")
  if (timeout > MAX_TIMEOUT_SECONDS) {
    // The contract's bound: a lease computed from a larger timeout may not be a valid date.
    notes.push(`legacy max_execution_timeout_seconds ${timeout} set to ${MAX_TIMEOUT_SECONDS} (7 days, the longest timeout)`)
    timeout = MAX_TIMEOUT_SECONDS
  }

  let estimatedDuration: number | null = null
  const rawEstimate = value("estimated_duration_seconds")
  if (rawEstimate !== null && rawEstimate !== undefined) {
    const n = typeof rawEstimate === "bigint" ? Number(rawEstimate) : Number(rawEstimate)
    if (Number.isFinite(n) && n >= 0) {
      estimatedDuration = Math.min(MAX_ESTIMATE_SECONDS, Math.round(n))
      if (estimatedDuration !== rawEstimate) notes.push(`legacy estimated_duration_seconds ${show(rawEstimate)} set to ${estimatedDuration}`)
    } else {
      notes.push(`legacy estimated_duration_seconds ${show(rawEstimate)} is not a duration; set to NULL`)
    }
  }

  let calculatedPriority = 5
  const rawCalculated = value("calculated_priority")
  if (rawCalculated !== null && rawCalculated !== undefined) {
    const n = typeof rawCalculated === "bigint" ? Number(rawCalculated) : Number(rawCalculated)
    if (Number.isFinite(n)) {
      calculatedPriority = Math.min(100, Math.max(0, n))
      if (calculatedPriority !== rawCalculated) notes.push(`legacy calculated_priority ${show(rawCalculated)} set to ${calculatedPriority}`)
    } else {
      notes.push(`legacy calculated_priority ${show(rawCalculated)} is not a number; set to 5`)
    }
  }

  // Enumerations.
  const enumerated = (column: string, allowed: ReadonlySet<string>, fallback: string): string => {
    const raw = value(column)
    if (raw === null || raw === undefined) return fallback
    const s = typeof raw === "string" ? raw.trim().toLowerCase() : ""
    if (allowed.has(s)) return s
    notes.push(`legacy ${column} ${show(raw)} is not known; set to ${fallback}`)
    return fallback
  }
  const source = enumerated("source", SOURCES, "human")
  const dependencyType = enumerated("dependency_type", DEPENDENCY_TYPES, "sequential")

  // Times.
  const time = (column: string): number | null => {
    const raw = value(column)
    if (raw === null || raw === undefined || (typeof raw === "string" && raw.trim() === "")) return null
    const ms = parseLegacyTimestamp(raw)
    if (ms === null) notes.push(`legacy ${column} ${show(raw)} is not a timestamp; dropped`)
    return ms
  }
  const started = time("started_at")
  const completed = time("completed_at")
  const deadline = time("deadline")
  let submitted = time("submitted_at")
  let lastUpdated = time("last_updated_at")
  if (submitted === null) {
    submitted = lastUpdated ?? started ?? completed ?? now.getTime()
    notes.push(`legacy submitted_at missing or unreadable; set to ${formatTimestamp(submitted)}`)
  }
  if (lastUpdated === null) {
    lastUpdated = Math.max(submitted, started ?? submitted, completed ?? submitted)
    notes.push(`legacy last_updated_at missing or unreadable; set to ${formatTimestamp(lastUpdated)}`)
  }

  // Text and JSON.
  const rawPrompt = value("prompt")
  const prompt: SqlValue = rawPrompt ?? ""
  if (rawPrompt === null || rawPrompt === undefined) notes.push("legacy prompt was NULL; set to ''")
  const promptText = Buffer.isBuffer(prompt) ? prompt.toString("utf8") : String(prompt)
  const rawSummary = value("summary")
  const summary = typeof rawSummary === "string" && rawSummary !== "" ? rawSummary : summarize(promptText)

  const inputData = (() => {
    const raw = value("input_data")
    if (raw === null || raw === undefined || (typeof raw === "string" && raw.trim() === "")) return "{}"
    let parsed: unknown
    try {
      parsed = typeof raw === "string" ? JSON.parse(raw) : raw
    } catch {
      notes.push(`legacy input_data is not JSON; kept as {"legacy_input_data": <text>}`)
      return JSON.stringify({ legacy_input_data: raw })
    }
    if (typeof raw === "string" && parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)) return raw
    notes.push(`legacy input_data is not a JSON object; kept as {"legacy_input_data": <value>}`)
    return JSON.stringify({ legacy_input_data: parsed }, jsonReplacer)
  })()

  const resultData = (() => {
    const raw = value("result_data")
    if (raw === null || raw === undefined) return null
    if (typeof raw === "string") {
      try {
        JSON.parse(raw)
        return raw
      } catch {
        notes.push("legacy result_data is not JSON; kept as a JSON string")
        return JSON.stringify(raw)
      }
    }
    notes.push("legacy result_data is not JSON text; kept as JSON")
    return JSON.stringify(raw, jsonReplacer) ?? null
  })()

  // Parent.
  let parent: string | null = null
  const rawParent = value("parent_task_id")
  if (rawParent !== null && rawParent !== undefined && rawParent !== "") {
    const resolved = ids.resolve(rawParent)
    if (resolved === null) notes.push(`legacy parent_task_id ${show(rawParent)} names no task; set to NULL`)
    else if (resolved === id) notes.push("legacy parent_task_id named the task itself; set to NULL")
    else parent = resolved
  }

  // A legacy RUNNING task keeps running under a lease that expires when its timeout would.
  let leaseToken: string | null = null
  let leaseExpiresAt: string | null = null
  if (status === "running") {
    leaseToken = randomUUID()
    leaseExpiresAt = formatTimestamp((started ?? lastUpdated) + timeout * 1000)
  }

  // Columns the new table does not have: their values stay in the audit trail.
  const extras: Record<string, unknown> = {}
  for (const column of columns) {
    if (V2_COLUMN_SET.has(column) || CONVERTED_COLUMNS.has(column) || target.includes(column)) continue
    const raw = legacy[column]
    if (raw !== null && raw !== undefined) extras[column] = raw
  }
  if (Object.keys(extras).length > 0) {
    notes.push(`legacy columns without a place in schema v2: ${JSON.stringify(extras, jsonReplacer)}`)
  }

  const nullableText = (column: string): SqlValue => value(column) ?? null
  return {
    row: {
      id,
      prompt,
      summary,
      agent_type: value("agent_type") ?? "general",
      priority,
      status,
      input_data: inputData,
      result_data: resultData,
      error_message: nullableText("error_message"),
      retry_count: retryCount,
      max_retries: maxRetries,
      max_execution_timeout_seconds: timeout,
      submitted_at: formatTimestamp(submitted),
      started_at: started === null ? null : formatTimestamp(started),
      completed_at: completed === null ? null : formatTimestamp(completed),
      last_updated_at: formatTimestamp(lastUpdated),
      created_by: nullableText("created_by"),
      parent_task_id: parent,
      session_id: nullableText("session_id"),
      source,
      dependency_type: dependencyType,
      calculated_priority: calculatedPriority,
      deadline: deadline === null ? null : formatTimestamp(deadline),
      estimated_duration_seconds: estimatedDuration,
      dependency_depth: 0,
      lease_token: leaseToken,
      lease_expires_at: leaseExpiresAt,
      worker_id: null,
      priority_refresh_at: null,
      cancelled_by: null
    },
    notes
  }
}

/** The ids a legacy `dependencies` value names, and what is wrong with it. */
export const parseDependencies = (raw: SqlValue | undefined): { ids: Array<string>; problems: Array<string> } => {
  if (raw === null || raw === undefined) return { ids: [], problems: [] }
  if (typeof raw !== "string") return { ids: [], problems: [`legacy dependencies value ${show(raw)} is malformed; dropped`] }
  if (raw.trim() === "") return { ids: [], problems: [] }
  let parsed: unknown
  try {
    parsed = JSON.parse(raw)
  } catch {
    return { ids: [], problems: [`legacy dependencies value ${show(raw)} is malformed; dropped`] }
  }
  if (parsed === null) return { ids: [], problems: [] }
  const entries: Array<unknown> = typeof parsed === "string" ? [parsed] : Array.isArray(parsed) ? parsed : []
  if (!Array.isArray(parsed) && typeof parsed !== "string") {
    return { ids: [], problems: [`legacy dependencies value ${show(raw)} is malformed; dropped`] }
  }
  const ids: Array<string> = []
  const problems: Array<string> = []
  for (const entry of entries) {
    if (typeof entry === "string" && entry.trim() !== "") ids.push(entry.trim())
    else problems.push(`legacy dependency entry ${show(entry)} is not a task id; dropped`)
  }
  return { ids, problems }
}
