import fc from "fast-check"
import { describe, expect, it } from "vitest"
import {
  ClaimInput,
  CompleteInput,
  FailInput,
  formatIssues,
  HeartbeatInput,
  JsonValue,
  PlanInput,
  PruneInput,
  ReleaseInput,
  SubmitTaskInput,
  summarize,
  Task
} from "@abathur/domain"

/**
 * The bounds of the contract ("Bounds"): durations, JSON depth and well-formed Unicode are
 * refused at the input (a ValidationError there), so that nothing stored can break a later claim.
 */

type Schema = { safeParse: (x: unknown) => { success: true } | { success: false; error: import("zod").ZodError } }
const rejection = (schema: Schema, input: unknown): string => {
  const r = schema.safeParse(input)
  if (r.success) throw new Error(`expected the input to be rejected`)
  return formatIssues(r.error)
}
const accepts = (schema: Schema, input: unknown) => expect(schema.safeParse(input).success).toBe(true)

const HUGE = [604_801, 1e13, Number.MAX_SAFE_INTEGER]
const LONE = ["\uD83D", "\uDE00", "a\uD83Db", "\uDE00\uD83D", "ok \uD800"]

/** `levels` arrays nested in each other (`[[[...]]]`), without recursion. */
const nestedArrays = (levels: number): unknown => {
  let v: unknown = 1
  for (let i = 0; i < levels; i++) v = [v]
  return v
}
/** An object `levels` deep counting itself: `{a: {a: ... {}}}`. */
const nestedObject = (levels: number): Record<string, unknown> => {
  let v: Record<string, unknown> = {}
  for (let i = 1; i < levels; i++) v = { a: v }
  return v
}

describe("durations: timeouts and leases at most 7 days (604800 s)", () => {
  it("accepts 604800 s", () => {
    expect(SubmitTaskInput.parse({ prompt: "x", maxExecutionTimeoutSeconds: 604_800 }).maxExecutionTimeoutSeconds).toBe(604_800)
    accepts(ClaimInput, { leaseSeconds: 604_800 })
    accepts(HeartbeatInput, { leaseSeconds: 604_800 })
  })

  it.each(HUGE)("refuses a timeout of %d s", (n) => {
    expect(rejection(SubmitTaskInput, { prompt: "x", maxExecutionTimeoutSeconds: n })).toBe(
      "maxExecutionTimeoutSeconds: maxExecutionTimeoutSeconds must be at most 604800 (7 days)"
    )
  })

  it.each(HUGE)("refuses a lease of %d s in claim and heartbeat", (n) => {
    expect(rejection(ClaimInput, { leaseSeconds: n })).toBe("leaseSeconds: leaseSeconds must be at most 604800 (7 days)")
    expect(rejection(HeartbeatInput, { leaseSeconds: n })).toBe("leaseSeconds: leaseSeconds must be at most 604800 (7 days)")
  })

  it("refuses a plan node with a huge timeout", () => {
    expect(rejection(PlanInput, { tasks: [{ key: "k", prompt: "x", maxExecutionTimeoutSeconds: Number.MAX_SAFE_INTEGER }] })).toContain(
      "at most 604800"
    )
  })

  it("estimatedDurationSeconds: at most 365 days (31536000 s)", () => {
    accepts(SubmitTaskInput, { prompt: "x", estimatedDurationSeconds: 31_536_000 })
    expect(rejection(SubmitTaskInput, { prompt: "x", estimatedDurationSeconds: 31_536_001 })).toBe(
      "estimatedDurationSeconds: estimatedDurationSeconds must be at most 31536000 (365 days)"
    )
    expect(rejection(SubmitTaskInput, { prompt: "x", estimatedDurationSeconds: 1e300 })).toContain("estimatedDurationSeconds")
  })

  it("prune --older-than: at most 36500d", () => {
    expect(PruneInput.parse({ olderThan: "36500d" }).olderThan).toBe(36_500 * 86_400_000)
    for (const age of ["36501d", "99999999999999w", `${"9".repeat(400)}s`]) {
      expect(rejection(PruneInput, { olderThan: age })).toContain("too old an age: at most 36500d")
    }
  })

  it("deadlines: valid instants in the UTC years 0000 to 9999 (what the stored form holds)", () => {
    expect(SubmitTaskInput.parse({ prompt: "x", deadline: "9999-12-31T23:59:59Z" }).deadline).toBe("9999-12-31T23:59:59.000Z")
    expect(SubmitTaskInput.parse({ prompt: "x", deadline: "1969-12-31" }).deadline).toBe("1969-12-31T00:00:00.000Z")
    expect(SubmitTaskInput.parse({ prompt: "x", deadline: "0000-01-01T00:00:00Z" }).deadline).toBe("0000-01-01T00:00:00.000Z")
    // An offset that carries the time out of the four-digit years: it would be stored as +010000-...
    for (const deadline of ["9999-12-31T23:00:00-05:00", "0000-01-01T00:30:00+01:00"]) {
      expect(rejection(SubmitTaskInput, { prompt: "x", deadline })).toContain("out of range")
    }
    for (const deadline of ["+275760-09-13T00:00:00Z", "2026-02-30", "2026-13-01", "2026-01-01T25:00:00Z", "1e300"]) {
      expect(rejection(SubmitTaskInput, { prompt: "x", deadline })).toContain("deadline")
    }
  })
})

describe("JSON in inputData and results: at most 64 levels deep", () => {
  it("accepts 64 levels and refuses 65", () => {
    accepts(SubmitTaskInput, { prompt: "x", inputData: nestedObject(64) })
    expect(rejection(SubmitTaskInput, { prompt: "x", inputData: nestedObject(65) })).toBe(
      "inputData: JSON nested more than 64 levels deep: at most 64 levels of arrays and objects are accepted"
    )
    accepts(CompleteInput, { result: nestedArrays(64) })
    expect(rejection(CompleteInput, { result: nestedArrays(65) })).toContain("result: JSON nested more than 64 levels deep")
  })

  it("refuses 200,000 levels with a ValidationError, not a stack overflow", () => {
    const deep = JSON.parse(`${"[".repeat(200_000)}${"]".repeat(200_000)}`) as unknown
    expect(rejection(CompleteInput, { result: deep })).toContain("more than 64 levels deep")
    const deepObject = JSON.parse(`${'{"a":'.repeat(200_000)}1${"}".repeat(200_000)}`) as unknown
    expect(rejection(SubmitTaskInput, { prompt: "x", inputData: deepObject })).toContain("more than 64 levels deep")
    expect(rejection(PlanInput, { tasks: [{ key: "k", prompt: "x", inputData: { d: deep } }] })).toContain("more than 64 levels deep")
  })

  it("refuses a cyclic value (a library caller's object) without hanging", () => {
    const cyclic: Record<string, unknown> = { name: "loop" }
    cyclic["self"] = cyclic
    expect(rejection(SubmitTaskInput, { prompt: "x", inputData: cyclic })).toContain("more than 64 levels deep")
  })

  it("keeps checking types: a wide value within the depth is parsed as before", () => {
    const wide = { list: Array.from({ length: 10_000 }, (_, i) => ({ i, tags: ["a", "b"] })) }
    expect(SubmitTaskInput.parse({ prompt: "x", inputData: wide }).inputData).toEqual(wide)
    expect(rejection(SubmitTaskInput, { prompt: "x", inputData: [1] })).toContain("JSON object")
    expect(JsonValue.safeParse({ f: () => 1 }).success).toBe(false)
  })
})

describe("text: a lone UTF-16 surrogate is a ValidationError in every field", () => {
  it.each(LONE)("%j in the prompt, summary, agentType", (bad) => {
    expect(rejection(SubmitTaskInput, { prompt: bad })).toMatch(
      /^prompt: prompt holds a lone UTF-16 surrogate \(U\+D[89A-F][0-9A-F]{2} at position \d+\)/
    )
    expect(rejection(SubmitTaskInput, { prompt: "x", summary: bad })).toContain("summary: summary holds a lone UTF-16 surrogate")
    expect(rejection(SubmitTaskInput, { prompt: "x", agentType: `coder${bad}` })).toContain("agentType holds a lone UTF-16 surrogate")
    expect(rejection(SubmitTaskInput, { prompt: "x", sessionId: bad })).toContain("sessionId holds")
    expect(rejection(SubmitTaskInput, { prompt: "x", createdBy: bad })).toContain("createdBy holds")
  })

  it.each(LONE)("%j in worker names, lease tokens, error texts and reasons", (bad) => {
    expect(rejection(ClaimInput, { worker: `w${bad}` })).toContain("worker: worker holds a lone UTF-16 surrogate")
    expect(rejection(ClaimInput, { agentType: bad })).toContain("agentType holds")
    expect(rejection(HeartbeatInput, { leaseToken: bad })).toContain("leaseToken holds")
    expect(rejection(FailInput, { error: `boom ${bad}` })).toContain("error: error holds a lone UTF-16 surrogate")
    expect(rejection(ReleaseInput, { reason: bad })).toContain("reason holds")
  })

  it.each(LONE)("%j inside JSON: string values and keys, at any depth, with the path", (bad) => {
    expect(rejection(SubmitTaskInput, { prompt: "x", inputData: { notes: ["fine", { text: bad }] } })).toMatch(
      /^inputData\.notes\.1\.text: text holds a lone UTF-16 surrogate/
    )
    expect(rejection(SubmitTaskInput, { prompt: "x", inputData: { [`k${bad}`]: 1 } })).toContain("the key")
    expect(rejection(CompleteInput, { result: bad })).toContain("result: text holds a lone UTF-16 surrogate")
    expect(rejection(CompleteInput, { result: { a: [[{ [bad]: true }]] } })).toContain("result.a.0.0: the key")
  })

  it.each(LONE)("%j in a plan's keys and references", (bad) => {
    expect(rejection(PlanInput, { tasks: [{ key: `k${bad}`, prompt: "x" }] })).toContain("key holds a lone UTF-16 surrogate")
    expect(rejection(PlanInput, { tasks: [{ key: "k", prompt: "x", dependsOn: [bad] }] })).toContain("dependsOn holds")
    expect(rejection(PlanInput, { tasks: [{ key: "k", prompt: "x", children: [{ key: "c", prompt: bad }] }] })).toContain(
      "tasks.0.children.0.prompt: prompt holds"
    )
  })

  it("accepts well-formed text: emoji (surrogate pairs), accents, CJK, in every field", () => {
    const text = "Fix 😀 café 日本語 𝄞"
    const t = SubmitTaskInput.parse({ prompt: text, summary: text, agentType: "c😀", inputData: { [text]: [text] } })
    expect(t.prompt).toBe(text)
    expect(t.inputData).toEqual({ [text]: [text] })
    accepts(ClaimInput, { worker: "w😀" })
    accepts(FailInput, { error: text })
    accepts(CompleteInput, { result: { [text]: text } })
  })
})

describe("the default summary is cut at 140 characters, never inside a surrogate pair", () => {
  const wellFormed = (s: string) => !/[\uD800-\uDFFF]/u.test(s)

  it("an emoji at character 140 is kept whole; one at 141 is dropped whole", () => {
    const a139 = "a".repeat(139)
    expect(summarize(`${a139}😀`)).toBe(`${a139}😀`)
    expect(summarize(`${a139}😀tail`)).toBe(`${a139}😀`)
    expect(summarize(`${"a".repeat(140)}😀`)).toBe("a".repeat(140))
    expect(Task.parse({ prompt: `${a139}😀😀` }).summary).toBe(`${a139}😀`)
    const emoji = "😀".repeat(200)
    expect(summarize(emoji)).toBe("😀".repeat(140))
    expect(wellFormed(summarize(`${a139}😀`))).toBe(true)
  })

  it("property: a summary is a well-formed prefix of the first line, at most 140 characters", () => {
    // Mostly astral characters (two UTF-16 units each), so that cuts fall at every parity.
    const piece = fc.constantFrom("a", "😀", "é", "日", "𝄞", "👩‍💻", " ")
    fc.assert(
      fc.property(
        fc.array(piece, { minLength: 60, maxLength: 300, size: "max" }).map((p) => p.join("")),
        (prompt) => {
          const s = summarize(prompt)
          expect(wellFormed(s)).toBe(true)
          expect([...s].length).toBeLessThanOrEqual(140)
          expect(prompt.trim().startsWith(s)).toBe(true)
        }
      ),
      { numRuns: 300 }
    )
  })
})
