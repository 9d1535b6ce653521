/** What a workload reports (sent from the child process that ran it, as JSON). */

export type Verdict = "PASS" | "MISS" | "INFO"

/** One line of a workload's table. */
export interface ResultRow {
  readonly metric: string
  readonly abathur: string
  readonly floor: string
  readonly ratio: string
  readonly target: string
  readonly verdict: Verdict
}

/** A line of a cost breakdown: where the time of one operation goes. */
export interface CostLine {
  readonly name: string
  readonly calls: number
  readonly totalMs: number
  /** Microseconds per operation of the workload. */
  readonly usPerOp: number
  readonly share: number
}

export interface Breakdown {
  /** What one operation is (e.g. "claim + complete"). */
  readonly op: string
  readonly ops: number
  readonly wallMs: number
  readonly lines: ReadonlyArray<CostLine>
}

/** Self time of the hottest functions in a CPU profile of the measured section. */
export interface ProfileLine {
  readonly fn: string
  readonly where: string
  readonly selfMs: number
  readonly share: number
}

export interface CpuProfileSummary {
  readonly totalMs: number
  /** Idle samples left out of the shares (a server's profile), when counted. */
  readonly idleMs?: number
  readonly byArea: ReadonlyArray<{ area: string; selfMs: number; share: number }>
  readonly top: ReadonlyArray<ProfileLine>
}

export interface WorkloadResult {
  readonly id: string
  readonly title: string
  /** The sizes actually run. */
  readonly setup: string
  readonly rows: ReadonlyArray<ResultRow>
  /** Extra facts worth printing (setup times, outcome counts). */
  readonly notes: ReadonlyArray<string>
  readonly breakdown?: Breakdown | undefined
  readonly profile?: CpuProfileSummary | undefined
  readonly elapsedMs: number
}

/** Options a workload runs with. */
export interface RunOptions {
  readonly quick: boolean
  /** A folder shared by the workloads of one run (the 1M-task database lives there). */
  readonly sharedDir: string
  /** Run Abathur only, with the repository instrumented, and report where the time goes. */
  readonly breakdown: boolean
  /** Run Abathur only, under the V8 CPU profiler, and report the hottest frames. */
  readonly cpuProfile: boolean
}
