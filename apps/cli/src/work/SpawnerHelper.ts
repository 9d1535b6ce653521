import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process"
import { closeSync, openSync, writeSync } from "node:fs"
import { type FromHelper, SHUTDOWN_GRACE_MS, type ToHelper } from "./SpawnerProtocol.js"
import { Tail } from "./Tail.js"

/**
 * The spawner helper process (`abathur work: spawner` in `ps`): see Spawner.ts for why commands
 * start here rather than in the worker. build.mjs bundles this module alone into
 * dist/spawner.cjs (Node's modules and Tail.ts only), and the worker forks that file with an IPC
 * channel. It starts each command in a process group of its own, feeds its stdin, copies its
 * output to the task's log, keeps the tails and reports each exit over the channel.
 *
 * The helper outlives no worker, and neither do the commands it started: when the worker goes,
 * whatever the way (an exit, a crash, SIGKILL), the channel closes ('disconnect'); as a second
 * guard the helper notices that its parent changed (`process.ppid`). Either way it sends SIGTERM
 * to every running command's process group, SIGKILL to what is left after a grace (at most
 * SHUTDOWN_GRACE_MS, less for short leases: the command must be gone before its lease can lapse),
 * and exits. Without this, a killed worker's commands ran on to the end under PID 1 while the queue
 * gave their tasks to another worker once the leases lapsed: the same task ran twice at once.
 *
 * It ignores SIGINT/SIGTERM/SIGHUP: a Ctrl-C or a closed terminal reaches the whole foreground
 * group, and the worker decides what happens to the commands.
 */

/** How often the helper checks that its parent is still the worker. */
const PARENT_CHECK_MS = 500
/** How long to wait, after a command exited, for what it left behind to close stdout/stderr. */
const DRAIN_MS = 200

/** Process groups of the commands that run now (their leaders' pids), with their grace. */
const groups = new Map<number, number>()
let baseEnv: Readonly<Record<string, string | undefined>> = {}
let shuttingDown = false

const signalGroup = (pid: number, signal: NodeJS.Signals | 0): boolean => {
  try {
    process.kill(-pid, signal)
    return true
  } catch {
    return false
  }
}

const send = (m: FromHelper): void => {
  // A message that cannot reach the worker any more is dropped (no EPIPE on the shared stderr).
  if (process.connected) {
    process.send!(m, undefined, {}, (error: Error | null) => {
      if (error) shutdown()
    })
  }
}

/** The worker is gone: stop every command's process group (TERM, then KILL), then exit. */
const shutdown = (): void => {
  if (shuttingDown) return
  shuttingDown = true
  const now = Date.now()
  let left = [...groups].map(([pid, graceMs]) => ({ pid, killAt: now + Math.min(graceMs, SHUTDOWN_GRACE_MS) }))
  for (const g of left) signalGroup(g.pid, "SIGTERM")
  const look = () => {
    const at = Date.now()
    for (const g of left) if (at >= g.killAt) signalGroup(g.pid, "SIGKILL")
    left = left.filter((g) => at < g.killAt && signalGroup(g.pid, 0))
    if (left.length === 0) return process.exit(0)
    setTimeout(look, 20)
  }
  look()
}

const start = (m: Extract<ToHelper, { t: "start" }>): void => {
  const startedAt = Date.now()
  const stdout = new Tail(m.stdoutKeep)
  const stderr = new Tail(m.stderrKeep)
  let fd: number | null = null
  let endsLine = true
  let done = false
  if (m.logPath !== null) {
    try {
      fd = openSync(m.logPath, "a")
      writeSync(fd, m.logHeader)
    } catch {
      fd = null
    }
  }
  const log = (c: Buffer) => {
    if (fd === null || c.length === 0) return
    endsLine = c[c.length - 1] === 10
    try {
      writeSync(fd, c)
    } catch {
      // a full disk must not stop the task
    }
  }
  const finish = (code: number | null, signal: NodeJS.Signals | null, spawnError: string | null) => {
    if (done) return
    done = true
    if (fd !== null) {
      const how = spawnError !== null ? `could not start: ${spawnError}` : signal !== null ? `killed by ${signal}` : `exited with code ${code}`
      log(Buffer.from(`${endsLine ? "" : "\n"}# ${how} after ${((Date.now() - startedAt) / 1000).toFixed(1)} s\n`))
      try {
        closeSync(fd)
      } catch {
        // ignore
      }
      fd = null
    }
    send({
      t: "exit",
      key: m.key,
      code,
      signal,
      spawnError,
      stdout: stdout.buffer(),
      stdoutTruncated: stdout.truncated,
      stderr: stderr.buffer(),
      stderrTruncated: stderr.truncated,
      durationMs: Date.now() - startedAt
    })
  }
  let child: ChildProcessWithoutNullStreams
  try {
    child = spawn(m.file, m.args, { argv0: m.argv0, cwd: m.cwd, env: { ...baseEnv, ...m.env }, detached: true, stdio: ["pipe", "pipe", "pipe"] })
  } catch (e) {
    finish(null, null, e instanceof Error ? e.message : String(e))
    return
  }
  const pid = child.pid
  if (pid !== undefined) {
    groups.set(pid, m.graceMs)
    send({ t: "spawned", key: m.key, pid })
  }
  let exitInfo: { code: number | null; signal: NodeJS.Signals | null } | null = null
  let open = 2
  const settle = () => {
    if (exitInfo !== null && open === 0) finish(exitInfo.code, exitInfo.signal, null)
  }
  for (const [stream, tail] of [
    [child.stdout, stdout],
    [child.stderr, stderr]
  ] as const) {
    stream.on("data", (c: Buffer) => {
      tail.push(c)
      log(c)
    })
    stream.once("close", () => {
      open--
      settle()
    })
    stream.on("error", () => {})
  }
  child.stdin.on("error", () => {}) // EPIPE: the command need not read its input
  child.stdin.end(m.stdin)
  child.once("error", (e) => {
    // Failed to start (ENOENT, EACCES...): no exit event follows.
    if (pid === undefined) {
      child.stdout.destroy()
      child.stderr.destroy()
      finish(null, null, e.message)
    }
  })
  child.once("exit", (code, signal) => {
    exitInfo = { code, signal }
    // Whatever the command left running in its group goes with it.
    if (pid !== undefined) {
      signalGroup(pid, "SIGKILL")
      groups.delete(pid)
    }
    if (open === 0) return settle()
    setTimeout(() => {
      if (done) return
      child.stdout.destroy()
      child.stderr.destroy()
      finish(code, signal, null)
    }, DRAIN_MS).unref()
  })
}

const main = (): void => {
  process.title = "abathur work: spawner"
  for (const s of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(s, () => {})
  if (process.send === undefined) {
    process.stderr.write("the abathur work spawner runs only under abathur work (it needs an IPC channel)\n")
    process.exit(2)
  }
  const parent = process.ppid
  process.on("disconnect", shutdown)
  process.on("error", shutdown)
  setInterval(() => {
    if (process.ppid !== parent) shutdown()
  }, PARENT_CHECK_MS).unref()
  process.on("message", (m: ToHelper) => {
    if (shuttingDown) return
    if (m.t === "env") baseEnv = m.env
    else if (m.t === "start") start(m)
  })
  send({ t: "ready" })
}

main()
