import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { formatIssues, SubmitTaskInput } from "@abathur/domain"

const A = "3f2b8c1e-9d4a-4f6b-8e2a-1c5d7e9f0a2b"
const B = "7c9e6679-7425-40de-944b-e07fc1f90ae7"

/** The one-line message a person would see for a rejected submission. */
const rejection = (input: unknown): string => {
  const r = SubmitTaskInput.safeParse(input)
  if (r.success) throw new Error(`expected ${JSON.stringify(input)} to be rejected`)
  return formatIssues(r.error)
}

describe("SubmitTaskInput rejects bad values with a message naming the field and the fix", () => {
  it.each([11, -1, 100])("priority %s: out of range", (priority) => {
    expect(rejection({ prompt: "x", priority })).toBe("priority: priority must be from 0 to 10")
  })

  it.each([2.5, "high", "5", null, true])("priority %j: not a whole number", (priority) => {
    expect(rejection({ prompt: "x", priority })).toBe("priority: priority must be a whole number from 0 to 10")
  })

  it.each(["", " ", "  \n\t "])("prompt %j: empty", (prompt) => {
    expect(rejection({ prompt })).toBe("prompt: prompt must not be empty: describe the work to do")
  })

  it("missing prompt", () => {
    expect(rejection({ priority: 3 })).toBe("prompt: prompt is required: describe the work as text")
  })

  it("prompt that is not text", () => {
    expect(rejection({ prompt: 42 })).toBe("prompt: prompt is required: describe the work as text")
  })

  it("bad UUID in dependsOn names the position and shows a valid id", () => {
    const text = rejection({ prompt: "x", dependsOn: [A, "task-2"] })
    expect(text).toContain("dependsOn.1")
    expect(text).toContain('"task-2" is not a task id')
    expect(text).toContain("expected a UUID such as")
  })

  it("dependsOn that is not a list", () => {
    expect(rejection({ prompt: "x", dependsOn: A })).toBe("dependsOn: dependsOn must be a list of task ids")
  })

  it("bad UUID in parentTaskId", () => {
    const text = rejection({ prompt: "x", parentTaskId: "3f2b8c1e-9d4a-4f6b-8e2a" })
    expect(text).toMatch(/^parentTaskId: /)
    expect(text).toContain("is not a task id: expected a UUID such as")
  })

  it.each(["tomorrow", "2025-13-01", "2025-10-10T25:00:00", "10/10/2025", "2025-02-30", ""])("bad ISO deadline %j", (deadline) => {
    const text = rejection({ prompt: "x", deadline })
    expect(text).toBe(`deadline: ${JSON.stringify(deadline)} is not an ISO-8601 time: use a form such as 2026-01-31T17:00:00Z`)
  })

  it("deadline that is not a string", () => {
    expect(rejection({ prompt: "x", deadline: 1760097600000 })).toBe("deadline: a time must be an ISO-8601 string such as 2026-01-31T17:00:00Z")
  })

  it("negative estimatedDurationSeconds", () => {
    expect(rejection({ prompt: "x", estimatedDurationSeconds: -5 })).toBe("estimatedDurationSeconds: estimatedDurationSeconds must not be negative")
  })

  it("fractional estimatedDurationSeconds", () => {
    expect(rejection({ prompt: "x", estimatedDurationSeconds: 1.5 })).toBe(
      "estimatedDurationSeconds: estimatedDurationSeconds must be a whole number"
    )
  })

  it("negative maxRetries", () => {
    expect(rejection({ prompt: "x", maxRetries: -1 })).toBe("maxRetries: maxRetries must not be negative")
  })

  it("zero maxExecutionTimeoutSeconds", () => {
    expect(rejection({ prompt: "x", maxExecutionTimeoutSeconds: 0 })).toBe(
      "maxExecutionTimeoutSeconds: maxExecutionTimeoutSeconds must be at least 1"
    )
  })

  it("maxExecutionTimeoutSeconds that is not a number", () => {
    expect(rejection({ prompt: "x", maxExecutionTimeoutSeconds: "1h" })).toBe(
      "maxExecutionTimeoutSeconds: maxExecutionTimeoutSeconds must be a number"
    )
  })

  it("unknown field (a typo) is named, with the fix", () => {
    const text = rejection({ prompt: "x", priorty: 3 })
    expect(text).toContain('unknown field "priorty"')
    expect(text).toContain("remove it or fix the spelling")
    expect(text).toContain("priority")
  })

  it("several unknown fields are all named", () => {
    const text = rejection({ prompt: "x", foo: 1, bar: 2 })
    expect(text).toContain('unknown fields "foo", "bar"')
    expect(text).toContain("remove them")
  })

  it("status is not a submit field", () => {
    expect(rejection({ prompt: "x", status: "ready" })).toContain('unknown field "status"')
  })

  it("unknown source lists the valid ones", () => {
    expect(rejection({ prompt: "x", source: "robot" })).toBe(
      'source: unknown source "robot": use one of human, agent_requirements, agent_planner, agent_implementation'
    )
  })

  it("unknown dependencyType names the valid ones", () => {
    expect(rejection({ prompt: "x", dependencyType: "both" })).toBe('dependencyType: unknown dependency type "both": use sequential or parallel')
  })

  it("empty agentType", () => {
    expect(rejection({ prompt: "x", agentType: "  " })).toBe("agentType: agentType must not be empty")
  })

  it("inputData that is not an object", () => {
    expect(rejection({ prompt: "x", inputData: [1, 2] })).toBe('inputData: must be a JSON object such as {"repo": "x"}')
  })

  it.each([null, "Write the docs", [], 42])("a body that is not an object (%j) says an object is expected", (input) => {
    expect(rejection(input)).toContain("expected object")
  })

  it("reports every problem at once, separated by semicolons", () => {
    const text = rejection({ prompt: "", priority: 11, maxRetries: -1 })
    expect(text.split("; ")).toHaveLength(3)
    expect(text).toContain("prompt:")
    expect(text).toContain("priority:")
    expect(text).toContain("maxRetries:")
  })

  it("rejects every integer priority outside 0..10 and accepts every one inside", () => {
    fc.assert(
      fc.property(fc.integer({ min: -1000, max: 1000 }), (priority) => {
        expect(SubmitTaskInput.safeParse({ prompt: "x", priority }).success).toBe(priority >= 0 && priority <= 10)
      })
    )
  })
})

describe("SubmitTaskInput accepts valid input and normalises it", () => {
  it("fills defaults for a bare prompt", () => {
    expect(SubmitTaskInput.parse({ prompt: "Write the docs" })).toEqual({
      prompt: "Write the docs",
      priority: 5,
      dependsOn: [],
      dependencyType: "sequential",
      agentType: "general",
      maxRetries: 3,
      maxExecutionTimeoutSeconds: 3600,
      inputData: {}
    })
  })

  it("keeps every field it is given", () => {
    const input = {
      prompt: "Implement X",
      priority: 10,
      source: "agent_planner",
      dependsOn: [A, B],
      dependencyType: "parallel",
      parentTaskId: B,
      deadline: "2026-01-31T17:00:00.000Z",
      estimatedDurationSeconds: 0,
      agentType: "coder",
      maxRetries: 0,
      maxExecutionTimeoutSeconds: 1,
      summary: "X",
      inputData: { repo: "r", nested: { list: [1, "a", null, true] } },
      sessionId: "s-1",
      createdBy: "agent-7"
    } as const
    expect(SubmitTaskInput.parse(input)).toEqual({
      ...input,
      dependsOn: [
        { id: A, onFailure: "cancel" },
        { id: B, onFailure: "cancel" }
      ]
    })
  })

  it("accepts the bounds of priority, 0 and 10", () => {
    expect(SubmitTaskInput.parse({ prompt: "x", priority: 0 }).priority).toBe(0)
    expect(SubmitTaskInput.parse({ prompt: "x", priority: 10 }).priority).toBe(10)
  })

  it("accepts null for the nullable fields", () => {
    const r = SubmitTaskInput.parse({ prompt: "x", parentTaskId: null, deadline: null, estimatedDurationSeconds: null })
    expect(r.parentTaskId).toBeNull()
    expect(r.deadline).toBeNull()
    expect(r.estimatedDurationSeconds).toBeNull()
  })

  it("lower-cases upper-case UUIDs and trims them", () => {
    const r = SubmitTaskInput.parse({ prompt: "x", dependsOn: [A.toUpperCase(), ` ${B} `], parentTaskId: B.toUpperCase() })
    expect(r.dependsOn.map((d) => d.id)).toEqual([A, B])
    expect(r.parentTaskId).toBe(B)
  })

  it("accepts any RFC 4122 version, not only v4", () => {
    const v1 = "6ba7b810-9dad-11d1-80b4-00c04fd430c8"
    const v7 = "01890a5d-ac96-774b-bcce-b302099a8057"
    expect(SubmitTaskInput.parse({ prompt: "x", dependsOn: [v1, v7] }).dependsOn.map((d) => d.id)).toEqual([v1, v7])
  })

  it("reads a deadline without a zone as UTC", () => {
    expect(SubmitTaskInput.parse({ prompt: "x", deadline: "2025-10-10T12:00:00" }).deadline).toBe("2025-10-10T12:00:00.000Z")
  })

  it("reads the SQLite form 2025-10-10 12:00:00", () => {
    expect(SubmitTaskInput.parse({ prompt: "x", deadline: "2025-10-10 12:00:00" }).deadline).toBe("2025-10-10T12:00:00.000Z")
  })

  it("reads a date-only deadline as midnight UTC", () => {
    expect(SubmitTaskInput.parse({ prompt: "x", deadline: "2025-10-10" }).deadline).toBe("2025-10-10T00:00:00.000Z")
  })

  it("converts a deadline with an offset to UTC", () => {
    expect(SubmitTaskInput.parse({ prompt: "x", deadline: "2025-10-10T12:00:00-05:00" }).deadline).toBe("2025-10-10T17:00:00.000Z")
  })

  it("accepts a prompt with surrounding whitespace and keeps it as given", () => {
    expect(SubmitTaskInput.parse({ prompt: "  do it  " }).prompt).toBe("  do it  ")
  })
})
