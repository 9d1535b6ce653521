/** Timing, statistics and formatting helpers of the harness. */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { mulberry32 } from "@abathur/testing"

export const nowMs = (): number => performance.now()

/** Runs `f` and returns its result with the elapsed wall time in milliseconds. */
export const timed = <A>(f: () => A): { value: A; ms: number } => {
  const t0 = performance.now()
  const value = f()
  return { value, ms: performance.now() - t0 }
}

export interface Stats {
  readonly n: number
  readonly min: number
  readonly mean: number
  readonly p50: number
  readonly p90: number
  readonly p99: number
  readonly max: number
  readonly total: number
}

/** Nearest-rank percentiles of a sample (milliseconds in, milliseconds out). */
export const stats = (sample: ReadonlyArray<number>): Stats => {
  const xs = Float64Array.from(sample).sort()
  const n = xs.length
  const at = (p: number) => (n === 0 ? Number.NaN : xs[Math.min(n - 1, Math.max(0, Math.ceil(p * n) - 1))]!)
  let total = 0
  for (const x of xs) total += x
  return {
    n,
    min: n === 0 ? Number.NaN : xs[0]!,
    mean: n === 0 ? Number.NaN : total / n,
    p50: at(0.5),
    p90: at(0.9),
    p99: at(0.99),
    max: n === 0 ? Number.NaN : xs[n - 1]!,
    total
  }
}

/** `stats` of each sample, in order. */
export const statsOf = <T extends ReadonlyArray<ReadonlyArray<number>>>(...samples: T): { [K in keyof T]: Stats } =>
  samples.map((sample) => stats(sample)) as { [K in keyof T]: Stats }

const group = (n: number): string => Math.round(n).toLocaleString("en-US")

export const fmtInt = group

/** A duration in milliseconds, in the unit that reads best. */
export const fmtMs = (ms: number): string => {
  if (!Number.isFinite(ms)) return "n/a"
  if (ms < 1) return `${(ms * 1000).toFixed(ms < 0.01 ? 1 : 0)} µs`
  if (ms < 10) return `${ms.toFixed(2)} ms`
  if (ms < 1000) return `${ms.toFixed(1)} ms`
  return `${(ms / 1000).toFixed(2)} s`
}

export const fmtRate = (perSecond: number, unit = "tasks/s"): string => `${group(perSecond)} ${unit}`

export const fmtMB = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MB`

/** Throughput ratio: what fraction of the floor's rate Abathur reaches. */
export const fmtShare = (abathur: number, floor: number): string => (floor > 0 ? `${((abathur / floor) * 100).toFixed(1)}% of floor` : "n/a")

/** Latency ratio: how many times the floor's latency Abathur takes. */
export const fmtTimes = (abathur: number, floor: number): string => (floor > 0 ? `${(abathur / floor).toFixed(1)}× floor` : "n/a")

/** A fresh folder under the system's temp dir. */
export const tempDir = (prefix = "abathur-bench-"): { dir: string; cleanup: () => void } => {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) }
}

/** Collects garbage when the process runs with --expose-gc, so phases start alike. */
export const settle = (): void => {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc !== undefined) gc()
}

/** A small deterministic PRNG (the fixtures' mulberry32). */
export const prng = mulberry32

export const randInt = (rand: () => number, n: number): number => Math.floor(rand() * n)
