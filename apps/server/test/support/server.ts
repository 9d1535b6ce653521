import { type ChildProcess, execFile, spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { inject } from "vitest"

export const serverMain = (): string => inject("serverMain")
export const queueScript = (): string => inject("queueScript")

/** A fresh temp folder, removed by `cleanup`. */
export const tempDir = (): { dir: string; cleanup: () => void } => {
  const dir = mkdtempSync(join(tmpdir(), "abathur-server-test-"))
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) }
}

/** The environment without any ABATHUR_* setting of the machine running the tests. */
const cleanEnv = (extra: Record<string, string>): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("ABATHUR_")) env[k] = v
  return { ...env, ...extra }
}

export interface Exited {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

export interface RunningServer {
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
  /** Ends the server (SIGKILL if it does not stop) and removes its temp folder. */
  readonly dispose: () => Promise<void>
}

export interface StartOptions {
  readonly args?: ReadonlyArray<string>
  readonly env?: Record<string, string>
  /** Share a database file (default: a fresh one in a fresh folder). */
  readonly db?: string
}

/** Starts `node dist/main.js --port 0 --db <temp file>` and reads the address from its log. */
export const startServer = async (options: StartOptions = {}): Promise<RunningServer> => {
  const tmp = tempDir()
  const db = options.db ?? join(tmp.dir, "abathur.db")
  const child = spawn(process.execPath, [serverMain(), "--port", "0", "--db", db, ...(options.args ?? [])], {
    env: cleanEnv(options.env ?? {}),
    stdio: ["ignore", "pipe", "pipe"]
  })
  let err = ""
  let out = ""
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (err += d))
  child.stdout!.setEncoding("utf8").on("data", (d: string) => (out += d))
  const exited = new Promise<Exited>((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })))
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server did not start in 30 s:\n${err}`)), 30_000)
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
    if (child.exitCode === null && child.signalCode === null) child.kill(signal)
    const e = await exited
    return { ...e, millis: performance.now() - started }
  }
  return {
    url,
    port: Number(new URL(url).port),
    db,
    child,
    stderr: () => err,
    stdout: () => out,
    exited,
    stop,
    dispose: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM")
        const timer = setTimeout(() => child.kill("SIGKILL"), 5_000)
        await exited
        clearTimeout(timer)
      }
      if (options.db === undefined) tmp.cleanup()
    }
  }
}

/** Runs the server with arguments that should stop it at once; returns its exit and output. */
export const runServer = (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, [serverMain(), ...args], { env: cleanEnv(env), timeout: 20_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : null
      resolve({ code, stdout, stderr })
    })
  })

/** Runs the plain queue script (another process over the same database). */
export const runQueueScript = (args: ReadonlyArray<string>) =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, [queueScript(), ...args], { env: cleanEnv({}), timeout: 30_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : null
      resolve({ code, stdout, stderr })
    })
  })

export interface Reply<T = any> {
  readonly status: number
  readonly body: T
  readonly text: string
  readonly headers: Headers
}

/** A small fetch client for one server. */
export const client = (base: string, defaults: Record<string, string> = {}) => {
  const request = async <T = any>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply<T>> => {
    const init: RequestInit = { method, headers: { ...defaults, ...headers } }
    if (body !== undefined) {
      init.body = typeof body === "string" ? body : JSON.stringify(body)
      ;(init.headers as Record<string, string>)["content-type"] ??= "application/json"
    }
    const res = await fetch(new URL(path, base), init)
    const text = await res.text()
    let parsed: unknown
    if ((res.headers.get("content-type") ?? "").includes("json") && text !== "") parsed = JSON.parse(text)
    return { status: res.status, body: parsed as T, text, headers: res.headers }
  }
  return {
    request,
    get: <T = any>(path: string, headers?: Record<string, string>) => request<T>("GET", path, undefined, headers),
    post: <T = any>(path: string, body?: unknown, headers?: Record<string, string>) => request<T>("POST", path, body, headers)
  }
}

export type Client = ReturnType<typeof client>

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))
