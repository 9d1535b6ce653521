/** MEM: peak memory of a process that opens the million-task database through the service. */
import { fork } from "node:child_process"
import { fileURLToPath } from "node:url"
import { floorClaim, floorComplete, openFloor } from "../floor.js"
import { openQueue } from "../runtime.js"
import type { WorkloadResult } from "../types.js"
import { fmtInt, fmtMB, fmtMs } from "../util.js"
import { type Ctx, infoRow, verdict } from "./common.js"
import { longLivedDatabase } from "./reads.js"

export type MemoryMode = "abathur" | "floor" | "bare"

export interface MemoryReport {
  readonly mode: MemoryMode
  readonly maxRssBytes: number
  readonly heapUsedBytes: number
  readonly completed: number
  readonly ms: number
}

const CLAIMS = 5

/** Runs in the child process: the operations, then the peak resident set size. */
export const memoryChild = async (mode: MemoryMode, file: string): Promise<MemoryReport> => {
  const t0 = performance.now()
  let completed = 0
  if (mode === "abathur") {
    const h = await openQueue(file)
    h.run(h.q.status())
    for (let i = 0; i < CLAIMS; i++) {
      const c = h.run(h.q.claim({ worker: "memory" }))
      if (c === null) break
      h.run(h.q.complete(c.id, { leaseToken: c.leaseToken }))
      completed++
    }
    h.run(h.q.status())
    await h.dispose()
  } else if (mode === "floor") {
    const db = openFloor(file)
    db.prepare("SELECT status, task_count, priority_sum FROM task_stats").all()
    const claim = floorClaim(db)
    const complete = floorComplete(db)
    for (let i = 0; i < CLAIMS; i++) {
      const id = claim()
      if (id === null) break
      complete(id)
      completed++
    }
    db.close()
  }
  return {
    mode,
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
    heapUsedBytes: process.memoryUsage().heapUsed,
    completed,
    ms: performance.now() - t0
  }
}

const runChild = (mode: MemoryMode, file: string): Promise<MemoryReport> =>
  new Promise((resolve, reject) => {
    const main = fileURLToPath(new URL("../main.js", import.meta.url))
    const child = fork(main, ["--mem-child", mode, file], { execArgv: [], stdio: ["ignore", "inherit", "inherit", "ipc"] })
    let report: MemoryReport | undefined
    child.on("message", (m) => (report = m as MemoryReport))
    child.on("error", reject)
    child.on("exit", (code) => (report !== undefined ? resolve(report) : reject(new Error(`memory child ${mode} exited with ${code}`))))
  })

export const mem = async (ctx: Ctx): Promise<WorkloadResult> => {
  const started = performance.now()
  const n = ctx.size(1_000_000)
  const seeded = longLivedDatabase(ctx.options.sharedDir, n)
  const notes: Array<string> = []
  if (seeded.seededMs !== null) notes.push(`seeded ${fmtInt(n)} tasks with plain SQL in ${fmtMs(seeded.seededMs)}`)
  const bare = await runChild("bare", seeded.file)
  const floor = await runChild("floor", seeded.file)
  const abathur = await runChild("abathur", seeded.file)
  notes.push(
    `each figure is process.resourceUsage().maxRSS of a fresh child process (no flags) that loads the harness's modules; "bare" opens nothing; the others open the ${fmtInt(n)}-task file, read the status and claim + complete ${abathur.completed} tasks (${fmtMs(abathur.ms)} for Abathur, ${fmtMs(floor.ms)} for the floor)`
  )
  return {
    id: "MEM",
    title: `Peak memory with ${fmtInt(n)} tasks stored`,
    setup: `child process opens the ${fmtInt(n)}-task database through the service (ManagedRuntime), runs status, claims and completes ${abathur.completed}, status again`,
    rows: [
      {
        metric: "max RSS",
        abathur: fmtMB(abathur.maxRssBytes),
        floor: fmtMB(floor.maxRssBytes),
        ratio: `${(abathur.maxRssBytes / floor.maxRssBytes).toFixed(2)}× floor`,
        target: "≤ 200 MB",
        verdict: verdict(abathur.maxRssBytes <= 200 * 1024 * 1024)
      },
      infoRow("max RSS of the same process opening nothing", fmtMB(bare.maxRssBytes)),
      infoRow("JS heap used at the end", fmtMB(abathur.heapUsedBytes), fmtMB(floor.heapUsedBytes))
    ],
    notes,
    elapsedMs: performance.now() - started
  }
}
