import * as z from "zod"

/**
 * The seven states of a task.
 *
 * PENDING is transient (prerequisites not yet evaluated); BLOCKED waits on an open
 * prerequisite; READY can be claimed; RUNNING is leased to a worker; the last three are terminal.
 */
export const TaskStatus = z.enum(["pending", "blocked", "ready", "running", "completed", "failed", "cancelled"], {
  error: (issue) => `unknown status ${JSON.stringify(issue.input)}: use one of pending, blocked, ready, running, completed, failed, cancelled`
})
export type TaskStatus = z.infer<typeof TaskStatus>

export const TaskStatuses: ReadonlyArray<TaskStatus> = TaskStatus.options

/** States from which a task never moves again without an explicit retry. */
export const TerminalStatuses: ReadonlyArray<TaskStatus> = ["completed", "failed", "cancelled"]

/** States of work that is still to be done (counted by `status`, `plan` and the limits). */
export const OpenStatuses: ReadonlyArray<TaskStatus> = ["pending", "blocked", "ready", "running"]

/** States whose tasks are waiting for a worker (priority is kept fresh for these). */
export const WaitingStatuses: ReadonlyArray<TaskStatus> = ["pending", "blocked", "ready"]

export const isTerminal = (status: TaskStatus): boolean => TerminalStatuses.includes(status)
export const isOpen = (status: TaskStatus): boolean => !isTerminal(status)
export const isWaiting = (status: TaskStatus): boolean => WaitingStatuses.includes(status)

/**
 * The state machine as data: for each state, the states a task may move to.
 * Every state change the engine makes is checked against this table.
 */
export const Transitions: Readonly<Record<TaskStatus, ReadonlyArray<TaskStatus>>> = {
  // evaluated once its prerequisites are known
  pending: ["blocked", "ready", "cancelled"],
  // its last open prerequisite completed, or it was cancelled (directly or by a cascade)
  blocked: ["ready", "cancelled"],
  // claimed; a new open prerequisite blocks it; cancelled
  ready: ["running", "blocked", "cancelled"],
  // finished; failed for good; back to READY on a retry, an expired lease or a worker's shutdown
  running: ["completed", "failed", "ready", "cancelled"],
  completed: [],
  // an operator's retry revives it
  failed: ["ready"],
  // revived when the failure that cascaded to it is retried
  cancelled: ["blocked", "ready"]
}

export const canTransition = (from: TaskStatus, to: TaskStatus): boolean => Transitions[from].includes(to)
