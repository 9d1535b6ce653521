/** The console tables and BENCHMARKS.md. */
import BetterSqlite3 from "better-sqlite3"
import { execSync } from "node:child_process"
import { createRequire } from "node:module"
import { cpus, loadavg, totalmem, type as osType, release } from "node:os"
import { join } from "node:path"
import { ENGINE_FRAME, OUTER_FRAME, TX_FRAME } from "./costs.js"
import { EXPLANATIONS } from "./explanations.js"
import type { Breakdown, CpuProfileSummary, PeerRow, ResultRow, WorkloadResult } from "./types.js"
import { fmtInt, fmtMs, tempDir } from "./util.js"

export interface Machine {
  readonly cpu: string
  readonly cores: number
  readonly memory: string
  readonly os: string
  readonly node: string
  readonly sqlite: string
  readonly betterSqlite3: string
  readonly effect: string
  readonly commit: string
}

const versionOf = (pkg: string): string => {
  try {
    const require = createRequire(import.meta.url)
    return (require(`${pkg}/package.json`) as { version: string }).version
  } catch {
    return "unknown"
  }
}

const gitCommit = (): string => {
  try {
    const head = execSync("git rev-parse --short HEAD", { stdio: ["ignore", "pipe", "ignore"] })
      .toString()
      .trim()
    const dirty =
      execSync("git status --porcelain", { stdio: ["ignore", "pipe", "ignore"] })
        .toString()
        .trim() !== ""
    return dirty ? `${head} + uncommitted changes` : head
  } catch {
    return "unknown"
  }
}

export const describeMachine = (): Machine => {
  const db = new BetterSqlite3(":memory:")
  const sqlite = db.prepare("SELECT sqlite_version()").pluck().get() as string
  db.close()
  const list = cpus()
  return {
    cpu: list[0]?.model.trim() ?? "unknown",
    cores: list.length,
    memory: `${(totalmem() / 1024 ** 3).toFixed(1)} GiB`,
    os: `${osType()} ${release()}`,
    node: process.version,
    sqlite,
    betterSqlite3: versionOf("better-sqlite3"),
    effect: versionOf("effect"),
    commit: gitCommit()
  }
}

/** How busy the machine is: load average and a raw single-row transaction rate. */
export interface Probe {
  readonly load: string
  readonly rawTxPerSecond: number
}

export const probe = (): Probe => {
  const { dir, cleanup } = tempDir("abathur-probe-")
  try {
    const db = new BetterSqlite3(join(dir, "probe.db"))
    db.pragma("journal_mode = WAL")
    db.pragma("synchronous = NORMAL")
    db.exec("CREATE TABLE t (id TEXT PRIMARY KEY, v TEXT)")
    const insert = db.prepare("INSERT INTO t VALUES (?, ?)")
    const tx = db.transaction((i: number) => insert.run(crypto.randomUUID(), `row ${i}`))
    for (let i = 0; i < 500; i++) tx.immediate(i)
    const n = 5000
    const t0 = performance.now()
    for (let i = 0; i < n; i++) tx.immediate(i)
    const rate = n / ((performance.now() - t0) / 1000)
    db.close()
    return {
      load: loadavg()
        .map((x) => x.toFixed(2))
        .join(" / "),
      rawTxPerSecond: rate
    }
  } finally {
    cleanup()
  }
}

export const describeProbe = (p: Probe): string =>
  `load average ${p.load} (1/5/15 min); raw single-row write transactions ${fmtInt(p.rawTxPerSecond)}/s`

// ---- console -------------------------------------------------------------------------------

const COLUMNS = ["metric", "abathur", "floor", "ratio", "target", "verdict"] as const
const HEADERS = ["metric", "Abathur", "floor", "ratio", "target", ""]

/** Abathur / plainjob and Abathur / bare first, then the same-schema floor and the rates. */
const PEER_HEADERS = [
  "workload",
  "Abathur / plainjob",
  "Abathur / bare",
  "Abathur / same-schema floor",
  "Abathur",
  "plainjob",
  "bare table",
  "same-schema floor",
  "target"
]

const peerCells = (p: PeerRow): Array<string> => [
  p.workload,
  `${p.vsPlainjob.toFixed(2)}×`,
  `${p.vsBare.toFixed(2)}×`,
  `${p.vsFloor.toFixed(2)}×`,
  `${fmtInt(p.abathur)}/s`,
  `${fmtInt(p.plainjob)}/s`,
  `${fmtInt(p.bare)}/s`,
  `${fmtInt(p.floor)}/s`,
  p.target === undefined ? "" : `≥ ${p.target.toFixed(1)}× plainjob: ${p.vsPlainjob >= p.target ? "PASS" : "MISS"}`
]

export const printResult = (r: WorkloadResult): void => {
  if (r.peers !== undefined) {
    const rows = r.peers.map(peerCells)
    const widths = PEER_HEADERS.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)))
    const line = (cells: ReadonlyArray<string>) =>
      cells
        .map((c, i) => c.padEnd(widths[i]!))
        .join("  ")
        .trimEnd()
    console.log(`\n${r.id}  ${r.title}  (${fmtMs(r.elapsedMs)})`)
    console.log(`    ${r.setup}`)
    console.log(`  ${line(PEER_HEADERS)}`)
    for (const row of rows) console.log(`  ${line(row)}`)
    for (const p of r.peers) console.log(`  · ${p.workload}: ${p.how}`)
    for (const note of r.notes) console.log(`  · ${note}`)
    return
  }
  const rows = r.rows.map((row) => COLUMNS.map((c) => (c === "verdict" && row.verdict === "INFO" ? "" : row[c])))
  const widths = HEADERS.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)))
  const line = (cells: ReadonlyArray<string>) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join("  ")
      .trimEnd()
  console.log(`\n${r.id}  ${r.title}  (${fmtMs(r.elapsedMs)})`)
  console.log(`    ${r.setup}`)
  console.log(`  ${line(HEADERS)}`)
  for (const row of rows) console.log(`  ${line(row)}`)
  for (const note of r.notes) console.log(`  · ${note}`)
}

export const printAnalysis = (id: string, b: Breakdown | undefined, p: CpuProfileSummary | undefined): void => {
  if (b !== undefined) {
    console.log(`\n${id} where the time goes (${b.ops} × ${b.op}, instrumented run, ${fmtMs(b.wallMs)}):`)
    for (const l of b.lines.slice(0, 14)) {
      console.log(
        `  ${l.usPerOp.toFixed(1).padStart(10)} µs/op  ${(l.share * 100).toFixed(1).padStart(5)}%  ${String(l.calls).padStart(8)} calls  ${l.name}`
      )
    }
  }
  if (p !== undefined) {
    console.log(`\n${id} CPU profile of the measured section (${fmtMs(p.totalMs)} sampled), self time by area:`)
    for (const a of p.byArea.slice(0, 10)) console.log(`  ${(a.share * 100).toFixed(1).padStart(5)}%  ${a.area}`)
    console.log(`  top frames:`)
    for (const f of p.top.slice(0, 15)) console.log(`  ${(f.share * 100).toFixed(1).padStart(5)}%  ${f.fn}  ${f.where}`)
  }
}

// ---- markdown ------------------------------------------------------------------------------

const md = (s: string) => s.replaceAll("|", "\\|")

const table = (rows: ReadonlyArray<ResultRow>): string =>
  [
    "| Metric | Abathur | Floor | Ratio | Target | Result |",
    "|---|---:|---:|---:|---|---|",
    ...rows.map(
      (r) =>
        `| ${md(r.metric)} | ${md(r.abathur)} | ${md(r.floor)} | ${md(r.ratio)} | ${md(r.target)} | ${r.verdict === "INFO" ? "" : `**${r.verdict}**`} |`
    )
  ].join("\n")

/** Sums of the breakdown by kind: SQL calls, engine code, transaction wrapper, Effect. */
export const breakdownSummary = (b: Breakdown): string => {
  const per = (pred: (name: string) => boolean) => b.lines.filter((l) => pred(l.name)).reduce((s, l) => s + l.usPerOp, 0)
  const calls = (pred: (name: string) => boolean) => b.lines.filter((l) => pred(l.name)).reduce((s, l) => s + l.calls, 0)
  const isStore = (n: string) => n.startsWith("store.")
  const totalUs = (b.wallMs * 1000) / b.ops
  const store = per(isStore)
  const top = b.lines
    .filter((l) => isStore(l.name))
    .slice(0, 5)
    .map((l) => `${l.name.slice(6)} ${l.usPerOp.toFixed(1)} µs (${(l.calls / b.ops).toFixed(l.calls / b.ops < 10 ? 1 : 0)}×)`)
    .join(", ")
  return (
    `${totalUs.toFixed(1)} µs per ${b.op}: repository calls (SQL + row mapping) ${store.toFixed(1)} µs over ` +
    `${(calls(isStore) / b.ops).toFixed(1)} calls (largest: ${top}); engine JS between them ${per((n) => n === ENGINE_FRAME).toFixed(1)} µs; ` +
    `BEGIN/COMMIT ${per((n) => n === TX_FRAME).toFixed(1)} µs; Effect runtime and service wrapper ${per((n) => n === OUTER_FRAME).toFixed(1)} µs ` +
    `(instrumented run of ${b.ops.toLocaleString("en-US")} operation${b.ops === 1 ? "" : "s"}; the timers add about 0.1 µs per call)`
  )
}

const breakdownTable = (b: Breakdown): string =>
  [
    `| Part (self time) | Calls | µs per ${md(b.op)} | Share |`,
    "|---|---:|---:|---:|",
    ...b.lines
      .slice(0, 16)
      .map((l) => `| ${md(l.name)} | ${l.calls.toLocaleString("en-US")} | ${l.usPerOp.toFixed(1)} | ${(l.share * 100).toFixed(1)}% |`)
  ].join("\n")

const profileTables = (p: CpuProfileSummary, native = "(native: SQLite inside better-sqlite3 calls)"): string =>
  [
    "| Area (self time) | Share |",
    "|---|---:|",
    ...p.byArea.slice(0, 10).map((a) => `| ${md(a.area)} | ${(a.share * 100).toFixed(1)}% |`),
    "",
    "| Top frame (self time) | Where | Share |",
    "|---|---|---:|",
    ...p.top.slice(0, 15).map((f) => `| ${md(f.fn)} | ${f.where === "" ? native : md(f.where)} | ${(f.share * 100).toFixed(1)}% |`)
  ].join("\n")

export interface ReportInput {
  readonly machine: Machine
  readonly date: Date
  readonly command: string
  readonly quick: boolean
  readonly totalMs: number
  readonly probes: { readonly before: Probe; readonly after: Probe }
  readonly results: ReadonlyArray<WorkloadResult>
  /** Analysis runs (breakdown, CPU profile) by workload id. */
  readonly analysis: ReadonlyMap<string, { breakdown?: Breakdown | undefined; profile?: CpuProfileSummary | undefined }>
}

export const renderMarkdown = (input: ReportInput): string => {
  const { machine: m, results } = input
  const out: Array<string> = []
  out.push("# Abathur benchmarks", "")
  out.push(
    `Generated by \`${input.command}\` on ${input.date.toISOString().slice(0, 16).replace("T", " ")} UTC ` +
      `(whole run ${fmtMs(input.totalMs)}). Figures, not pass/fail tests: the harness lives in \`bench/\`, ` +
      "is not part of the test suite and never runs in CI."
  )
  if (input.quick) out.push("", "**Quick run: every size is 10× smaller than the targets assume, so the verdicts do not apply.**")
  out.push("", "## Machine", "")
  out.push("| | |", "|---|---|")
  out.push(`| CPU | ${m.cpu} |`, `| Cores | ${m.cores} |`, `| Memory | ${m.memory} |`, `| OS | ${m.os} |`)
  out.push(`| Node.js | ${m.node} |`, `| SQLite | ${m.sqlite} (better-sqlite3 ${m.betterSqlite3}) |`, `| effect | ${m.effect} |`)
  out.push(`| Code | ${m.commit} |`)
  out.push(`| Busy before the run | ${describeProbe(input.probes.before)} |`, `| Busy after the run | ${describeProbe(input.probes.after)} |`)
  out.push("")
  out.push(
    "The machine is shared: other sessions build and test on the same 2 cores while the harness runs, and STACK.md's " +
      "quiet-machine figure for raw single-row transactions is ~115k/s. The probe rows above say how far from quiet this " +
      "run was; absolute figures scale with it, the Abathur-to-floor ratios much less."
  )
  out.push("")
  out.push(
    "Every workload runs in a fresh child process on a file database in a temp dir (WAL, `synchronous=NORMAL`: " +
      "the defaults of `Database.layer`). Abathur is measured through the real `TaskQueue` service (`TaskQueue.layer` + " +
      "`TaskRepository.layer` + `Database.layer` + `QueueConfig.layer`, one `ManagedRuntime` per workload, each " +
      "operation through `runtime.runSync`). The floor is plain better-sqlite3 doing the minimal SQL of the same work " +
      "with hand-written prepared statements on the same schema (a fresh file migrated with `migrate`), measured in the " +
      "same run. Abathur also writes an audit row per state change and keeps priorities fresh; the floor does neither. " +
      "These shared machines are noisy: compare ratios from one run rather than figures across runs."
  )
  const peerResult = results.find((r) => r.peers !== undefined)
  if (peerResult?.peers !== undefined) {
    out.push("", "## Beside the peers (ratios from one run)", "")
    out.push(
      `${peerResult.setup}. Each rate is jobs per second (median of the repetitions); the ratios are Abathur's rate ` +
        "over the peer's, measured minutes apart in the same child process, so the machine's load colours them alike. " +
        "The same-schema floor is plain SQL on Abathur's own schema: what the schema costs, where the peers say what the whole design costs."
    )
    out.push(
      "",
      `| ${PEER_HEADERS.join(" | ")} |`,
      `|---|${PEER_HEADERS.slice(1)
        .map(() => "---:")
        .join("|")}|`
    )
    for (const p of peerResult.peers) out.push(`| ${peerCells(p).map(md).join(" | ")} |`)
    out.push("", ...peerResult.peers.map((p) => `- ${md(p.workload)}: ${md(p.how)}`))
  }
  const http = results.filter((r) => r.id.startsWith("H"))
  if (http.length > 0) {
    out.push(
      "",
      "The H workloads measure the HTTP server: the built bundle of abathur-server (`apps/server/dist/main.js`, rebuilt " +
        "by the harness first) runs as its own child process on a loopback port with a fresh file database, driven by a " +
        "keep-alive `node:http` client with 8 concurrent loops in the workload's process. Their floor is a bare `node:http` " +
        "server (`bench/src/bareserver.ts`) that reads the body and answers a small JSON body, driven by the same client in " +
        "the same way in the same run: what HTTP alone costs with this client on this machine, where client and server share " +
        "the 2 cores. Each H workload also runs the same operations in-process through `TaskQueue` (W1's and W3's loops) in " +
        "the same child, and reads the server's CPU time from `/proc`, so that the tables can say what HTTP adds per request."
    )
    out.push("", "## HTTP beside in-process", "")
    out.push("| Work | W (in-process, its own workload) | In-process, same moment as H | Over HTTP | Bare HTTP floor |", "|---|---:|---:|---:|---:|")
    const cell = (id: string, metric: string, column: "abathur" | "floor" = "abathur") =>
      results.find((r) => r.id === id)?.rows.find((row) => row.metric.startsWith(metric))?.[column] ?? "—"
    if (results.some((r) => r.id === "H1")) {
      out.push(
        `| claim + complete | ${cell("W3", "throughput (claim + complete)")} | ${cell("H1", "in-process claim + complete")} | ` +
          `${cell("H1", "throughput (claim + complete cycles)")} | ${cell("H1", "throughput (claim + complete cycles)", "floor")} |`
      )
    }
    if (results.some((r) => r.id === "H2")) {
      out.push(
        `| submit | ${cell("W1", "throughput")} | ${cell("H2", "in-process submit")} | ${cell("H2", "throughput")} | ${cell("H2", "throughput", "floor")} |`
      )
    }
  }
  out.push("", "## Summary", "")
  out.push("| Workload | Metric | Abathur | Floor | Ratio | Target | Result |", "|---|---|---:|---:|---:|---|---|")
  for (const r of results) {
    for (const row of r.rows.filter((x) => x.verdict !== "INFO")) {
      out.push(`| ${r.id} | ${md(row.metric)} | ${md(row.abathur)} | ${md(row.floor)} | ${md(row.ratio)} | ${md(row.target)} | **${row.verdict}** |`)
    }
  }
  for (const r of results.filter((x) => x.peers === undefined)) {
    out.push("", `## ${r.id}: ${r.title}`, "", `${r.setup}.`, "", table(r.rows))
    if (r.notes.length > 0) out.push("", ...r.notes.map((n) => `- ${n}`))
  }
  const missed = results.filter((r) => r.rows.some((x) => x.verdict === "MISS"))
  if (missed.length > 0) {
    out.push("", "## Missed targets", "")
    out.push(
      'For each miss: the measured reason, then what would close it. "Where the time goes" comes from an extra run of ' +
        "the same workload with every `TaskRepository` call timed (self time; the engine code inside the transaction " +
        "and the Effect runtime outside it are what is left), and a V8 CPU profile of the measured section. For the H " +
        "workloads the profile is of the server process (an unminified build of the same sources run with `--cpu-prof`, " +
        "samples of the measured window only, idle time left out), with frames attributed to their source modules."
    )
    const raw = Math.min(input.probes.before.rawTxPerSecond, input.probes.after.rawTxPerSecond)
    if (raw < 50_000) {
      out.push(
        "",
        `On this run a bare single-row write transaction managed only ${fmtInt(raw)}/s at worst (about 115k/s on a quiet ` +
          "machine), and the floor itself misses the absolute targets that assume one transaction per operation (W1, W3's " +
          "20,000 tasks/s, W4's and W6's p99). For those, the ratio to the floor is the figure to act on; the absolute " +
          "targets need a machine that is not shared."
      )
    }
    for (const r of missed) {
      const a = input.analysis.get(r.id)
      const ex = EXPLANATIONS[r.id]
      const misses = r.rows.filter((x) => x.verdict === "MISS").map((x) => `${x.metric} ${x.abathur} against ${x.target}`)
      out.push("", `### ${r.id}: ${misses.join("; ")}`, "")
      const reason: Array<string> = []
      if (a?.breakdown !== undefined) reason.push(`Where the time goes: ${breakdownSummary(a.breakdown)}.`)
      if (a?.profile !== undefined) {
        const areas = a.profile.byArea
          .slice(0, 5)
          .map((x) => `${x.area} ${(x.share * 100).toFixed(0)}%`)
          .join(", ")
        reason.push(`CPU profile by area: ${areas}.`)
      }
      if (ex !== undefined) reason.push(ex.reason)
      out.push(`**Reason.** ${reason.join(" ")}`)
      if (ex !== undefined) out.push("", `**What would close it.** ${ex.close}`)
      if (a?.breakdown !== undefined || a?.profile !== undefined) {
        out.push("", "<details><summary>Breakdown and profile</summary>", "")
        if (a.breakdown !== undefined) out.push(breakdownTable(a.breakdown), "")
        if (a.profile !== undefined) {
          out.push(r.id.startsWith("H") ? profileTables(a.profile, "(native: a Node binding or V8 builtin)") : profileTables(a.profile), "")
        }
        out.push("</details>")
      }
    }
  }
  out.push(
    "",
    "## Changes made alongside the harness",
    "",
    "Small, behaviour-preserving optimisations found while profiling (the queue's tests stay green):",
    "",
    "- `TaskRepository.expiredLeases` names `idx_tasks_lease_expiry` (`INDEXED BY`). Without statistics the planner " +
      "chose `idx_tasks_status_submitted` and read every RUNNING task on every claim, so claims slowed down as leases piled up.",
    "- `TaskRepository.statusCounts` names `idx_tasks_open_depth` for the deepest open task: one index lookup instead of " +
      'reading every open task. The W7 row "without INDEXED BY" shows what that query cost before.',
    "- `TaskRepository.transaction` / `read` reuse one better-sqlite3 transaction function instead of building a new " +
      "`db.transaction(f)` (and its wrappers) on every operation.",
    "- The queue's `transition` (Status.ts) writes the refreshed priority of a task entering READY or BLOCKED in the same UPDATE as the " +
      "state change: one statement where there were two (W5: 1,001 task UPDATEs per completion instead of 2,001)."
  )
  out.push(
    "",
    "## Reproducing",
    "",
    "`pnpm bench` builds the harness and its workspace dependencies and runs every workload (several minutes), then " +
      "writes this file. `node bench/dist/main.js --only peers` runs only the comparison with plainjob and the bare job table (three workloads, median of 3 each, about a minute at `--quick`, several at full size); `node bench/dist/main.js --only W3,W4` runs some workloads; `--quick` runs every size 10× smaller " +
      "as a smoke test; `--analyze` adds the breakdown and CPU profile to every workload, not only the missed ones; " +
      "`--no-analysis` skips them. Partial and quick runs print to the console and write this file only with `--out FILE`. " +
      "`node bench/dist/main.js --only H1,H2` runs the HTTP workloads (it builds `apps/server` first; `--no-server-build` " +
      "uses the existing `dist/`)."
  )
  return `${out.join("\n")}\n`
}
