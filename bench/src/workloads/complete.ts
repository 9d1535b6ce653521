/**
 * W5: completing a task that unblocks its many dependents; and (W5h) completing the last open
 * subtask of a parent with as many dependents (the hierarchy rule: they wait for the parent's
 * whole subtree, so that completion unblocks them).
 */
import type { PlanInput } from "@abathur/domain"
import { aNode, Plans } from "@abathur/testing"
import { join } from "node:path"
import { copyGraph, floorComplete, iso, openFloor } from "../floor.js"
import { openQueue } from "../runtime.js"
import type { WorkloadResult } from "../types.js"
import { fmtInt, fmtMs, settle, stats, tempDir } from "../util.js"
import { type Ctx, infoRow, latencyRow } from "./common.js"

export const w5 = async (ctx: Ctx): Promise<WorkloadResult> => {
  const started = performance.now()
  const fan = ctx.size(1000)
  const reps = ctx.withFloor ? 7 : 3
  const { dir, cleanup } = tempDir()
  try {
    const file = join(dir, "abathur.db")
    const h = await openQueue(file, { meter: ctx.meter })
    // One fan-out per repetition (plus a warm-up); each root gets an agent type of its own.
    const roots: Array<string> = []
    for (let r = 0; r <= reps; r++) {
      const plan = Plans.fanOut(fan)
      const tasks = plan.tasks.map((t) => (t.key === "root" ? { ...t, agentType: `w5-root-${r}` } : t))
      const created = h.run(h.q.submitPlan({ tasks } as PlanInput)).tasks
      roots.push(created["root"]!.id)
    }
    // W5h: per repetition a parent with one subtask and the fan-out on the parent.
    const lasts: Array<string> = []
    for (let r = 0; r <= reps; r++) {
      const tasks = [
        aNode("parent", { agentType: `w5h-parent-${r}`, children: [aNode("last", { agentType: `w5h-last-${r}` })] }),
        ...Array.from({ length: fan }, (_, i) => aNode(`leaf${i}`, { dependsOn: ["parent"] }))
      ]
      const created = h.run(h.q.submitPlan({ tasks } as PlanInput)).tasks
      lasts.push(created["last"]!.id)
    }

    const fLat: Array<number> = []
    if (ctx.withFloor) {
      const db = openFloor(join(dir, "floor.db"))
      copyGraph(db, file)
      const start = db.prepare("UPDATE tasks SET status = 'running', started_at = ?, lease_token = ? WHERE id = ? AND status = 'ready'")
      const complete = floorComplete(db)
      for (let r = 0; r <= reps; r++) {
        start.run(iso(Date.now()), crypto.randomUUID(), roots[r])
        settle()
        const t0 = performance.now()
        const unblocked = complete(roots[r]!)
        if (r > 0) fLat.push(performance.now() - t0)
        if (unblocked.length !== fan) throw new Error(`floor: unblocked ${unblocked.length}, expected ${fan}`)
      }
      db.close()
    }

    const lat: Array<number> = []
    let unblockedOk = true
    const claimRoot = (r: number) => {
      const c = h.run(h.q.claim({ worker: "bench", agentType: `w5-root-${r}` }))
      if (c === null || c.id !== roots[r]) throw new Error("abathur: the root was not claimed")
      return c
    }
    const warm = claimRoot(0)
    h.run(h.q.complete(warm.id, { leaseToken: warm.leaseToken }))
    for (let r = 1; r <= reps; r++) {
      const c = claimRoot(r)
      let unblocked = 0
      lat.push(
        await ctx.measure("complete (1 task, unblocks its fan-out)", 1, () => {
          unblocked = ctx.call(() => h.run(h.q.complete(c.id, { leaseToken: c.leaseToken }))).unblocked.length
        })
      )
      if (unblocked !== fan) unblockedOk = false
    }
    // The parent completes first (its own part); its dependents still wait for the subtask.
    const hLat: Array<number> = []
    const claimAs = (agentType: string) => {
      const c = h.run(h.q.claim({ worker: "bench", agentType }))
      if (c === null) throw new Error(`abathur: nothing claimable as ${agentType}`)
      return c
    }
    for (let r = 0; r <= reps; r++) {
      const p = claimAs(`w5h-parent-${r}`)
      if (h.run(h.q.complete(p.id, { leaseToken: p.leaseToken })).unblocked.length !== 0) unblockedOk = false
      const c = claimAs(`w5h-last-${r}`)
      if (c.id !== lasts[r]) throw new Error("abathur: the subtask was not claimed")
      let unblocked = 0
      const run = () => {
        unblocked = ctx.call(() => h.run(h.q.complete(c.id, { leaseToken: c.leaseToken }))).unblocked.length
      }
      if (r === 0) run()
      else hLat.push(await ctx.measure("complete (last subtask, unblocks its parent's fan-out)", 1, run))
      if (unblocked !== fan) unblockedOk = false
    }
    await h.dispose()

    const a = stats(lat)
    const f = stats(fLat)
    const hs = stats(hLat)
    return {
      id: "W5",
      title: `Complete a task that unblocks ${fmtInt(fan)} dependents`,
      setup: `${reps} fan-outs of 1 root + ${fmtInt(fan)} dependents (plus one warm-up), each root claimed then completed; floor: UPDATE the root, UPDATE ... RETURNING the resolved edges, one guarded UPDATE per dependent, one transaction`,
      rows: [
        latencyRow("complete p50", a.p50, f.p50, { max: 10, label: "≤ 10 ms (p50)" }),
        latencyRow("complete max", a.max, f.max),
        infoRow("each run", lat.map(fmtMs).join(", "), fLat.map(fmtMs).join(", ")),
        latencyRow(`last subtask of a parent with ${fmtInt(fan)} dependents unblocks them, p50`, hs.p50, f.p50, {
          max: 1.5 * a.p50,
          label: "≤ 1.5 × W5 p50"
        }),
        infoRow("last subtask, each run", hLat.map(fmtMs).join(", "), "—", a.p50 > 0 ? `${(hs.p50 / a.p50).toFixed(2)}× W5` : "—")
      ],
      notes: unblockedOk ? [] : ["warning: a completion did not unblock every dependent"],
      ...ctx.analysis,
      elapsedMs: performance.now() - started
    }
  } finally {
    cleanup()
  }
}
