/** The V8 CPU profiler over one measured section (node:inspector), summarised by self time. */
import { Session } from "node:inspector/promises"
import type { CpuProfileSummary, ProfileLine } from "./types.js"

interface ProfileNode {
  readonly id: number
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number }
}
interface Profile {
  readonly startTime?: number
  readonly nodes: ReadonlyArray<ProfileNode>
  readonly samples?: ReadonlyArray<number>
  readonly timeDeltas?: ReadonlyArray<number>
}

/** Which part of the stack a frame belongs to, from its script URL. */
export const areaOf = (url: string, fn: string): string => {
  if (fn === "(garbage collector)") return "garbage collector"
  if (fn === "(program)" || fn === "(idle)" || fn === "(root)") return "V8 (program, idle)"
  if (url === "") return "native (SQLite via better-sqlite3, V8 builtins)"
  if (url.includes("/packages/queue/")) return "@abathur/queue (engine, service)"
  if (url.includes("/packages/storage/")) return "@abathur/storage (repository, row mapping)"
  if (url.includes("/packages/domain/")) return "@abathur/domain (priority, graph, schemas)"
  if (url.includes("/packages/schema/")) return "@abathur/schema"
  if (/[/\\]effect[/\\@]/.test(url) || url.includes("/effect@")) return "effect (runtime)"
  if (url.includes("zod")) return "zod (input validation)"
  if (url.includes("better-sqlite3")) return "better-sqlite3 (JS side)"
  if (url.startsWith("node:")) return "node internals"
  if (url.includes("/bench/")) return "harness"
  return "other JS"
}

const shortUrl = (url: string): string => {
  if (url === "") return ""
  const m = /(packages\/[^/]+\/(?:dist|src)\/.*)$/.exec(url) ?? /node_modules\/((?:@[^/]+\/)?[^/]+\/.*)$/.exec(url)
  return m?.[1] ?? url.replace(/^file:\/\//, "")
}

export interface SummarizeOptions {
  /** Maps a frame's script URL and (0-based) line to where it comes from (e.g. a bundle's source module). */
  readonly locate?: (url: string, line: number) => string
  /** The area of a frame, from where it comes from (default: areaOf). */
  readonly area?: (where: string, fn: string) => string
  /** Leave `(idle)` samples out (a server waiting for requests); the summary says how much. */
  readonly excludeIdle?: boolean
  /** Only samples taken in this window (microseconds on the profile's clock, CLOCK_MONOTONIC). */
  readonly window?: { readonly fromUs: number; readonly toUs: number }
}

export const summarize = (profile: Profile, top = 25, options: SummarizeOptions = {}): CpuProfileSummary => {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const self = new Map<number, number>()
  const samples = profile.samples ?? []
  const deltas = profile.timeDeltas ?? []
  const idleIds = new Set(profile.nodes.filter((n) => n.callFrame.functionName === "(idle)").map((n) => n.id))
  let totalUs = 0
  let idleUs = 0
  let at = profile.startTime ?? 0
  for (let i = 0; i < samples.length; i++) {
    const d = deltas[i] ?? 0
    at += d
    if (options.window !== undefined && (at < options.window.fromUs || at > options.window.toUs)) continue
    if (options.excludeIdle === true && idleIds.has(samples[i]!)) {
      idleUs += d
      continue
    }
    totalUs += d
    self.set(samples[i]!, (self.get(samples[i]!) ?? 0) + d)
  }
  const byFrame = new Map<string, { fn: string; where: string; us: number }>()
  const byArea = new Map<string, number>()
  for (const [id, us] of self) {
    const node = byId.get(id)
    if (node === undefined) continue
    const { functionName, url, lineNumber } = node.callFrame
    const fn = functionName === "" ? "(anonymous)" : functionName
    const source = url === "" || options.locate === undefined ? url : options.locate(url, lineNumber)
    const where = url === "" ? "" : source === url ? `${shortUrl(url)}:${lineNumber + 1}` : shortUrl(source)
    const key = `${fn}@${where}`
    const entry = byFrame.get(key)
    if (entry === undefined) byFrame.set(key, { fn, where, us })
    else entry.us += us
    const area = (options.area ?? areaOf)(source, functionName)
    byArea.set(area, (byArea.get(area) ?? 0) + us)
  }
  const share = (us: number) => (totalUs > 0 ? us / totalUs : 0)
  const lines: Array<ProfileLine> = [...byFrame.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, top)
    .map((e) => ({ fn: e.fn, where: e.where, selfMs: e.us / 1000, share: share(e.us) }))
  return {
    totalMs: totalUs / 1000,
    ...(options.excludeIdle === true && { idleMs: idleUs / 1000 }),
    byArea: [...byArea.entries()].sort((a, b) => b[1] - a[1]).map(([area, us]) => ({ area, selfMs: us / 1000, share: share(us) })),
    top: lines
  }
}

export class CpuProfiler {
  private readonly session = new Session()

  async start(): Promise<void> {
    this.session.connect()
    await this.session.post("Profiler.enable")
    await this.session.post("Profiler.setSamplingInterval", { interval: 200 })
    await this.session.post("Profiler.start")
  }

  async stop(): Promise<CpuProfileSummary> {
    const { profile } = await this.session.post("Profiler.stop")
    await this.session.post("Profiler.disable")
    this.session.disconnect()
    return summarize(profile as unknown as Profile)
  }
}
