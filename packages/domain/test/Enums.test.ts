import { describe, expect, it } from "vitest"
import { DependencyType, formatIssues, TaskSource, TaskSources, TaskStatus, TaskStatuses } from "@abathur/domain"

// Translated from the seed: TestTaskStatus, TestTaskSource, TestDependencyType.

describe("TaskStatus", () => {
  it("defines exactly the seven statuses", () => {
    expect(TaskStatus.enum.pending).toBe("pending")
    expect(TaskStatus.enum.blocked).toBe("blocked")
    expect(TaskStatus.enum.ready).toBe("ready")
    expect(TaskStatus.enum.running).toBe("running")
    expect(TaskStatus.enum.completed).toBe("completed")
    expect(TaskStatus.enum.failed).toBe("failed")
    expect(TaskStatus.enum.cancelled).toBe("cancelled")
    expect([...TaskStatuses].sort()).toEqual(["blocked", "cancelled", "completed", "failed", "pending", "ready", "running"])
  })

  it("rejects an unknown status and lists the valid ones", () => {
    const r = TaskStatus.safeParse("done")
    expect(r.success).toBe(false)
    if (r.success) return
    const text = formatIssues(r.error)
    expect(text).toContain('"done"')
    expect(text).toContain("use one of pending, blocked, ready, running, completed, failed, cancelled")
  })

  it("is case sensitive (the contract's values are lower case)", () => {
    expect(TaskStatus.safeParse("READY").success).toBe(false)
  })
})

describe("TaskSource", () => {
  it("defines exactly the four sources", () => {
    expect(TaskSource.enum.human).toBe("human")
    expect(TaskSource.enum.agent_requirements).toBe("agent_requirements")
    expect(TaskSource.enum.agent_planner).toBe("agent_planner")
    expect(TaskSource.enum.agent_implementation).toBe("agent_implementation")
    expect(TaskSources).toEqual(["human", "agent_requirements", "agent_planner", "agent_implementation"])
  })

  it("rejects an unknown source and lists the valid ones", () => {
    const r = TaskSource.safeParse("robot")
    expect(r.success).toBe(false)
    if (r.success) return
    expect(formatIssues(r.error)).toBe('unknown source "robot": use one of human, agent_requirements, agent_planner, agent_implementation')
  })
})

describe("DependencyType", () => {
  it("defines exactly sequential and parallel", () => {
    expect(DependencyType.enum.sequential).toBe("sequential")
    expect(DependencyType.enum.parallel).toBe("parallel")
    expect(DependencyType.options).toEqual(["sequential", "parallel"])
  })

  it("rejects an unknown type and names the valid ones", () => {
    const r = DependencyType.safeParse("both")
    expect(r.success).toBe(false)
    if (r.success) return
    expect(formatIssues(r.error)).toBe('unknown dependency type "both": use sequential or parallel')
  })
})
