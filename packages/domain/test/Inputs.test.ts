import { describe, expect, it } from "vitest"
import {
  AddDependencyInput,
  ClaimInput,
  CompleteInput,
  ExecutionPlanInput,
  FailInput,
  formatIssues,
  GraphFormat,
  HeartbeatInput,
  ListTasksInput,
  PruneInput,
  ReleaseInput
} from "@abathur/domain"

const A = "3f2b8c1e-9d4a-4f6b-8e2a-1c5d7e9f0a2b"
const DAY = 86_400_000

const rejection = (schema: { safeParse: (x: unknown) => { success: true } | { success: false; error: import("zod").ZodError } }, input: unknown) => {
  const r = schema.safeParse(input)
  if (r.success) throw new Error(`expected ${JSON.stringify(input)} to be rejected`)
  return formatIssues(r.error)
}

describe("ListTasksInput", () => {
  it("takes one status or a list of them", () => {
    expect(ListTasksInput.parse({ status: "ready" }).status).toEqual(["ready"])
    expect(ListTasksInput.parse({ status: ["ready", "blocked"], excludeStatus: "failed" })).toMatchObject({
      status: ["ready", "blocked"],
      excludeStatus: ["failed"]
    })
  })

  it("normalises the parent id and accepts an empty filter", () => {
    expect(ListTasksInput.parse({ parentTaskId: A.toUpperCase() }).parentTaskId).toBe(A)
    expect(ListTasksInput.parse({})).toEqual({})
  })

  it("rejects an unknown status, a zero limit and unknown filters", () => {
    expect(rejection(ListTasksInput, { status: "done" })).toContain('unknown status "done"')
    expect(rejection(ListTasksInput, { limit: 0 })).toBe("limit: limit must be at least 1")
    expect(rejection(ListTasksInput, { source: "robot" })).toContain('unknown source "robot"')
    expect(rejection(ListTasksInput, { sort: "asc" })).toContain("sort")
  })

  it("takes a text filter (trimmed, 1..200 characters) and an offset for paging", () => {
    expect(ListTasksInput.parse({ text: "  parser ", limit: 50, offset: 100 })).toEqual({ text: "parser", limit: 50, offset: 100 })
    expect(ListTasksInput.parse({ offset: 0 }).offset).toBe(0)
    expect(rejection(ListTasksInput, { text: "   " })).toBe("text: text must not be empty")
    expect(rejection(ListTasksInput, { text: "x".repeat(201) })).toBe("text: text must be at most 200 characters")
    expect(rejection(ListTasksInput, { offset: -1 })).toBe("offset: offset must not be negative")
    expect(rejection(ListTasksInput, { offset: 1.5 })).toBe("offset: offset must be a whole number")
  })
})

describe("ClaimInput", () => {
  it("accepts a worker, a lease, an agent type and a wait of up to 60 s", () => {
    expect(ClaimInput.parse({ worker: "w1", leaseSeconds: 30, agentType: "coder", waitSeconds: 60 })).toEqual({
      worker: "w1",
      leaseSeconds: 30,
      agentType: "coder",
      waitSeconds: 60
    })
  })

  it("rejects a wait over 60 s or below 0, and a zero lease", () => {
    expect(rejection(ClaimInput, { waitSeconds: 61 })).toBe("waitSeconds: waitSeconds must be at most 60")
    expect(rejection(ClaimInput, { waitSeconds: -1 })).toBe("waitSeconds: waitSeconds must not be negative")
    expect(rejection(ClaimInput, { leaseSeconds: 0 })).toBe("leaseSeconds: leaseSeconds must be at least 1")
    expect(rejection(ClaimInput, { worker: "" })).toBe("worker: worker must not be empty")
  })
})

describe("HeartbeatInput / CompleteInput / FailInput / ReleaseInput", () => {
  it("rejects an empty lease token", () => {
    expect(rejection(HeartbeatInput, { leaseToken: "" })).toBe("leaseToken: leaseToken must not be empty")
    expect(rejection(CompleteInput, { leaseToken: "" })).toBe("leaseToken: leaseToken must not be empty")
  })

  it("complete takes any JSON result", () => {
    expect(CompleteInput.parse({ result: { ok: true, files: ["a"] } }).result).toEqual({ ok: true, files: ["a"] })
    expect(CompleteInput.parse({ result: "done" }).result).toBe("done")
  })

  it("fail needs a non-empty error text", () => {
    expect(FailInput.parse({ error: "compiler crashed", leaseToken: "t" })).toEqual({ error: "compiler crashed", leaseToken: "t" })
    expect(rejection(FailInput, {})).toBe("error: error is required: say what went wrong")
    expect(rejection(FailInput, { error: "  " })).toBe("error: error must not be empty: say what went wrong")
  })

  it("release takes an optional token and reason", () => {
    expect(ReleaseInput.parse({ reason: "shutdown" })).toEqual({ reason: "shutdown" })
  })
})

describe("AddDependencyInput / ExecutionPlanInput", () => {
  it("normalises ids and checks the dependency type", () => {
    expect(AddDependencyInput.parse({ prerequisiteId: A.toUpperCase(), dependencyType: "parallel" })).toEqual({
      prerequisiteId: A,
      dependencyType: "parallel"
    })
    expect(rejection(AddDependencyInput, { prerequisiteId: "x" })).toContain("is not a task id")
    expect(rejection(AddDependencyInput, { prerequisiteId: A, dependencyType: "both" })).toContain("use sequential or parallel")
  })

  it("execution plan takes optional task ids", () => {
    expect(ExecutionPlanInput.parse({})).toEqual({})
    expect(ExecutionPlanInput.parse({ taskIds: [A.toUpperCase()] })).toEqual({ taskIds: [A] })
    expect(rejection(ExecutionPlanInput, { taskIds: ["nope"] })).toContain("taskIds.0")
  })
})

describe("PruneInput", () => {
  it("defaults to terminal tasks older than 30 days, for real", () => {
    expect(PruneInput.parse({})).toEqual({ olderThan: 30 * DAY, dryRun: false })
  })

  it("reads the age and takes one status or a list", () => {
    expect(PruneInput.parse({ olderThan: "2w", status: "failed", dryRun: true })).toEqual({
      olderThan: 14 * DAY,
      status: ["failed"],
      dryRun: true
    })
  })

  it("says how to write an age", () => {
    expect(rejection(PruneInput, { olderThan: "soon" })).toBe(
      'olderThan: "soon" is not an age: use a number and a unit, such as 30s, 15m, 12h, 30d or 2w'
    )
  })

  it("refuses to prune open tasks", () => {
    const text = rejection(PruneInput, { status: ["completed", "ready"] })
    expect(text).toContain("terminal tasks only")
    expect(text).toContain("ready")
    expect(PruneInput.parse({ status: ["completed", "failed", "cancelled"] }).status).toHaveLength(3)
  })
})

describe("GraphFormat", () => {
  it("is mermaid or dot", () => {
    expect(GraphFormat.options).toEqual(["mermaid", "dot"])
    expect(rejection(GraphFormat, "svg")).toBe('unknown graph format "svg": use mermaid or dot')
  })
})
