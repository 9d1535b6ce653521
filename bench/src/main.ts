/**
 * Abathur's benchmark harness: workloads W1-W7 and peak memory, each against a plain
 * better-sqlite3 floor measured in the same run, and H1-H2 over HTTP against a bare node:http
 * floor. Not a test: never part of CI.
 *
 *   node bench/dist/main.js [--only PEERS,W3,W4,H1] [--quick] [--analyze | --no-analysis] [--no-server-build] [--out FILE]
 *
 * Each workload runs in a fresh child process (this file with --child), so one workload's
 * heap and caches do not colour the next one's figures. The H workloads start abathur-server
 * (apps/server/dist, built first) as a further child process.
 */
import { fork } from "node:child_process"
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { printAnalysis, printResult } from "./console.js"
import { describeMachine, describeProbe, probe } from "./machine.js"
import { renderMarkdown } from "./report.js"
import type { Breakdown, CpuProfileSummary, RunOptions, WorkloadResult } from "./types.js"
import { buildServer, profileBuildDir } from "./http.js"
import { fmtMs, tempDir } from "./util.js"
import { w3, w4 } from "./workloads/claim.js"
import { Ctx } from "./workloads/common.js"
import { w5 } from "./workloads/complete.js"
import { w6 } from "./workloads/edges.js"
import { mem, memoryChild, type MemoryMode } from "./workloads/memory.js"
import { h1, h2 } from "./workloads/http.js"
import { peers } from "./workloads/peers.js"
import { w7 } from "./workloads/reads.js"
import { w1, w2 } from "./workloads/submit.js"

const WORKLOADS: Record<string, (ctx: Ctx) => Promise<WorkloadResult>> = {
  PEERS: peers,
  W1: w1,
  W2: w2,
  W3: w3,
  W4: w4,
  W5: w5,
  W6: w6,
  W7: w7,
  MEM: mem,
  H1: h1,
  H2: h2
}
const ALL = Object.keys(WORKLOADS)
/** Workloads whose analysis runs at the quick size (their full set-up is long). */
const ANALYSE_QUICK = new Set(["W1", "W3", "W4", "W6", "H1", "H2"])
/** Workloads over HTTP: they need the server built; their analysis is a CPU profile of the server process only. */
const HTTP = new Set(["H1", "H2"])

const HERE = fileURLToPath(import.meta.url)
const ROOT = resolve(dirname(HERE), "..", "..")

interface Args {
  readonly only: ReadonlyArray<string>
  readonly quick: boolean
  readonly analysis: "missed" | "all" | "none"
  readonly out: string | undefined
  readonly serverBuild: boolean
  readonly child: string | undefined
  readonly breakdown: boolean
  readonly cpuProfile: boolean
  readonly sharedDir: string | undefined
  readonly memChild: { mode: MemoryMode; file: string } | undefined
}

const usage =
  "usage: node bench/dist/main.js [--only PEERS,W1,W2,...,W7,MEM,H1,H2] [--quick] [--analyze | --no-analysis] [--no-server-build] [--out FILE]"

const parseArgs = (argv: ReadonlyArray<string>): Args => {
  let only: Array<string> = ALL
  let quick = false
  let analysis: Args["analysis"] = "missed"
  let out: string | undefined
  let serverBuild = true
  let child: string | undefined
  let breakdown = false
  let cpuProfile = false
  let sharedDir: string | undefined
  let memChild: Args["memChild"]
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    const value = () => {
      const v = argv[++i]
      if (v === undefined) throw new Error(`${a} needs a value\n${usage}`)
      return v
    }
    if (a === "--only") {
      only = value()
        .split(",")
        .map((s) => s.trim().toUpperCase())
        .filter((s) => s !== "")
      const unknown = only.filter((w) => !(w in WORKLOADS))
      if (unknown.length > 0) throw new Error(`unknown workload ${unknown.join(", ")}: use ${ALL.join(", ")}\n${usage}`)
    } else if (a === "--quick") quick = true
    else if (a === "--analyze") analysis = "all"
    else if (a === "--no-analysis") analysis = "none"
    else if (a === "--out") out = resolve(value())
    else if (a === "--no-server-build") serverBuild = false
    else if (a === "--child") child = value()
    else if (a === "--breakdown") breakdown = true
    else if (a === "--cpu-profile") cpuProfile = true
    else if (a === "--shared") sharedDir = value()
    else if (a === "--mem-child") memChild = { mode: value() as MemoryMode, file: value() }
    else if (a === "--help" || a === "-h") {
      console.log(usage)
      process.exit(0)
    } else throw new Error(`unknown option ${a}\n${usage}`)
  }
  return { only: ALL.filter((w) => only.includes(w)), quick, analysis, out, serverBuild, child, breakdown, cpuProfile, sharedDir, memChild }
}

/** Runs one workload in a fresh child process and returns its result. */
const runInChild = (id: string, options: RunOptions): Promise<WorkloadResult> =>
  new Promise((resolvePromise, reject) => {
    const args = ["--child", id, "--shared", options.sharedDir]
    if (options.quick) args.push("--quick")
    if (options.breakdown) args.push("--breakdown")
    if (options.cpuProfile) args.push("--cpu-profile")
    const child = fork(HERE, args, { execArgv: ["--expose-gc", "--max-old-space-size=4096"] })
    let result: WorkloadResult | undefined
    child.on("message", (m) => (result = m as WorkloadResult))
    child.on("error", reject)
    child.on("exit", (code) => (result !== undefined ? resolvePromise(result) : reject(new Error(`workload ${id} failed (exit code ${code})`))))
  })

const send = (message: unknown): Promise<void> =>
  new Promise((resolvePromise, reject) => process.send!(message, undefined, {}, (error: Error | null) => (error ? reject(error) : resolvePromise())))

const main = async (): Promise<void> => {
  const args = parseArgs(process.argv.slice(2))
  if (args.memChild !== undefined) {
    await send(await memoryChild(args.memChild.mode, args.memChild.file))
    process.exit(0)
  }
  if (args.child !== undefined) {
    const options: RunOptions = {
      quick: args.quick,
      sharedDir: args.sharedDir ?? tempDir().dir,
      breakdown: args.breakdown,
      cpuProfile: args.cpuProfile
    }
    await send(await WORKLOADS[args.child]!(new Ctx(options)))
    process.exit(0)
  }

  const started = performance.now()
  const date = new Date()
  const machine = describeMachine()
  const command = ["pnpm bench", ...process.argv.slice(2)].join(" ")
  console.log(`Abathur benchmarks: ${machine.cpu}, ${machine.cores} cores, ${machine.memory}, Node ${machine.node}, SQLite ${machine.sqlite}`)
  if (args.quick) console.log("Quick run: sizes 10× smaller; the targets assume the full sizes.")
  const before = probe()
  console.log(`machine: ${describeProbe(before)} (a quiet machine does ~115k/s)`)
  const shared = tempDir("abathur-bench-run-")
  const results: Array<WorkloadResult> = []
  const analysis = new Map<string, { breakdown?: Breakdown | undefined; profile?: CpuProfileSummary | undefined }>()
  if (args.serverBuild && args.only.some((id) => HTTP.has(id))) {
    // `pnpm bench` builds the harness's dependencies only; the H workloads run the server's dist/.
    console.log("building abathur-server (apps/server/dist) for the HTTP workloads")
    buildServer()
  }
  let profileBuild = false
  try {
    for (const id of args.only) {
      const result = await runInChild(id, { quick: args.quick, sharedDir: shared.dir, breakdown: false, cpuProfile: false })
      results.push(result)
      printResult(result)
    }
    const toAnalyse = results.filter(
      (r) =>
        r.id !== "MEM" && r.id !== "PEERS" && (args.analysis === "all" || (args.analysis === "missed" && r.rows.some((x) => x.verdict === "MISS")))
    )
    for (const r of toAnalyse) {
      const quick = args.quick || ANALYSE_QUICK.has(r.id)
      const base = { quick, sharedDir: shared.dir }
      if (HTTP.has(r.id)) {
        // The profile is of the server process: an unminified build, so that frames name their modules.
        if (!profileBuild) {
          console.log("\nbuilding an unminified abathur-server for its CPU profile")
          buildServer({ outdir: profileBuildDir(), minify: false })
          profileBuild = true
        }
        const p = await runInChild(r.id, { ...base, breakdown: false, cpuProfile: true })
        analysis.set(r.id, { profile: p.profile })
        printAnalysis(r.id, undefined, p.profile)
        continue
      }
      const b = await runInChild(r.id, { ...base, breakdown: true, cpuProfile: false })
      const p = await runInChild(r.id, { ...base, breakdown: false, cpuProfile: true })
      analysis.set(r.id, { breakdown: b.breakdown, profile: p.profile })
      printAnalysis(r.id, b.breakdown, p.profile)
    }
  } finally {
    shared.cleanup()
  }
  const after = probe()
  console.log(`\nmachine after the run: ${describeProbe(after)}`)
  const totalMs = performance.now() - started
  const full = !args.quick && args.only.length === ALL.length
  const out = args.out ?? (full ? join(ROOT, "BENCHMARKS.md") : undefined)
  if (out !== undefined) {
    // Keep the sections that other scripts measure (CLI start-up, the worker pool).
    const marker = "<!-- Sections below this line are measured by other scripts; pnpm bench keeps them. -->"
    const previous = existsSync(out) ? readFileSync(out, "utf8") : ""
    const kept = previous.includes(marker) ? `\n\n${previous.slice(previous.indexOf(marker))}` : ""
    writeFileSync(
      out,
      renderMarkdown({ machine, date, command, quick: args.quick, totalMs, probes: { before, after }, results, analysis }).trimEnd() +
        kept +
        (kept === "" ? "\n" : "")
    )
    console.log(`\nwrote ${out}`)
  } else {
    console.log("\n(partial or quick run: BENCHMARKS.md left as it is; pass --out FILE to write a report)")
  }
  console.log(`done in ${fmtMs(totalMs)}`)
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error)
  process.exit(1)
})
