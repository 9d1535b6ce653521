import { Effect } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { existsSync } from "node:fs"
import { join } from "node:path"
import { type Child, type ChildExit, type ChildSpec, signalGroup, startChild, STDERR_ERROR_BYTES, STDOUT_KEEP, Tail } from "./Child.js"
import { type FromHelper, SHUTDOWN_GRACE_MS, type ToHelper } from "./SpawnerProtocol.js"

/**
 * Starts the commands from a small helper process instead of the worker itself.
 *
 * Why: `fork()` from the worker (a Node process holding the queue, ~100 MB) is slow, blocks its
 * event loop until the child has exec'd, and leaves every page of the worker copy-on-write, so
 * the next queue transaction pays page faults. Measured here, spawning from a bloated process is
 * 2.5-3x slower than from a fresh small one, and the worker's own queue writes slowed down too.
 * The helper (SpawnerHelper.ts, bundled alone into dist/spawner.cjs: plain Node, a few KB) forks,
 * feeds stdin, copies output to the task's log, keeps the tails, and reports each exit over an IPC
 * channel. The worker still signals process groups itself (it learns each pid right after the
 * spawn).
 *
 * One helper is enough: with two or three (each command to the least busy) throughput did not
 * change here; the machine's own process creation is the limit.
 *
 * The helper ignores SIGINT/SIGTERM (a Ctrl-C reaches the whole foreground group: the worker
 * decides). When the worker goes away, however it goes (SIGKILL included), the helper stops the
 * commands' process groups and exits: no command outlives its worker by more than about a second.
 * If the helper cannot start (or is not built beside the bundle), commands start in process.
 */

/** The helper beside the bundle (build.mjs writes dist/spawner.cjs next to dist/cli.cjs). */
const bundledHelper = (): string | null => (typeof __dirname === "string" ? join(__dirname, "spawner.cjs") : null)

interface Pending {
  readonly startedAt: number
  pid: number | undefined
  /** Signals asked for before the pid was known. */
  readonly queued: Array<NodeJS.Signals>
  readonly sent: Array<NodeJS.Signals>
  result: ChildExit | null
  readonly waiters: Array<(exit: ChildExit) => void>
  killTimer: NodeJS.Timeout | null
}

export interface Spawner {
  /** Starts the helper now (else at the first command). */
  readonly warm: () => void
  /** Starts a command (never throws; a failure shows in `exited`). */
  readonly start: (spec: ChildSpec) => Child
  /** Stops the helper (after the children it ran have exited). */
  readonly close: () => void
}

const tailOf = (cap: number, bytes: Uint8Array, truncated: boolean): Tail => {
  const t = new Tail(cap)
  t.push(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength))
  t.truncated = t.truncated || truncated
  return t
}

/**
 * The spawner: a helper process when one starts, else in-process spawning. `helperPath` is the
 * built helper (default: spawner.cjs beside the running bundle).
 */
export const makeSpawner = (baseEnv: Readonly<Record<string, string | undefined>>, helperPath: string | null = bundledHelper()): Spawner => {
  let helper: ChildProcess | null = null
  let broken = false
  let nextKey = 1
  const pending = new Map<number, Pending>()

  /** The helper keeps the worker alive only while it runs commands. */
  const hold = (on: boolean) => {
    const h = helper
    if (h === null) return
    const channel = h.channel as { ref?: () => void; unref?: () => void } | null | undefined
    if (on) {
      h.ref()
      channel?.ref?.()
    } else {
      h.unref()
      channel?.unref?.()
    }
  }

  const settle = (key: number, exit: ChildExit) => {
    const p = pending.get(key)
    if (p === undefined) return
    pending.delete(key)
    if (pending.size === 0) hold(false)
    if (p.killTimer !== null) clearTimeout(p.killTimer)
    p.result = exit
    for (const w of p.waiters.splice(0)) w(exit)
  }

  const lost = (why: string) => {
    helper = null
    broken = true
    // The helper is gone: so are the pipes of its children. Stop them rather than leave orphans.
    for (const [key, p] of [...pending]) {
      if (p.pid !== undefined) signalGroup(p.pid, "SIGKILL")
      settle(key, {
        code: null,
        signal: null,
        spawnError: new Error(why),
        stdout: new Tail(1),
        stderr: new Tail(1),
        durationMs: Date.now() - p.startedAt
      })
    }
  }

  const ensureHelper = (): ChildProcess | null => {
    if (helper !== null || broken) return helper
    if (helperPath === null || !existsSync(helperPath)) {
      broken = true
      return null
    }
    try {
      const h = spawn(process.execPath, [helperPath], {
        // A session of its own: a SIGKILL to the worker's whole process group (a supervisor, a
        // terminal) leaves the helper alive to stop the commands. It ignores Ctrl-C anyway.
        detached: true,
        stdio: ["ignore", "ignore", "inherit", "ipc"],
        serialization: "advanced",
        env: { PATH: process.env["PATH"] ?? "" }
      })
      h.on("message", (m: FromHelper) => {
        if (m.t === "spawned") {
          const p = pending.get(m.key)
          if (p === undefined) return
          p.pid = m.pid
          for (const s of p.queued.splice(0)) signalGroup(m.pid, s)
        } else if (m.t === "exit") {
          settle(m.key, {
            code: m.code,
            signal: m.signal,
            spawnError: m.spawnError === null ? null : new Error(m.spawnError),
            stdout: tailOf(STDOUT_KEEP, m.stdout, m.stdoutTruncated),
            stderr: tailOf(STDERR_ERROR_BYTES * 2, m.stderr, m.stderrTruncated),
            durationMs: m.durationMs
          })
        }
      })
      h.on("error", () => lost("the spawner process failed"))
      h.on("exit", (code, signal) => {
        if (helper === h) lost(`the spawner process exited (${signal ?? `code ${code}`})`)
      })
      const env: ToHelper = { t: "env", env: baseEnv }
      h.send(env)
      helper = h
      // An idle helper must not keep the worker alive.
      hold(false)
    } catch {
      broken = true
    }
    return helper
  }

  const start = (spec: ChildSpec): Child => {
    const h = ensureHelper()
    if (h === null) return startChild(spec, baseEnv)
    const key = nextKey++
    const p: Pending = { startedAt: Date.now(), pid: undefined, queued: [], sent: [], result: null, waiters: [], killTimer: null }
    pending.set(key, p)
    if (pending.size === 1) hold(true)
    const [argv0, ...args] = spec.argv
    const message: ToHelper = {
      t: "start",
      key,
      file: spec.file,
      argv0: argv0 ?? spec.file,
      args,
      env: spec.env,
      cwd: spec.cwd,
      stdin: spec.stdin,
      logPath: spec.logPath,
      logHeader: spec.logHeader,
      graceMs: Math.min(SHUTDOWN_GRACE_MS, spec.orphanGraceMs ?? SHUTDOWN_GRACE_MS),
      stdoutKeep: STDOUT_KEEP,
      stderrKeep: STDERR_ERROR_BYTES * 2
    }
    h.send(message)
    const send = (signal: NodeJS.Signals) => {
      if (p.result !== null) return
      p.sent.push(signal)
      if (p.pid === undefined) p.queued.push(signal)
      else signalGroup(p.pid, signal)
    }
    return {
      get pid() {
        return p.pid
      },
      exited: Effect.async<ChildExit>((resume) => {
        if (p.result !== null) return resume(Effect.succeed(p.result))
        const w = (exit: ChildExit) => resume(Effect.succeed(exit))
        p.waiters.push(w)
        return Effect.sync(() => {
          const i = p.waiters.indexOf(w)
          if (i >= 0) p.waiters.splice(i, 1)
        })
      }),
      terminate: (graceMs) => {
        if (p.result !== null || p.killTimer !== null) return
        send("SIGTERM")
        p.killTimer = setTimeout(() => send("SIGKILL"), graceMs)
      },
      kill: () => send("SIGKILL"),
      sent: p.sent
    }
  }

  return {
    warm: () => void ensureHelper(),
    start,
    close: () => {
      const h = helper
      helper = null
      broken = true
      if (h?.connected) h.disconnect()
    }
  }
}
