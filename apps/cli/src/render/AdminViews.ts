/** Views of operators' actions: `cancel`, `retry`, `recover`, `prune`, `deps add` and `deps remove`. */
import type { Task } from "@abathur/domain"
import type { TaskDetail } from "@abathur/queue"
import { namesOf } from "../CliQueue.js"
import type { Colors } from "../Terminal.js"
import { idList, oneLine, plural, status } from "./Text.js"

export const cancelled = (c: Colors, r: { task: Task; cancelled: ReadonlyArray<string> }): string =>
  [
    `${c.yellow("Cancelled")} ${r.task.id}  ${oneLine(r.task.summary)}`,
    ...(r.cancelled.length > 0
      ? [`  and ${plural(r.cancelled.length, "task")} that depended on it or sat below it:`, idList(c, r.cancelled, "    ", namesOf(r))]
      : [])
  ].join("\n")

export const retried = (c: Colors, r: { task: Task; revived: ReadonlyArray<string> }): string =>
  [
    `${c.green("Retrying")} ${r.task.id}: now ${status(c, r.task.status)}`,
    ...(r.revived.length > 0 ? [`  ${plural(r.revived.length, "dependent task")} revived:`, idList(c, r.revived, "    ", namesOf(r))] : [])
  ].join("\n")

export const recovered = (c: Colors, ids: ReadonlyArray<string>): string =>
  ids.length === 0 ? c.dim("No expired leases.") : `${c.yellow("Recovered")} ${plural(ids.length, "expired lease")}:\n${idList(c, ids)}`

export const pruned = (c: Colors, r: { deleted: number; ids: ReadonlyArray<string> }, dryRun: boolean): string => {
  if (r.deleted === 0) return c.dim(dryRun ? "Nothing to prune." : "Nothing pruned.")
  const head = dryRun ? `${c.yellow("Would delete")} ${plural(r.deleted, "task")} (dry run)` : `${c.green("Deleted")} ${plural(r.deleted, "task")}`
  const shown = r.ids.slice(0, 20)
  return [head, idList(c, shown), ...(r.ids.length > shown.length ? [c.dim(`  … and ${r.ids.length - shown.length} more`)] : [])].join("\n")
}

export const dependencyAdded = (c: Colors, d: TaskDetail, prerequisiteId: string): string =>
  `${c.green("Added")}: ${d.id} now depends on ${d.prerequisites.find((p) => p.taskId.startsWith(prerequisiteId.trim().toLowerCase()))?.taskId ?? prerequisiteId}\n  ${status(c, d.status)}  ${c.dim(`${plural(d.prerequisites.length, "prerequisite")}, depth ${d.dependencyDepth}`)}`

export const dependencyRemoved = (c: Colors, d: TaskDetail, prerequisiteId: string): string =>
  `${c.green("Removed")}: ${d.id} no longer depends on ${prerequisiteId}\n  ${status(c, d.status)}  ${c.dim(`${plural(d.prerequisites.length, "prerequisite")} left, depth ${d.dependencyDepth}`)}`
