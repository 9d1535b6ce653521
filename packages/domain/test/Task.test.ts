import { describe, expect, it } from "vitest"
import { DependencyLink, formatIssues, SUMMARY_MAX, summarize, Task, TaskDefaults, TaskDependency } from "@abathur/domain"

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/
const A = "3f2b8c1e-9d4a-4f6b-8e2a-1c5d7e9f0a2b"
const B = "7c9e6679-7425-40de-944b-e07fc1f90ae7"

// Translated from the seed: TestTaskModel.
describe("Task", () => {
  it("can be created with minimal fields and fills defaults", () => {
    const task = Task.parse({ prompt: "Test task" })
    expect(task.id).toMatch(UUID)
    expect(task.prompt).toBe("Test task")
    expect(task.source).toBe("human")
    expect(task.calculatedPriority).toBe(5)
    expect(task.deadline).toBeNull()
    expect(task.estimatedDurationSeconds).toBeNull()
    expect(task.dependencyDepth).toBe(0)
    expect(task.summary).toBe("Test task")
  })

  it("fills the remaining contract defaults", () => {
    const task = Task.parse({ prompt: "Test task" })
    expect(task).toMatchObject({
      agentType: "general",
      priority: 5,
      status: "pending",
      dependencyType: "sequential",
      parentTaskId: null,
      sessionId: null,
      inputData: {},
      resultData: null,
      errorMessage: null,
      retryCount: 0,
      maxRetries: 3,
      maxExecutionTimeoutSeconds: 3600,
      startedAt: null,
      completedAt: null,
      createdBy: null
    })
    expect(task.submittedAt).toMatch(ISO_UTC)
    expect(task.lastUpdatedAt).toMatch(ISO_UTC)
    expect(TaskDefaults).toMatchObject({ priority: 5, maxRetries: 3, maxExecutionTimeoutSeconds: 3600 })
  })

  it("gives every new task its own id", () => {
    const ids = new Set(Array.from({ length: 50 }, () => Task.parse({ prompt: "x" }).id))
    expect(ids.size).toBe(50)
  })

  it("can be created with a specific source", () => {
    const task = Task.parse({ prompt: "Agent task", source: "agent_planner" })
    expect(task.source).toBe("agent_planner")
  })

  it("can be created with the priority calculation fields", () => {
    const deadline = new Date().toISOString()
    const task = Task.parse({
      prompt: "Urgent task",
      calculatedPriority: 8.5,
      deadline,
      estimatedDurationSeconds: 3600,
      dependencyDepth: 2
    })
    expect(task.calculatedPriority).toBe(8.5)
    expect(task.deadline).toBe(deadline)
    expect(task.estimatedDurationSeconds).toBe(3600)
    expect(task.dependencyDepth).toBe(2)
  })

  it("normalises times to ISO-8601 UTC and ids to lower case", () => {
    const task = Task.parse({
      prompt: "x",
      id: A.toUpperCase(),
      parentTaskId: B.toUpperCase(),
      deadline: "2025-10-10 12:00:00",
      submittedAt: "2025-10-10T14:00:00+02:00"
    })
    expect(task.id).toBe(A)
    expect(task.parentTaskId).toBe(B)
    expect(task.deadline).toBe("2025-10-10T12:00:00.000Z")
    expect(task.submittedAt).toBe("2025-10-10T12:00:00.000Z")
  })

  it("round-trips through JSON unchanged", () => {
    const task = Task.parse({ prompt: "x", inputData: { repo: "r", n: [1, { deep: true }] }, resultData: "done" })
    expect(Task.parse(JSON.parse(JSON.stringify(task)))).toEqual(task)
  })

  it("rejects a calculated priority outside [0, 100] and negative counters", () => {
    expect(Task.safeParse({ prompt: "x", calculatedPriority: 101 }).success).toBe(false)
    expect(Task.safeParse({ prompt: "x", calculatedPriority: -0.1 }).success).toBe(false)
    const r = Task.safeParse({ prompt: "x", dependencyDepth: -1 })
    expect(r.success).toBe(false)
    if (!r.success) expect(formatIssues(r.error)).toBe("dependencyDepth: dependencyDepth must not be negative")
  })

  it("rejects an unknown status with the valid ones listed", () => {
    const r = Task.safeParse({ prompt: "x", status: "done" })
    expect(r.success).toBe(false)
    if (!r.success) expect(formatIssues(r.error)).toContain('status: unknown status "done": use one of pending')
  })

  describe("summary", () => {
    it("defaults to the first line of the prompt", () => {
      expect(Task.parse({ prompt: "Fix the login bug\nSteps:\n1. open" }).summary).toBe("Fix the login bug")
      expect(Task.parse({ prompt: "Windows line\r\nsecond" }).summary).toBe("Windows line")
    })

    it("skips leading blank lines and whitespace", () => {
      expect(Task.parse({ prompt: "\n\n   Real first line  \nmore" }).summary).toBe("Real first line")
    })

    it("is cut to 140 characters", () => {
      const long = "x".repeat(300)
      const task = Task.parse({ prompt: `${long}\nsecond` })
      expect(SUMMARY_MAX).toBe(140)
      expect(task.summary).toBe("x".repeat(140))
      expect(summarize("y".repeat(140))).toBe("y".repeat(140))
      expect(summarize("y".repeat(141))).toBe("y".repeat(140))
    })

    it("keeps a summary given explicitly", () => {
      expect(Task.parse({ prompt: "long prompt\nbody", summary: "short" }).summary).toBe("short")
    })
  })
})

// Translated from the seed: TestTaskDependencyModel.
describe("TaskDependency", () => {
  it("can be created", () => {
    const dependency = TaskDependency.parse({ dependentTaskId: A, prerequisiteTaskId: B, dependencyType: "sequential" })
    expect(dependency.id).toMatch(UUID)
    expect(dependency.dependentTaskId).toBe(A)
    expect(dependency.prerequisiteTaskId).toBe(B)
    expect(dependency.dependencyType).toBe("sequential")
    expect(dependency.createdAt).toMatch(ISO_UTC)
    expect(dependency.resolvedAt).toBeNull()
  })

  it("defaults to a sequential edge", () => {
    expect(TaskDependency.parse({ dependentTaskId: A, prerequisiteTaskId: B }).dependencyType).toBe("sequential")
  })

  it("can be resolved", () => {
    const dependency = TaskDependency.parse({ dependentTaskId: A, prerequisiteTaskId: B, dependencyType: "parallel" })
    expect(dependency.resolvedAt).toBeNull()
    const resolvedTime = new Date().toISOString()
    const resolved = TaskDependency.parse({ ...dependency, resolvedAt: resolvedTime })
    expect(resolved.resolvedAt).toBe(resolvedTime)
    expect(resolved.id).toBe(dependency.id)
    expect(resolved.dependencyType).toBe("parallel")
  })

  it("rejects a task depending on itself", () => {
    const r = TaskDependency.safeParse({ dependentTaskId: A, prerequisiteTaskId: A })
    expect(r.success).toBe(false)
    if (!r.success) expect(formatIssues(r.error)).toBe("prerequisiteTaskId: a task cannot depend on itself")
  })

  it("rejects a self-dependency even when the two ids differ only in case", () => {
    expect(TaskDependency.safeParse({ dependentTaskId: A, prerequisiteTaskId: A.toUpperCase() }).success).toBe(false)
  })

  it("rejects ids that are not UUIDs", () => {
    const r = TaskDependency.safeParse({ dependentTaskId: "task-1", prerequisiteTaskId: B })
    expect(r.success).toBe(false)
    if (!r.success) expect(formatIssues(r.error)).toContain('dependentTaskId: "task-1" is not a task id')
  })
})

describe("DependencyLink", () => {
  it("parses an edge as seen from a task", () => {
    expect(DependencyLink.parse({ taskId: A.toUpperCase(), dependencyType: "parallel", onFailure: "ignore", resolvedAt: null })).toEqual({
      taskId: A,
      dependencyType: "parallel",
      onFailure: "ignore",
      resolvedAt: null
    })
    expect(DependencyLink.parse({ taskId: A, dependencyType: "sequential", onFailure: "cancel", resolvedAt: "2025-10-10 12:00:00" }).resolvedAt).toBe(
      "2025-10-10T12:00:00.000Z"
    )
  })
})
