/**
 * Helpers for vitest suites (the `@abathur/testing/vitest` entry: it imports vitest, which the
 * main entry never does, so that programs such as the benchmark harness can use the fixtures).
 */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll } from "vitest"

/**
 * Cleanups run after the file's tests (the hook is registered when a test file imports this
 * module). Not per test: the global `onTestFinished` cannot tell which of several concurrent
 * tests is running, and a folder removed under a test that still runs would fail it.
 */
const afterFile: Array<() => void | Promise<void>> = []
afterAll(async () => {
  for (const cleanup of afterFile.splice(0).reverse()) await cleanup()
})

/** Runs `cleanup` after the current file's tests. */
export const afterThisFile = (cleanup: () => void | Promise<void>): void => {
  afterFile.push(cleanup)
}

/**
 * A fresh folder under the system's temp dir, removed (with what is in it) after the file's tests.
 */
export const tempDir = (prefix = "abathur-test-"): string => {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  afterThisFile(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** A path for a new database file in a fresh temp folder (see `tempDir`). */
export const tempDbFile = (name = "abathur.db"): string => join(tempDir(), name)

/** How a spawned process ended. */
export interface Exited {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

/** A running `abathur-server` process (see `startServerProcess`). */
export interface ServerProcess {
  readonly url: string
  readonly port: number
  readonly db: string
  readonly child: ChildProcess
  /** Everything the server wrote to stderr so far. */
  readonly stderr: () => string
  readonly stdout: () => string
  readonly exited: Promise<Exited>
  /** Sends `signal` and waits for the process to end. */
  readonly stop: (signal?: NodeJS.Signals) => Promise<Exited & { readonly millis: number }>
  /** Ends the server (SIGKILL if it does not stop within 5 s). */
  readonly dispose: () => Promise<void>
}

export interface ServerProcessOptions {
  readonly args?: ReadonlyArray<string>
  readonly env?: Record<string, string>
  /** Share a database file (default: a fresh one in a fresh folder, see `tempDir`). */
  readonly db?: string
  /** How long to wait for "listening on" (default 30 s). */
  readonly startTimeoutMs?: number
}

/** This process's environment without any ABATHUR_* setting of the machine running the tests. */
export const cleanEnv = (extra: Record<string, string> = {}): Record<string, string> => {
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith("ABATHUR_")) env[k] = v
  return { ...env, ...extra }
}

/**
 * Starts a built `abathur-server` (`node MAIN --port 0 --db FILE`) and resolves once its log
 * names the address. The process is disposed after the file's tests, if nothing did before.
 */
export const startServerProcess = async (main: string, options: ServerProcessOptions = {}): Promise<ServerProcess> => {
  const db = options.db ?? join(tempDir("abathur-server-"), "abathur.db")
  const child = spawn(process.execPath, [main, "--port", "0", "--db", db, ...(options.args ?? [])], {
    env: cleanEnv(options.env),
    stdio: ["ignore", "pipe", "pipe"]
  })
  let err = ""
  let out = ""
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (err += d))
  child.stdout!.setEncoding("utf8").on("data", (d: string) => (out += d))
  const exited = new Promise<Exited>((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })))
  const running = () => child.exitCode === null && child.signalCode === null
  const dispose = async () => {
    if (!running()) return
    child.kill("SIGTERM")
    const timer = setTimeout(() => child.kill("SIGKILL"), 5_000)
    await exited
    clearTimeout(timer)
  }
  afterThisFile(dispose)
  const timeoutMs = options.startTimeoutMs ?? 30_000
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server did not start in ${timeoutMs / 1000} s:\n${err}`)), timeoutMs)
    const onData = () => {
      const m = /listening on (http:\/\/[^\s"]+)/.exec(err)
      if (m !== null) {
        clearTimeout(timer)
        child.stderr!.off("data", onData)
        resolve(m[1]!)
      }
    }
    child.stderr!.on("data", onData)
    void exited.then((e) => {
      clearTimeout(timer)
      reject(new Error(`the server exited (${e.code ?? e.signal}) before listening:\n${err}`))
    })
  })
  const stop = async (signal: NodeJS.Signals = "SIGTERM") => {
    const started = performance.now()
    if (running()) child.kill(signal)
    const e = await exited
    return { ...e, millis: performance.now() - started }
  }
  return { url, port: Number(new URL(url).port), db, child, stderr: () => err, stdout: () => out, exited, stop, dispose }
}
