import * as z from "zod"

/**
 * The bounds every input is held to (CONTRACT, "Bounds"), and the checks behind them. A value
 * past a bound is a ValidationError at the input, so that nothing stored can make a later
 * operation fail: a lease of 2^53 seconds is an invalid date, JSON nested 200k levels deep
 * overflows the stack of every recursive reader, and a lone UTF-16 surrogate is stored as bytes
 * that are not UTF-8.
 */

/** The longest execution timeout and lease, in seconds: 7 days. */
export const MAX_DURATION_SECONDS = 604_800

/** The longest a claim waits for work (`waitSeconds`: HTTP long polls, MCP `task_claim`), in seconds. */
export const MAX_CLAIM_WAIT_SECONDS = 60

/** The longest estimated duration, in seconds: 365 days (urgency counts it against a deadline). */
export const MAX_ESTIMATE_SECONDS = 31_536_000

/** The oldest age `prune --older-than` takes, in seconds: 36,500 days (about 100 years). */
export const MAX_AGE_SECONDS = 3_153_600_000

/** The deepest JSON accepted in `inputData` and results: 64 levels of arrays and objects. */
export const MAX_JSON_DEPTH = 64

/**
 * The range of instants accepted as input (deadlines): UTC years 0000 to 9999, the range of the
 * stored form (`2026-01-31T17:00:00.000Z`). An offset can carry a time past it
 * (`9999-12-31T23:00:00-05:00` is in the year 10000), and such a time would not read back.
 */
export const MIN_INSTANT_MS = Date.parse("0000-01-01T00:00:00.000Z")
export const MAX_INSTANT_MS = Date.parse("9999-12-31T23:59:59.999Z")

const loneSurrogate = /[\uD800-\uDFFF]/u

/**
 * The UTF-16 index of the first lone surrogate in `s`, or -1 when `s` is well-formed Unicode.
 * (In a `u` regular expression a surrogate pair is one code point, so only lone halves match.)
 */
export const loneSurrogateAt = (s: string): number => {
  const m = loneSurrogate.exec(s)
  return m === null ? -1 : m.index
}

const describeSurrogate = (s: string, at: number): string =>
  `a lone UTF-16 surrogate (U+${s.charCodeAt(at).toString(16).toUpperCase()} at position ${at}): ` +
  "send well-formed Unicode (an emoji needs both halves of its surrogate pair)"

/** Why `s` is not well-formed text (it holds a lone surrogate), or null when it is; `what` names the field. */
export const illFormed = (what: string, s: string): string | null => {
  const at = loneSurrogateAt(s)
  return at < 0 ? null : `${what} holds ${describeSurrogate(s, at)}`
}

/** A zod check that refuses text holding a lone surrogate; `what` names the field. */
export const wellFormed = (what: string) =>
  z.superRefine<string>((s, ctx) => {
    const message = illFormed(what, s)
    if (message !== null) ctx.addIssue({ code: "custom", input: s, message })
  })

/**
 * `s` cut to at most `max` characters (Unicode code points), never inside a surrogate pair.
 */
export const cutCharacters = (s: string, max: number): string => {
  if (s.length <= max) return s
  let i = 0
  for (let count = 0; count < max && i < s.length; count++) {
    const c = s.charCodeAt(i)
    const pair = c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00
    i += pair ? 2 : 1
  }
  return s.slice(0, i)
}

/** What is wrong with a value that should be JSON, and where. */
export interface JsonProblem {
  /** Keys and indexes from the value's root to the problem. */
  readonly path: ReadonlyArray<string | number>
  readonly message: string
}

interface Frame {
  readonly value: unknown
  readonly depth: number
  readonly key: string | number | null
  readonly parent: Frame | null
}

const pathOf = (frame: Frame): Array<string | number> => {
  const path: Array<string | number> = []
  for (let f: Frame | null = frame; f !== null && f.key !== null; f = f.parent) path.push(f.key)
  return path.reverse()
}

/**
 * The first problem of a JSON value: nested deeper than `maxDepth` arrays and objects, or a
 * string (value or key) with a lone surrogate; null when there is none. Iterative, with an early
 * stop, so that a value nested 200k levels deep (or a cyclic object) costs no stack and little time.
 * Types are left to the schema that runs after it.
 */
export const jsonProblem = (value: unknown, maxDepth: number = MAX_JSON_DEPTH): JsonProblem | null => {
  const stack: Array<Frame> = [{ value, depth: 0, key: null, parent: null }]
  while (stack.length > 0) {
    const frame = stack.pop()!
    const v = frame.value
    if (typeof v === "string") {
      const at = loneSurrogateAt(v)
      if (at >= 0) return { path: pathOf(frame), message: `text holds ${describeSurrogate(v, at)}` }
      continue
    }
    if (v === null || typeof v !== "object") continue
    const depth = frame.depth + 1
    if (depth > maxDepth) {
      return {
        path: [],
        message: `JSON nested more than ${maxDepth} levels deep: at most ${maxDepth} levels of arrays and objects are accepted`
      }
    }
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ value: v[i], depth, key: i, parent: frame })
    } else {
      const keys = Object.keys(v)
      for (let i = keys.length - 1; i >= 0; i--) {
        const key = keys[i]!
        const at = loneSurrogateAt(key)
        if (at >= 0) return { path: pathOf(frame), message: `the key ${JSON.stringify(key)} holds ${describeSurrogate(key, at)}` }
        stack.push({ value: (v as Record<string, unknown>)[key], depth, key, parent: frame })
      }
    }
  }
  return null
}

/**
 * Runs `jsonProblem` ahead of a (recursive) JSON schema: a value it refuses never reaches the
 * schema, so the schema's recursion stays within `MAX_JSON_DEPTH` levels.
 */
export const boundedJson = <S extends z.ZodType>(schema: S) =>
  z.preprocess((value, ctx) => {
    const problem = jsonProblem(value)
    if (problem !== null) ctx.addIssue({ code: "custom", input: value, path: [...problem.path], message: problem.message })
    return value
  }, schema)

/** A whole number of seconds from `min` to `max`; `what` names the field. */
export const boundedSeconds = (what: string, min: 0 | 1, max: number) =>
  z
    .number({ error: `${what} must be a number` })
    .int({ error: `${what} must be a whole number` })
    .min(min, { error: min === 0 ? `${what} must not be negative` : `${what} must be at least 1` })
    .max(max, { error: `${what} must be at most ${max} (${describeSeconds(max)})` })

/** `604800` -> `7 days`. */
export const describeSeconds = (seconds: number): string =>
  seconds % 86_400 === 0 ? `${seconds / 86_400} days` : seconds % 3600 === 0 ? `${seconds / 3600} hours` : `${seconds} s`

/** Who acts (a worker or operator name, kept in the audit trail): well-formed text. */
export const ActorName = z.string({ error: "actor must be a string" }).check(wellFormed("actor"))

/** Why (a cancel reason, kept in the audit trail): well-formed text. */
export const ReasonText = z.string({ error: "reason must be a string" }).check(wellFormed("reason"))
