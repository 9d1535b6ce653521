import type { ClaimedTask } from "@abathur/domain"
import { type Child, type ChildExit, type ChildSpec, lastBytes, STDERR_ERROR_BYTES } from "./Child.js"

/**
 * One task's run in the worker pool, the child process's side: what the command is given (the task
 * on stdin, its id and prompt in the environment, a log header) and what its exit means (the error
 * text reported for a failed attempt, or null for success).
 */

/** A task the pool runs, from its claim until its outcome is reported. */
export interface Entry {
  readonly task: ClaimedTask
  readonly startedAt: number
  child: Child | null
  exited: boolean
  timedOut: boolean
  /** Why the task is no longer ours (cancelled, reclaimed), or null. */
  lost: string | null
  /** Killed by a second signal: give the task back. */
  forced: boolean
}

export const newEntry = (task: ClaimedTask): Entry => ({
  task,
  startedAt: Date.now(),
  child: null,
  exited: false,
  timedOut: false,
  lost: null,
  forced: false
})

/** The largest prompt passed in ABATHUR_TASK_PROMPT (Linux refuses single variables over 128 KiB). */
const PROMPT_ENV_BYTES = 120 * 1024

const promptForEnv = (prompt: string): string => {
  const clean = prompt.replace(/\0/g, "")
  const bytes = Buffer.from(clean, "utf8")
  return bytes.length <= PROMPT_ENV_BYTES ? clean : lastBytes(bytes.subarray(0, PROMPT_ENV_BYTES), PROMPT_ENV_BYTES).replace(/\uFFFD$/, "")
}

/** The Task JSON the child reads on stdin (the lease stays with the worker). */
const stdinFor = (task: ClaimedTask): string => {
  const { leaseToken: _token, leaseExpiresAt: _expires, ...rest } = task
  return `${JSON.stringify(rest)}\n`
}

/** What the pool's command is, for every task. */
export interface CommandSpec {
  /** The program's path. */
  readonly file: string
  readonly argv: ReadonlyArray<string>
  /** The command as typed, for messages and logs. */
  readonly command: string
  readonly worker: string
  readonly cwd: string
  readonly logPath: ((taskId: string) => string) | null
}

/** How the command is started for the entry's task. */
export const childSpec = (entry: Entry, spec: CommandSpec, leaseSeconds: number): ChildSpec => {
  const { task } = entry
  return {
    file: spec.file,
    argv: spec.argv,
    env: { ABATHUR_TASK_ID: task.id, ABATHUR_TASK_PROMPT: promptForEnv(task.prompt) },
    cwd: spec.cwd,
    stdin: stdinFor(task),
    logPath: spec.logPath === null ? null : spec.logPath(task.id),
    // The lease is renewed every third of it: a command of a dead worker must go within that.
    orphanGraceMs: Math.floor((leaseSeconds * 1000) / 4),
    logHeader: `# abathur work: task ${task.id}, attempt ${task.retryCount + 1} of ${task.maxRetries + 1}, by ${spec.worker} at ${new Date(entry.startedAt).toISOString()}: ${spec.command}\n`
  }
}

/** The error a run reports (the tail of its stderr, or why it stopped), or null when it succeeded. */
export const failureOf = (entry: Entry, exit: ChildExit, command: string, graceMs: number): string | null => {
  const stderr = exit.stderr.buffer()
  if (exit.spawnError !== null) return `cannot run ${command}: ${exit.spawnError.message}`
  if (entry.timedOut) {
    const limit = entry.task.maxExecutionTimeoutSeconds
    const how = (entry.child?.sent ?? []).includes("SIGKILL") ? `SIGTERM, then SIGKILL ${graceMs / 1000} s later` : "SIGTERM"
    const head = `timed out after ${limit} s (maxExecutionTimeoutSeconds): the command's process group got ${how}`
    const room = STDERR_ERROR_BYTES - Buffer.byteLength(head) - 1
    return stderr.length > 0 && room > 0 ? `${head}\n${lastBytes(stderr, room)}` : head
  }
  if (exit.code === 0) return null
  const stderrTail = lastBytes(stderr, STDERR_ERROR_BYTES)
  return stderrTail.trim() !== ""
    ? stderrTail
    : exit.signal !== null
      ? `the command was killed by ${exit.signal} (no output on stderr)`
      : `the command exited with code ${exit.code} (no output on stderr)`
}

/** How a failed run ended, for the log. */
export const endingOf = (entry: Entry, exit: ChildExit): string =>
  entry.timedOut
    ? "timed out"
    : exit.spawnError !== null
      ? "could not start"
      : exit.signal !== null
        ? `killed by ${exit.signal}`
        : `exit code ${exit.code}`

export const seconds = (ms: number) => `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)}s`
