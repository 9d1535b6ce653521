import { Effect } from "effect"
import { spawn } from "node:child_process"
import { closeSync, openSync, writeSync } from "node:fs"
import { Tail } from "./Tail.js"

/**
 * One run of the worker's command: a child process in its own process group (so that signals
 * reach its grandchildren too), fed the task on stdin, its stdout and stderr copied to the task's
 * log file and their tails kept for the result or the error message.
 */

export { Tail } from "./Tail.js"

/** The last `bytes` bytes as text, without a character cut in half at the start. */
export const lastBytes = (buffer: Buffer, bytes: number): string => {
  let start = Math.max(0, buffer.length - bytes)
  // Skip UTF-8 continuation bytes (10xxxxxx): start on a character boundary.
  while (start < buffer.length && start > 0 && (buffer[start]! & 0xc0) === 0x80) start++
  return buffer.subarray(start).toString("utf8")
}

/** How many bytes of stdout are kept to find its last line (a JSON result may be long). */
export const STDOUT_KEEP = 1024 * 1024
export const STDOUT_RESULT_BYTES = 4 * 1024
export const STDERR_ERROR_BYTES = 2 * 1024

/**
 * The result of a run that exited 0: the last stdout line when it is JSON, else
 * `{"stdout": last 4 KiB}`.
 */
export const resultOf = (stdout: Tail): unknown => {
  const buffer = stdout.buffer()
  const text = buffer.toString("utf8").trimEnd()
  const cut = text.lastIndexOf("\n")
  // A line that starts where the kept bytes start may have lost its beginning.
  if (cut >= 0 || !stdout.truncated) {
    const line = text.slice(cut + 1).trim()
    if (line !== "") {
      try {
        return JSON.parse(line) as unknown
      } catch {
        // not JSON: fall through
      }
    }
  }
  return { stdout: lastBytes(buffer, STDOUT_RESULT_BYTES) }
}

export interface ChildSpec {
  /** The program's path (resolved once, not searched on PATH per run). */
  readonly file: string
  /** The program's arguments, `argv[0]` first (as typed in CMD). */
  readonly argv: ReadonlyArray<string>
  /** The variables of this run, on top of the spawner's base environment. */
  readonly env: Readonly<Record<string, string>>
  readonly cwd: string
  /** Written to the child's stdin, which is then closed. */
  readonly stdin: string
  /** The log file (appended to); null: no log. */
  readonly logPath: string | null
  /** A line written to the log before the child's output. */
  readonly logHeader: string
  /**
   * If the worker dies while the command runs, the spawner helper sends SIGTERM to its process
   * group and SIGKILL this long after (at most SHUTDOWN_GRACE_MS): less than what is left of the
   * lease, so that the command is gone before another worker can claim its task.
   */
  readonly orphanGraceMs?: number | undefined
}

export interface ChildExit {
  /** The exit code, or null when a signal ended the child (or it never started). */
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  /** Set when the command could not be started at all. */
  readonly spawnError: Error | null
  readonly stdout: Tail
  readonly stderr: Tail
  readonly durationMs: number
}

export interface Child {
  readonly pid: number | undefined
  /** Completes once the child exited and its output was collected. */
  readonly exited: Effect.Effect<ChildExit>
  /** SIGTERM to the process group, then SIGKILL `graceMs` later if it still runs. */
  readonly terminate: (graceMs: number) => void
  /** SIGKILL to the process group now. */
  readonly kill: () => void
  /** The signals the worker sent, in order. */
  readonly sent: ReadonlyArray<NodeJS.Signals>
}

/** Sends `signal` to the whole process group led by `pid`; false when there is none left. */
export const signalGroup = (pid: number, signal: NodeJS.Signals): boolean => {
  try {
    process.kill(-pid, signal)
    return true
  } catch {
    return false
  }
}

/** How long to wait, after the child exited, for whatever it left behind to close stdout/stderr. */
const DRAIN_MS = 200

/**
 * Starts the command from this process (the fallback when no spawner helper runs). Never throws:
 * a failure to start shows in `exited` as `spawnError`.
 */
export const startChild = (spec: ChildSpec, baseEnv: Readonly<Record<string, string | undefined>>): Child => {
  const startedAt = Date.now()
  const stdout = new Tail(STDOUT_KEEP)
  const stderr = new Tail(STDERR_ERROR_BYTES * 2)
  const sent: Array<NodeJS.Signals> = []
  let fd: number | null = null
  if (spec.logPath !== null) {
    try {
      fd = openSync(spec.logPath, "a")
      writeSync(fd, spec.logHeader)
    } catch {
      fd = null
    }
  }
  let endsLine = true
  const log = (chunk: Buffer) => {
    if (fd === null || chunk.length === 0) return
    endsLine = chunk[chunk.length - 1] === 0x0a
    try {
      writeSync(fd, chunk)
    } catch {
      // a full disk must not stop the task
    }
  }

  let result: ChildExit | null = null
  const waiters: Array<(exit: ChildExit) => void> = []
  let killTimer: NodeJS.Timeout | null = null
  const finish = (code: number | null, signal: NodeJS.Signals | null, spawnError: Error | null) => {
    if (result !== null) return
    if (killTimer !== null) clearTimeout(killTimer)
    result = { code, signal, spawnError, stdout, stderr, durationMs: Date.now() - startedAt }
    if (fd !== null) {
      const how =
        spawnError !== null ? `could not start: ${spawnError.message}` : signal !== null ? `killed by ${signal}` : `exited with code ${code}`
      log(Buffer.from(`${endsLine ? "" : "\n"}# ${how} after ${((Date.now() - startedAt) / 1000).toFixed(1)} s\n`))
      try {
        closeSync(fd)
      } catch {
        // ignore
      }
      fd = null
    }
    for (const w of waiters.splice(0)) w(result)
  }

  const [argv0, ...args] = spec.argv
  let child: ReturnType<typeof spawn>
  try {
    child = spawn(spec.file, args, {
      argv0: argv0 ?? spec.file,
      cwd: spec.cwd,
      env: { ...baseEnv, ...spec.env },
      detached: true,
      stdio: ["pipe", "pipe", "pipe"]
    })
  } catch (error) {
    finish(null, null, error instanceof Error ? error : new Error(String(error)))
    return { pid: undefined, exited: Effect.succeed(result!), terminate: () => {}, kill: () => {}, sent }
  }
  const pid = child.pid

  let exitInfo: { code: number | null; signal: NodeJS.Signals | null } | null = null
  let open = 2
  const settle = () => {
    if (exitInfo !== null && open === 0) finish(exitInfo.code, exitInfo.signal, null)
  }
  for (const [stream, tail] of [
    [child.stdout!, stdout],
    [child.stderr!, stderr]
  ] as const) {
    stream.on("data", (chunk: Buffer) => {
      tail.push(chunk)
      log(chunk)
    })
    stream.once("close", () => {
      open--
      settle()
    })
    stream.on("error", () => {})
  }
  child.stdin!.on("error", () => {}) // EPIPE: the command need not read its input
  child.stdin!.end(spec.stdin)

  child.once("error", (error) => {
    // Failed to start (ENOENT, EACCES...): no exit event follows.
    if (pid === undefined) {
      child.stdout?.destroy()
      child.stderr?.destroy()
      finish(null, null, error)
    }
  })
  child.once("exit", (code, signal) => {
    exitInfo = { code, signal }
    // Whatever the command left running in its group goes with it.
    if (pid !== undefined) signalGroup(pid, "SIGKILL")
    if (open === 0) return settle()
    // Something outside the group may still hold the pipes: do not wait for it long.
    setTimeout(() => {
      if (result !== null) return
      child.stdout?.destroy()
      child.stderr?.destroy()
      finish(code, signal, null)
    }, DRAIN_MS).unref()
  })

  const send = (signal: NodeJS.Signals) => {
    if (pid === undefined || result !== null) return
    sent.push(signal)
    if (!signalGroup(pid, signal)) {
      try {
        child.kill(signal)
      } catch {
        // gone already
      }
    }
  }

  return {
    pid,
    exited: Effect.async<ChildExit>((resume) => {
      if (result !== null) return resume(Effect.succeed(result))
      const w = (exit: ChildExit) => resume(Effect.succeed(exit))
      waiters.push(w)
      return Effect.sync(() => {
        const i = waiters.indexOf(w)
        if (i >= 0) waiters.splice(i, 1)
      })
    }),
    terminate: (graceMs) => {
      if (result !== null || killTimer !== null) return
      send("SIGTERM")
      killTimer = setTimeout(() => send("SIGKILL"), graceMs)
    },
    kill: () => send("SIGKILL"),
    sent
  }
}
