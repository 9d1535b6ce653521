/** Views of the whole queue: `status`, `plan`, `tree`. */
import { type ExecutionPlan, type QueueStatus, type Task, TaskStatuses } from "@abathur/domain"
import type { TreeNode } from "@abathur/queue"
import type { Colors } from "../Terminal.js"
import { taskLine } from "./TaskViews.js"
import { ago, oneLine, plural, score, status, statusColor, statusMarks, truncate } from "./Text.js"

/** `status`: a compact dashboard. */
export const dashboard = (c: Colors, s: QueueStatus, db: string, now: number, width: number | null): string => {
  const open = s.byStatus.pending + s.byStatus.blocked + s.byStatus.ready + s.byStatus.running
  const lines = [`${c.bold("Abathur queue")}  ${c.dim(db)}`, ""]
  const cells = TaskStatuses.map((st) => {
    const n = s.byStatus[st]
    const label = status(c, st)
    return `${label} ${n === 0 ? c.dim("0") : c.bold(String(n))}`
  })
  lines.push(`  ${cells.slice(0, 4).join("   ")}`)
  lines.push(`  ${cells.slice(4).join("   ")}`)
  // A bar of the shares of each status.
  const barWidth = Math.max(10, Math.min(60, (width ?? 80) - 4))
  if (s.total > 0) {
    let bar = ""
    let used = 0
    TaskStatuses.forEach((st, i) => {
      const n = s.byStatus[st]
      const cells = i === TaskStatuses.length - 1 ? barWidth - used : Math.round((n / s.total) * barWidth)
      const w = Math.max(0, Math.min(cells, barWidth - used))
      used += w
      bar += statusColor(c, st)(c.isColorSupported ? "█".repeat(w) : statusMarks[st].repeat(w))
    })
    lines.push(`  ${bar}`)
  }
  lines.push("")
  lines.push(
    `  ${c.dim("total")} ${s.total}   ${c.dim("open")} ${open}   ${c.dim("done")} ${s.byStatus.completed + s.byStatus.failed + s.byStatus.cancelled}`
  )
  lines.push(
    `  ${c.dim("avg priority")} ${s.avgPriority === null ? c.dim("-") : score(c, s.avgPriority)}   ${c.dim("max depth")} ${s.maxDepth ?? c.dim("-")}   ${c.dim("oldest waiting")} ${s.oldestWaitingAt === null ? c.dim("-") : `${ago(s.oldestWaitingAt, now)} ${c.dim(`(${s.oldestWaitingAt})`)}`}`
  )
  return lines.join("\n")
}

/** `plan`: the batches, each a set of tasks that can run side by side. */
export const plan = (c: Colors, p: ExecutionPlan, tasks: ReadonlyMap<string, Task>, width: number | null): string => {
  if (p.totalBatches === 0) return c.dim("Nothing open: no batches to run.")
  const lines = [`${c.bold(plural(p.totalBatches, "batch").replace("batchs", "batches"))} ${c.dim(`at most ${p.maxParallelism} in parallel`)}`]
  const summaryWidth = width === null ? 10_000 : Math.max(16, width - 60)
  p.batches.forEach((batch, i) => {
    lines.push("")
    lines.push(`${c.bold(`Batch ${i + 1}`)} ${c.dim(`(${plural(batch.length, "task")})`)}`)
    for (const id of batch) {
      const t = tasks.get(id)
      lines.push(
        t === undefined
          ? `  ${id}`
          : `  ${status(c, t.status).padEnd(c.isColorSupported ? 0 : 11)} ${c.dim(id)}  ${truncate(oneLine(t.summary), summaryWidth)}`
      )
    }
  })
  return lines.join("\n")
}

/** `tree`: the hierarchy drawn with box characters. */
export const tree = (c: Colors, roots: ReadonlyArray<TreeNode>): string => {
  if (roots.length === 0) return c.dim("No tasks.")
  const lines: Array<string> = []
  const walk = (node: TreeNode, prefix: string, last: boolean, top: boolean) => {
    lines.push(`${top ? "" : prefix + (last ? "└─ " : "├─ ")}${taskLine(c, node.task, node.subtree)}`)
    const childPrefix = top ? "" : prefix + (last ? "   " : "│  ")
    node.children.forEach((child, i) => {
      walk(child, childPrefix, i === node.children.length - 1, false)
    })
  }
  for (const root of roots) walk(root, "", true, true)
  return lines.join("\n")
}
