/** The console tables printed as the run goes. */
import type { Breakdown, CpuProfileSummary, PeerRow, WorkloadResult } from "./types.js"
import { fmtInt, fmtMs } from "./util.js"

const COLUMNS = ["metric", "abathur", "floor", "ratio", "target", "verdict"] as const
const HEADERS = ["metric", "Abathur", "floor", "ratio", "target", ""]

/** Abathur / plainjob and Abathur / bare first, then the same-schema floor and the rates. */
export const PEER_HEADERS = [
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

export const peerCells = (p: PeerRow): Array<string> => [
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

/** A workload's title, setup, table (columns padded to their widest cell) and notes. */
const printTable = (r: WorkloadResult, headers: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>, notes: ReadonlyArray<string>) => {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)))
  const line = (cells: ReadonlyArray<string>) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join("  ")
      .trimEnd()
  console.log(`\n${r.id}  ${r.title}  (${fmtMs(r.elapsedMs)})`)
  console.log(`    ${r.setup}`)
  console.log(`  ${line(headers)}`)
  for (const row of rows) console.log(`  ${line(row)}`)
  for (const note of notes) console.log(`  · ${note}`)
}

export const printResult = (r: WorkloadResult): void => {
  if (r.peers !== undefined) {
    printTable(r, PEER_HEADERS, r.peers.map(peerCells), [...r.peers.map((p) => `${p.workload}: ${p.how}`), ...r.notes])
    return
  }
  const rows = r.rows.map((row) => COLUMNS.map((c) => (c === "verdict" && row.verdict === "INFO" ? "" : row[c])))
  printTable(r, HEADERS, rows, r.notes)
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
