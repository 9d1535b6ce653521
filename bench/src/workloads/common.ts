/** What every workload shares: sizes, the measured section, result rows. */
import { CostMeter, OUTER_FRAME } from "../costs.js"
import { CpuProfiler } from "../cpuprofile.js"
import type { Breakdown, CpuProfileSummary, ResultRow, RunOptions, Verdict } from "../types.js"
import { fmtMs, fmtRate, fmtShare, fmtTimes, settle } from "../util.js"

export class Ctx {
  /** Set in breakdown mode: the repository is instrumented. */
  readonly meter: CostMeter | undefined
  private profile: CpuProfileSummary | undefined
  private breakdownResult: Breakdown | undefined

  constructor(readonly options: RunOptions) {
    this.meter = options.breakdown ? new CostMeter() : undefined
  }

  get quick(): boolean {
    return this.options.quick
  }

  /** Whether the floor runs too (not while analysing Abathur alone). */
  get withFloor(): boolean {
    return !this.options.breakdown && !this.options.cpuProfile
  }

  /** `full` normally, a tenth of it with --quick. */
  size(full: number, quick = Math.max(1, Math.round(full / 10))): number {
    return this.options.quick ? quick : full
  }

  /** Calls one service operation (through the cost meter's outer frame when analysing). */
  readonly call = <A>(f: () => A): A => (this.meter === undefined ? f() : this.meter.frame(OUTER_FRAME, f))

  /**
   * Runs Abathur's measured section: collects garbage first, and under analysis resets the
   * meter or runs the CPU profiler around it. Returns the wall time in milliseconds.
   */
  async measure(op: string, ops: number, body: () => void): Promise<number> {
    settle()
    this.meter?.reset()
    const profiler = this.options.cpuProfile ? new CpuProfiler() : undefined
    if (profiler !== undefined) await profiler.start()
    const t0 = performance.now()
    body()
    const ms = performance.now() - t0
    if (profiler !== undefined) this.profile = await profiler.stop()
    if (this.meter !== undefined) this.breakdownResult = this.meter.report(op, ops, ms)
    return ms
  }

  get analysis(): { breakdown?: Breakdown; profile?: CpuProfileSummary } {
    return {
      ...(this.breakdownResult !== undefined && { breakdown: this.breakdownResult }),
      ...(this.profile !== undefined && { profile: this.profile })
    }
  }
}

export const verdict = (ok: boolean): Verdict => (ok ? "PASS" : "MISS")

/** A throughput line: higher is better. */
export const rateRow = (metric: string, abathur: number, floor: number, target?: { min: number; label?: string }): ResultRow => ({
  metric,
  abathur: fmtRate(abathur),
  floor: Number.isFinite(floor) ? fmtRate(floor) : "—",
  ratio: Number.isFinite(floor) ? fmtShare(abathur, floor) : "—",
  target: target === undefined ? "" : (target.label ?? `≥ ${fmtRate(target.min)}`),
  verdict: target === undefined ? "INFO" : verdict(abathur >= target.min)
})

/** A latency line: lower is better. */
export const latencyRow = (metric: string, abathur: number, floor: number, target?: { max: number; label?: string }): ResultRow => ({
  metric,
  abathur: fmtMs(abathur),
  floor: Number.isFinite(floor) ? fmtMs(floor) : "—",
  ratio: Number.isFinite(floor) ? fmtTimes(abathur, floor) : "—",
  target: target === undefined ? "" : (target.label ?? `≤ ${fmtMs(target.max)}`),
  verdict: target === undefined ? "INFO" : verdict(abathur <= target.max)
})

export const infoRow = (metric: string, abathur: string, floor = "—", ratio = "—"): ResultRow => ({
  metric,
  abathur,
  floor,
  ratio,
  target: "",
  verdict: "INFO"
})

/** Records the latency of each call of `f` into `into`. */
export const lap = <A>(into: Array<number>, f: () => A): A => {
  const t0 = performance.now()
  const a = f()
  into.push(performance.now() - t0)
  return a
}
