/**
 * What H1 and H2 share: the bare node:http floor driven like the workload, the real server started
 * (or built unminified under the CPU profiler), and the rows they report.
 */
import { mkdirSync } from "node:fs"
import { join } from "node:path"
import { areaOf, summarize } from "../cpuprofile.js"
import {
  type Answer,
  BARE_MAIN,
  bundleModules,
  HttpClient,
  type Listening,
  profileBuildDir,
  readCpuProfile,
  runLoops,
  SERVER_MAIN,
  startListening
} from "../http.js"
import type { CpuProfileSummary, ResultRow } from "../types.js"
import { fmtRate, settle } from "../util.js"
import { type Ctx, infoRow, verdict } from "./common.js"

/** Concurrent client loops (each keeps one keep-alive connection busy). */
export const CONCURRENCY = 8

export const fmtShareOf = (a: number, b: number, what: string): string =>
  Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${((a / b) * 100).toFixed(1)}% of ${what}` : "—"

export const rate = (metric: string, value: number, floor: number, unit: string, target?: { min: number }): ResultRow => ({
  metric,
  abathur: fmtRate(value, unit),
  floor: Number.isFinite(floor) ? fmtRate(floor, unit) : "—",
  ratio: fmtShareOf(value, floor, "floor"),
  target: target === undefined ? "" : `≥ ${fmtRate(target.min, unit)}`,
  verdict: target === undefined ? "INFO" : verdict(value >= target.min)
})

export const cpuRow = (metric: string, usPerOp: number, floorUsPerOp: number): ResultRow =>
  infoRow(
    metric,
    Number.isFinite(usPerOp) ? `${usPerOp.toFixed(0)} µs` : "n/a",
    Number.isFinite(floorUsPerOp) ? `${floorUsPerOp.toFixed(0)} µs` : "—",
    Number.isFinite(usPerOp) && Number.isFinite(floorUsPerOp) && floorUsPerOp > 0 ? `${(usPerOp / floorUsPerOp).toFixed(1)}× floor` : "—"
  )

export const expect = (a: Answer, status: number, what: string): Answer => {
  if (a.status !== status) throw new Error(`${what}: HTTP ${a.status} (expected ${status}): ${a.text.slice(0, 400)}`)
  return a
}

/** CPU time of the server process and of this (client) process over a measured section. */
export interface CpuSpan {
  readonly serverMs: number
  readonly clientMs: number
}

export const cpuSpan = (server: Listening) => {
  const s0 = server.cpuMs()
  const c0 = process.cpuUsage()
  return (): CpuSpan => {
    const c = process.cpuUsage(c0)
    return { serverMs: server.cpuMs() - s0, clientMs: (c.user + c.system) / 1000 }
  }
}

/** The CPU clock of V8's profiles (CLOCK_MONOTONIC, µs): the measured window of a server profile. */
export const monotonicUs = (): number => Number(process.hrtime.bigint() / 1000n)

// ---- the floor: bare node:http ----------------------------------------------------------------

export interface FloorRun {
  readonly requests: number
  readonly ms: number
  readonly lat: Array<number>
  readonly cpu: CpuSpan
}

/**
 * The bare server, driven like the workload: `requests` POSTs with a small JSON body over
 * CONCURRENCY keep-alive loops (after a warm-up), alternating the workload's paths.
 */
export const runFloor = async (requests: number, paths: ReadonlyArray<string>, body: unknown): Promise<FloorRun> => {
  const server = await startListening([BARE_MAIN, "--port", "0", "--host", "127.0.0.1"])
  const client = new HttpClient(server.port, CONCURRENCY)
  try {
    let left = Math.min(2_000, requests)
    await runLoops(CONCURRENCY, async () => {
      if (left-- <= 0) return false
      expect(await client.post(paths[left % paths.length]!, body), 200, "bare server")
      return true
    })
    settle()
    const lat: Array<number> = []
    left = requests
    const span = cpuSpan(server)
    const t0 = performance.now()
    await runLoops(CONCURRENCY, async () => {
      if (left-- <= 0) return false
      const s = performance.now()
      expect(await client.post(paths[left % paths.length]!, body), 200, "bare server")
      lat.push(performance.now() - s)
      return true
    })
    const ms = performance.now() - t0
    return { requests, ms, lat, cpu: span() }
  } finally {
    client.close()
    await server.stop()
  }
}

// ---- abathur-server -----------------------------------------------------------------------------

export interface ServerRun {
  readonly server: Listening
  readonly client: HttpClient
  /** Stops the server; with a profile, summarises the measured window of it. */
  readonly stop: (window?: { fromUs: number; toUs: number }) => Promise<CpuProfileSummary | undefined>
}

/** The real server on `db`: dist/main.js, or an unminified build under the CPU profiler. */
export const startServer = async (ctx: Ctx, dir: string, db: string): Promise<ServerRun> => {
  const profileDir = join(dir, "cpu-profile")
  const main = ctx.options.cpuProfile ? join(profileBuildDir(), "main.js") : SERVER_MAIN
  const flags = ctx.options.cpuProfile ? ["--cpu-prof", "--cpu-prof-dir", profileDir, "--cpu-prof-interval", "200"] : []
  if (ctx.options.cpuProfile) mkdirSync(profileDir, { recursive: true })
  const server = await startListening([...flags, main, "--port", "0", "--host", "127.0.0.1", "--db", db, "--log-level", "warning"])
  const client = new HttpClient(server.port, CONCURRENCY)
  return {
    server,
    client,
    stop: async (window) => {
      client.close()
      const code = await server.stop()
      if (code !== 0) throw new Error(`abathur-server exited with ${code}:\n${server.stderr()}`)
      if (!ctx.options.cpuProfile) return undefined
      const profile = readCpuProfile(profileDir) as Parameters<typeof summarize>[0]
      const locate = bundleModules()
      return summarize(profile, 25, {
        locate: (url, line) => {
          const m = locate(url, line)
          return m.startsWith("src/") ? `apps/server/${m}` : m
        },
        area: serverArea,
        excludeIdle: true,
        ...(window !== undefined && { window })
      })
    }
  }
}

/** Areas of the server's profile: its own modules and the HTTP stack besides the queue's. */
export const serverArea = (where: string, fn: string): string => {
  // In these profiles better-sqlite3's calls show as self time of the repository functions that make them.
  if (where.includes("/packages/storage/")) return "@abathur/storage (repository, with the SQLite calls it makes)"
  if (where === "" && fn !== "(garbage collector)" && fn !== "(program)") return "native (Node bindings such as socket writes, V8 builtins)"
  if (where.startsWith("apps/server/")) return "apps/server (routes, metrics, wake-ups)"
  if (where.includes("@effect/platform-node") || where.includes("@effect+platform-node")) return "@effect/platform-node (Node HTTP adapter)"
  if (where.includes("@effect/platform") || where.includes("@effect+platform")) return "@effect/platform (router, request, response)"
  if (where.startsWith("node:internal/http") || where.startsWith("node:_http") || where.startsWith("node:http")) return "node:http (parser, sockets)"
  if (where.startsWith("node:net") || where.startsWith("node:internal/stream") || where.startsWith("node:stream")) return "node streams and sockets"
  return areaOf(where, fn)
}

/** The same work's CPU in-process, and how much more the server spends on it. */
export const inProcessCpuRow = (metric: string, inProcessCpuUs: number, serverUs: number) =>
  infoRow(
    metric,
    Number.isFinite(inProcessCpuUs) ? `${inProcessCpuUs.toFixed(0)} µs` : "—",
    "—",
    Number.isFinite(inProcessCpuUs) ? `server spends ${(serverUs / inProcessCpuUs).toFixed(2)}× it` : "—"
  )
