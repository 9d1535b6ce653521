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
  /** PEERS only: the comparison with plainjob and the bare job table. */
  readonly peers?: ReadonlyArray<PeerRow> | undefined
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

/** One workload run by Abathur and its peers (PEERS): rates in jobs per second and Abathur's ratios. */
export interface PeerRow {
  readonly workload: string
  /** What each side calls. */
  readonly how: string
  readonly abathur: number
  readonly plainjob: number
  readonly bare: number
  /** Plain SQL on Abathur's own schema. */
  readonly floor: number
  readonly vsPlainjob: number
  readonly vsBare: number
  readonly vsFloor: number
  /** The target of Abathur / plainjob. */
  readonly target?: number | undefined
}
