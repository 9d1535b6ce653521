import fc from "fast-check"
import { describe, expect, it } from "vitest"
import {
  canTransition,
  isOpen,
  isTerminal,
  isWaiting,
  OpenStatuses,
  type TaskStatus,
  TaskStatuses,
  TerminalStatuses,
  Transitions,
  WaitingStatuses
} from "@abathur/domain"

const status = fc.constantFrom(...TaskStatuses)

describe("Transitions", () => {
  it("has an entry for every status and only targets known statuses", () => {
    expect(Object.keys(Transitions).sort()).toEqual([...TaskStatuses].sort())
    for (const from of TaskStatuses) {
      for (const to of Transitions[from]) expect(TaskStatuses).toContain(to)
    }
  })

  it("a completed task has no way out", () => {
    expect(Transitions.completed).toEqual([])
    for (const to of TaskStatuses) expect(canTransition("completed", to)).toBe(false)
  })

  it("a failed task can only be retried to ready", () => {
    expect(Transitions.failed).toEqual(["ready"])
    expect(canTransition("failed", "ready")).toBe(true)
    expect(canTransition("failed", "running")).toBe(false)
    expect(canTransition("failed", "blocked")).toBe(false)
    expect(canTransition("failed", "completed")).toBe(false)
  })

  it("a blocked task cannot be claimed (no blocked -> running) nor finished", () => {
    expect(canTransition("blocked", "running")).toBe(false)
    expect(canTransition("blocked", "completed")).toBe(false)
    expect(canTransition("blocked", "failed")).toBe(false)
    expect(canTransition("blocked", "ready")).toBe(true)
    expect(canTransition("blocked", "cancelled")).toBe(true)
  })

  it("a running task can be completed, failed, put back to ready or cancelled", () => {
    expect(canTransition("running", "completed")).toBe(true)
    expect(canTransition("running", "failed")).toBe(true)
    expect(canTransition("running", "ready")).toBe(true)
    expect(canTransition("running", "cancelled")).toBe(true)
    expect(canTransition("running", "blocked")).toBe(false)
    expect(canTransition("running", "pending")).toBe(false)
  })

  it("only a ready task can be claimed", () => {
    const into = TaskStatuses.filter((from) => canTransition(from, "running"))
    expect(into).toEqual(["ready"])
  })

  it("a pending task is evaluated to blocked or ready (or cancelled), never run directly", () => {
    expect(canTransition("pending", "blocked")).toBe(true)
    expect(canTransition("pending", "ready")).toBe(true)
    expect(canTransition("pending", "cancelled")).toBe(true)
    expect(canTransition("pending", "running")).toBe(false)
    expect(canTransition("pending", "completed")).toBe(false)
  })

  it("a cancelled task is revived only to blocked or ready", () => {
    expect(canTransition("cancelled", "blocked")).toBe(true)
    expect(canTransition("cancelled", "ready")).toBe(true)
    expect(canTransition("cancelled", "running")).toBe(false)
    expect(canTransition("cancelled", "completed")).toBe(false)
  })

  it("no task moves back to pending, and no state moves to itself", () => {
    fc.assert(
      fc.property(status, (from) => {
        expect(canTransition(from, "pending")).toBe(false)
        expect(canTransition(from, from)).toBe(false)
      })
    )
  })

  it("completed and failed are reached only from running", () => {
    fc.assert(
      fc.property(status, fc.constantFrom<TaskStatus>("completed", "failed"), (from, to) => {
        expect(canTransition(from, to)).toBe(from === "running")
      })
    )
  })
})

describe("isTerminal / isOpen / isWaiting", () => {
  it("terminal states are completed, failed and cancelled", () => {
    expect(TaskStatuses.filter(isTerminal)).toEqual(["completed", "failed", "cancelled"])
    expect([...TerminalStatuses]).toEqual(["completed", "failed", "cancelled"])
  })

  it("open states are the non-terminal ones, running included", () => {
    expect(TaskStatuses.filter(isOpen)).toEqual(["pending", "blocked", "ready", "running"])
    expect([...OpenStatuses]).toEqual(["pending", "blocked", "ready", "running"])
    fc.assert(fc.property(status, (s) => isOpen(s) === !isTerminal(s)))
  })

  it("waiting states are pending, blocked and ready: not running, not terminal", () => {
    expect(TaskStatuses.filter(isWaiting)).toEqual(["pending", "blocked", "ready"])
    expect([...WaitingStatuses]).toEqual(["pending", "blocked", "ready"])
    expect(isWaiting("running")).toBe(false)
    fc.assert(fc.property(status, (s) => !isWaiting(s) || isOpen(s)))
  })
})
