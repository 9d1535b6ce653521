import { describe, expect, it } from "vitest"
import * as z from "zod"
import { ErrorBody, ErrorTags, exitCodeFor, formatIssues, httpStatusFor, LimitKind } from "@abathur/domain"

describe("exitCodeFor / httpStatusFor", () => {
  it.each([
    ["ValidationError", 2, 400],
    ["TaskNotFound", 3, 404],
    ["DependencyCycle", 4, 409],
    ["LimitExceeded", 4, 409],
    ["InvalidTransition", 4, 409],
    ["LeaseMismatch", 4, 409],
    ["MigrationError", 5, 500]
  ])("%s exits %i and answers HTTP %i", (tag, exit, http) => {
    expect(exitCodeFor(tag)).toBe(exit)
    expect(httpStatusFor(tag)).toBe(http)
  })

  it("Unauthorized answers HTTP 401", () => {
    expect(httpStatusFor("Unauthorized")).toBe(401)
  })

  it.each(["SqlError", "Boom", "", "validationerror", "toString", "constructor", "__proto__", "hasOwnProperty"])(
    "an unknown tag %j exits 1 and answers 500",
    (tag) => {
      expect(exitCodeFor(tag)).toBe(1)
      expect(httpStatusFor(tag)).toBe(500)
    }
  )

  it("covers every tag of the contract", () => {
    expect(Object.keys(ErrorTags).sort()).toEqual([
      "DependencyCycle",
      "IdempotencyConflict",
      "InvalidTransition",
      "LeaseMismatch",
      "LimitExceeded",
      "MigrationError",
      "TaskNotFound",
      "Unauthorized",
      "ValidationError"
    ])
  })
})

describe("ErrorBody", () => {
  it("parses the error document and keeps its details", () => {
    const body = {
      error: { _tag: "DependencyCycle", message: "the edge would close a cycle", cycle: ["a", "b", "a"] }
    }
    const parsed = ErrorBody.parse(body)
    expect(parsed.error._tag).toBe("DependencyCycle")
    expect(parsed.error.message).toBe("the edge would close a cycle")
    expect(parsed.error["cycle"]).toEqual(["a", "b", "a"])
    expect(ErrorBody.parse(JSON.parse(JSON.stringify(body)))).toEqual(body)
  })

  it("keeps LimitExceeded details", () => {
    const parsed = ErrorBody.parse({
      error: { _tag: "LimitExceeded", message: "too deep", limit: "depth", max: 10, actual: 11 }
    })
    expect(parsed.error).toMatchObject({ limit: "depth", max: 10, actual: 11 })
  })

  it("requires a tag and a message", () => {
    expect(ErrorBody.safeParse({ error: { message: "x" } }).success).toBe(false)
    expect(ErrorBody.safeParse({ error: { _tag: "X" } }).success).toBe(false)
    expect(ErrorBody.safeParse({ _tag: "X", message: "x" }).success).toBe(false)
  })
})

describe("LimitKind", () => {
  it("names the three limits", () => {
    expect(LimitKind.options).toEqual(["dependencies", "depth", "subtasks"])
    expect(LimitKind.safeParse("children").success).toBe(false)
  })
})

describe("formatIssues", () => {
  it("prefixes each issue with its dotted path and joins them with semicolons", () => {
    const schema = z.object({ a: z.object({ b: z.array(z.number({ error: "must be a number" })) }), c: z.string() })
    const r = schema.safeParse({ a: { b: [1, "x"] }, c: 3 })
    expect(r.success).toBe(false)
    if (!r.success) {
      const text = formatIssues(r.error)
      expect(text.split("; ")).toHaveLength(2)
      expect(text).toContain("a.b.1: must be a number")
      expect(text).toMatch(/^a\.b\.1: .*; c: /)
    }
  })

  it("gives the bare message for an issue at the root", () => {
    const r = z.string({ error: "expected text" }).safeParse(1)
    expect(r.success).toBe(false)
    if (!r.success) expect(formatIssues(r.error)).toBe("expected text")
  })
})
