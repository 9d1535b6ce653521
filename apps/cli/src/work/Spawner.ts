import { Effect } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { type Child, type ChildExit, type ChildSpec, signalGroup, startChild, STDERR_ERROR_BYTES, STDOUT_KEEP, Tail } from "./Child.js"

/**
 * Starts the commands from a small helper process instead of the worker itself.
 *
 * Why: `fork()` from the worker (a Node process holding the queue, ~100 MB) is slow, blocks its
 * event loop until the child has exec'd, and leaves every page of the worker copy-on-write, so
 * the next queue transaction pays page faults. Measured here, spawning from a bloated process is
 * 2.5-3x slower than from a fresh small one, and the worker's own queue writes slowed down too.
 * The helper (plain Node, no bundle) forks, feeds stdin, copies output to the task's log, keeps
 * the tails, and reports each exit over an IPC channel. The worker still signals process groups
 * itself (it learns each pid right after the spawn).
 *
 * One helper is enough: with two or three (each command to the least busy) throughput did not
 * change here; the machine's own process creation is the limit.
 *
 * The helper ignores SIGINT/SIGTERM (a Ctrl-C reaches the whole foreground group: the worker
 * decides) and exits when the worker goes away. If it cannot start, commands start in process.
 */

/** The helper's source: plain CommonJS run by `node -e`, no imports but Node's own. */
const HELPER = String.raw`
"use strict"
process.title = "abathur work: spawner"
const { spawn } = require("node:child_process")
const { closeSync, openSync, writeSync } = require("node:fs")
for (const s of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(s, () => {})
process.on("disconnect", () => process.exit(0))
// The worker went away (it may exit right after starting us): a message that cannot reach it
// is dropped, and the helper ends, instead of an unhandled EPIPE on the shared stderr.
process.on("error", () => process.exit(0))
const send = (m) => { if (process.connected) process.send(m, (error) => { if (error) process.exit(0) }) }
let baseEnv = {}
const DRAIN_MS = 200
const killGroup = (pid) => { try { process.kill(-pid, "SIGKILL") } catch {} }
class Tail {
  constructor(cap) { this.cap = cap; this.chunks = []; this.size = 0; this.truncated = false }
  push(c) {
    this.chunks.push(c); this.size += c.length
    while (this.size > this.cap && this.chunks.length > 0) {
      const first = this.chunks[0], excess = this.size - this.cap
      if (first.length <= excess) { this.chunks.shift(); this.size -= first.length }
      else { this.chunks[0] = first.subarray(excess); this.size -= excess }
      this.truncated = true
    }
  }
  buffer() { return Buffer.concat(this.chunks) }
}
const start = (m) => {
  const startedAt = Date.now()
  const stdout = new Tail(m.stdoutKeep), stderr = new Tail(m.stderrKeep)
  let fd = null, endsLine = true, done = false
  if (m.logPath !== null) { try { fd = openSync(m.logPath, "a"); writeSync(fd, m.logHeader) } catch { fd = null } }
  const log = (c) => {
    if (fd === null || c.length === 0) return
    endsLine = c[c.length - 1] === 10
    try { writeSync(fd, c) } catch {}
  }
  const finish = (code, signal, spawnError) => {
    if (done) return
    done = true
    if (fd !== null) {
      const how = spawnError !== null ? "could not start: " + spawnError : signal !== null ? "killed by " + signal : "exited with code " + code
      log(Buffer.from((endsLine ? "" : "\n") + "# " + how + " after " + ((Date.now() - startedAt) / 1000).toFixed(1) + " s\n"))
      try { closeSync(fd) } catch {}
      fd = null
    }
    send({ t: "exit", key: m.key, code, signal, spawnError, stdout: stdout.buffer(), stdoutTruncated: stdout.truncated,
      stderr: stderr.buffer(), stderrTruncated: stderr.truncated, durationMs: Date.now() - startedAt })
  }
  let child
  try {
    child = spawn(m.file, m.args, { argv0: m.argv0, cwd: m.cwd, env: Object.assign({}, baseEnv, m.env), detached: true, stdio: ["pipe", "pipe", "pipe"] })
  } catch (e) {
    return finish(null, null, e instanceof Error ? e.message : String(e))
  }
  const pid = child.pid
  if (pid !== undefined) send({ t: "spawned", key: m.key, pid })
  let exitInfo = null, open = 2
  const settle = () => { if (exitInfo !== null && open === 0) finish(exitInfo.code, exitInfo.signal, null) }
  for (const [stream, tail] of [[child.stdout, stdout], [child.stderr, stderr]]) {
    stream.on("data", (c) => { tail.push(c); log(c) })
    stream.once("close", () => { open--; settle() })
    stream.on("error", () => {})
  }
  child.stdin.on("error", () => {})
  child.stdin.end(m.stdin)
  child.once("error", (e) => {
    if (pid === undefined) { child.stdout.destroy(); child.stderr.destroy(); finish(null, null, e.message) }
  })
  child.once("exit", (code, signal) => {
    exitInfo = { code, signal }
    if (pid !== undefined) killGroup(pid)
    if (open === 0) return settle()
    setTimeout(() => { if (done) return; child.stdout.destroy(); child.stderr.destroy(); finish(code, signal, null) }, DRAIN_MS).unref()
  })
}
process.on("message", (m) => {
  if (m.t === "env") baseEnv = m.env
  else if (m.t === "start") start(m)
})
send({ t: "ready" })
`

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

type HelperMessage =
  | { t: "ready" }
  | { t: "spawned"; key: number; pid: number }
  | {
    t: "exit"
    key: number
    code: number | null
    signal: NodeJS.Signals | null
    spawnError: string | null
    stdout: Uint8Array
    stdoutTruncated: boolean
    stderr: Uint8Array
    stderrTruncated: boolean
    durationMs: number
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

/** The spawner: a helper process when one starts, else in-process spawning. */
export const makeSpawner = (baseEnv: Readonly<Record<string, string | undefined>>): Spawner => {
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
    try {
      const h = spawn(process.execPath, ["-e", HELPER], {
        stdio: ["ignore", "ignore", "inherit", "ipc"],
        serialization: "advanced",
        env: { PATH: process.env["PATH"] ?? "" }
      })
      h.on("message", (m: HelperMessage) => {
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
      h.send({ t: "env", env: baseEnv })
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
    h.send({
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
      stdoutKeep: STDOUT_KEEP,
      stderrKeep: STDERR_ERROR_BYTES * 2
    })
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
      if (h !== null && h.connected) h.disconnect()
    }
  }
}

