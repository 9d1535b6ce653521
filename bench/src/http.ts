/**
 * What the HTTP workloads share: a keep-alive client over node:http, servers started as child
 * processes on a free loopback port, the CPU time a child process used (from /proc), and an
 * unminified server build for CPU profiles.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs"
import * as http from "node:http"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"

const HERE = dirname(fileURLToPath(import.meta.url))
/** The repository's root (bench/dist/.. /..). */
export const ROOT = resolve(HERE, "..", "..")
export const SERVER_DIR = join(ROOT, "apps", "server")
export const SERVER_MAIN = join(SERVER_DIR, "dist", "main.js")
export const BARE_MAIN = join(HERE, "bareserver.js")

/** Builds abathur-server (its own esbuild script, a few seconds): `pnpm bench` builds only the harness's dependencies. */
export const buildServer = (options: { readonly outdir?: string; readonly minify?: boolean } = {}): string => {
  const args = [join(SERVER_DIR, "build.mjs")]
  if (options.minify === false) args.push("--no-minify")
  if (options.outdir !== undefined) args.push("--outdir", options.outdir)
  execFileSync(process.execPath, args, { cwd: SERVER_DIR, stdio: ["ignore", "inherit", "inherit"] })
  return join(options.outdir ?? join(SERVER_DIR, "dist"), "main.js")
}

/** Where the unminified build for CPU profiles goes (inside the package, so that better-sqlite3 resolves). */
export const profileBuildDir = (): string => {
  const dir = join(SERVER_DIR, "node_modules", ".cache", "abathur-bench-server")
  mkdirSync(dirname(dir), { recursive: true })
  return dir
}

export interface Answer {
  readonly status: number
  readonly text: string
}

/**
 * A keep-alive HTTP client: at most `connections` sockets, reused from one request to the next
 * (each worker loop of a workload keeps one busy).
 */
export class HttpClient {
  private readonly agent: http.Agent
  constructor(
    readonly port: number,
    connections: number
  ) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets: connections, maxFreeSockets: connections })
  }

  request(method: "GET" | "POST", path: string, body?: string): Promise<Answer> {
    return new Promise((resolvePromise, reject) => {
      const headers: http.OutgoingHttpHeaders = {}
      if (body !== undefined) {
        headers["content-type"] = "application/json"
        headers["content-length"] = Buffer.byteLength(body)
      }
      const req = http.request({ host: "127.0.0.1", port: this.port, path, method, agent: this.agent, headers }, (res) => {
        let text = ""
        res.setEncoding("utf8")
        res.on("data", (d: string) => (text += d))
        res.on("end", () => resolvePromise({ status: res.statusCode ?? 0, text }))
        res.on("error", reject)
      })
      req.on("error", reject)
      req.end(body)
    })
  }

  post(path: string, body: unknown): Promise<Answer> {
    return this.request("POST", path, JSON.stringify(body))
  }

  close(): void {
    this.agent.destroy()
  }
}

/** Runs `workers` loops at once; each calls `step` until it returns false. */
export const runLoops = async (workers: number, step: (worker: number) => Promise<boolean>): Promise<void> => {
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      while (await step(w)) {
        // next
      }
    })
  )
}

/** Runs `count` calls of `step` in all, over `workers` loops at once (loop w passes w). */
export const runCount = (workers: number, count: number, step: (worker: number) => Promise<void>): Promise<void> => {
  let left = count
  return runLoops(workers, async (w) => {
    if (left-- <= 0) return false
    await step(w)
    return true
  })
}

export interface Listening {
  readonly url: string
  readonly port: number
  readonly child: ChildProcess
  /** User + system CPU time the process used so far, in ms (NaN where /proc is missing). */
  readonly cpuMs: () => number
  /** SIGTERM, then waits for the exit (SIGKILL after 10 s). */
  readonly stop: () => Promise<number | null>
  readonly stderr: () => string
}

const TICK_MS = 10 // USER_HZ is 100 on Linux

/** utime + stime of a process, in ms, from /proc/PID/stat. */
export const processCpuMs = (pid: number): number => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    // fields[0] is the state (field 3); utime and stime are fields 14 and 15.
    return (Number(fields[11]) + Number(fields[12])) * TICK_MS
  } catch {
    return Number.NaN
  }
}

/** Starts `node ARGS` and waits for `listening on http://...` on its stderr. */
export const startListening = (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv = {}): Promise<Listening> =>
  new Promise((resolvePromise, reject) => {
    const clean: NodeJS.ProcessEnv = {}
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("ABATHUR_")) clean[k] = v
    const child = spawn(process.execPath, args, { env: { ...clean, ...env }, stdio: ["ignore", "ignore", "pipe"] })
    let err = ""
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)))
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`${args.join(" ")} did not start in 60 s:\n${err}`))
    }, 60_000)
    child.stderr!.setEncoding("utf8").on("data", (d: string) => {
      const before = err
      err += d
      if (err.length > 65_536) err = err.slice(-65_536)
      const m = /listening on (http:\/\/[^\s"]+)/.exec(err)
      if (m !== null && !/listening on (http:\/\/[^\s"]+)/.test(before)) {
        clearTimeout(timer)
        const url = m[1]!
        resolvePromise({
          url,
          port: Number(new URL(url).port),
          child,
          cpuMs: () => processCpuMs(child.pid!),
          stderr: () => err,
          stop: async () => {
            if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM")
            const kill = setTimeout(() => child.kill("SIGKILL"), 10_000)
            const code = await exited
            clearTimeout(kill)
            return code
          }
        })
      }
    })
    void exited.then((code) => {
      clearTimeout(timer)
      reject(new Error(`${args.join(" ")} exited (${code}) before listening:\n${err}`))
    })
  })

/** The CPU profile a process started with `--cpu-prof --cpu-prof-dir DIR` wrote when it exited. */
export const readCpuProfile = (dir: string): unknown => {
  const file = existsSync(dir) ? readdirSync(dir).find((f) => f.endsWith(".cpuprofile")) : undefined
  if (file === undefined) throw new Error(`no CPU profile in ${dir}`)
  return JSON.parse(readFileSync(join(dir, file), "utf8")) as unknown
}

/**
 * For an unminified esbuild bundle: maps a (url, line) of a profile frame to the source module
 * it comes from, read from the `// path/to/module` comments esbuild writes before each module.
 */
export const bundleModules = (): ((url: string, line: number) => string) => {
  const cache = new Map<string, { lines: Array<number>; modules: Array<string> }>()
  const load = (url: string) => {
    let entry = cache.get(url)
    if (entry !== undefined) return entry
    entry = { lines: [], modules: [] }
    cache.set(url, entry)
    if (!url.startsWith("file://")) return entry
    try {
      const text = readFileSync(fileURLToPath(url), "utf8").split("\n")
      for (let i = 0; i < text.length; i++) {
        const m = /^\/\/ ((?:\.\.\/|src\/|node_modules\/)[^\s]+\.(?:ts|js|mjs|cjs|json))$/.exec(text[i]!)
        if (m !== null) {
          entry.lines.push(i)
          entry.modules.push(m[1]!)
        }
      }
    } catch {
      // not a file: keep the URL
    }
    return entry
  }
  return (url, line) => {
    const { lines, modules } = load(url)
    let lo = 0
    let hi = lines.length - 1
    let found = -1
    while (lo <= hi) {
      const mid = (lo + hi) >> 1
      if (lines[mid]! <= line) {
        found = mid
        lo = mid + 1
      } else hi = mid - 1
    }
    return found < 0 ? url : modules[found]!
  }
}
