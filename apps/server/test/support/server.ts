import { cleanEnv, type Exited, type ServerProcess, type ServerProcessOptions, startServerProcess, tempDir } from "@abathur/testing/vitest"
import { execFile } from "node:child_process"
import { beforeAll, inject } from "vitest"

export const serverMain = (): string => inject("serverMain")
export const queueScript = (): string => inject("queueScript")

export { cleanEnv, type Exited, tempDir }

/** A running server (see `startServer`). */
export type RunningServer = ServerProcess

/**
 * Starts `node dist/main.js --port 0 --db <temp file>` and reads the address from its log; it is
 * disposed when the test that started it ends (or after the file's tests).
 */
export const startServer = (options: ServerProcessOptions = {}): Promise<RunningServer> => startServerProcess(serverMain(), options)

/**
 * One server for the file's tests: started before them, disposed after them. `api` is its client
 * and `server()` the process (both usable once the tests run). `options` may read another shared
 * server, e.g. `sharedServer(() => ({ db: main.server().db }))` for a second process on the file.
 */
export const sharedServer = (options: ServerProcessOptions | (() => ServerProcessOptions) = {}) => {
  let running: RunningServer | undefined
  beforeAll(async () => {
    running = await startServer(typeof options === "function" ? options() : options)
  })
  const server = (): RunningServer => {
    if (running === undefined) throw new Error("the shared server starts before the tests: use it inside them")
    return running
  }
  return { server, api: client(() => server().url) }
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

/** A small fetch client for one server (its URL, or a function that tells it when a request is made). */
export const client = (base: string | (() => string), defaults: Record<string, string> = {}) => {
  const request = async <T = any>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply<T>> => {
    const init: RequestInit = { method, headers: { ...defaults, ...headers } }
    if (body !== undefined) {
      init.body = typeof body === "string" ? body : JSON.stringify(body)
      ;(init.headers as Record<string, string>)["content-type"] ??= "application/json"
    }
    const res = await fetch(new URL(path, typeof base === "string" ? base : base()), init)
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
