/** Views of a lease's life: `next`, `heartbeat`, `complete`, `fail`, `release`. */
import type { ClaimedTask, CompleteResult, Task } from "@abathur/domain"
import { namesOf } from "../CliQueue.js"
import type { Colors } from "../Terminal.js"
import { idList, oneLine, plural, score, status } from "./Text.js"

/** `next`: the claimed task and how to report on it. */
export const claimed = (c: Colors, task: ClaimedTask | null): string => {
  if (task === null) return c.dim("Nothing is ready to claim.")
  return [
    `${c.green("Claimed")} ${task.id}  ${score(c, task.calculatedPriority)}`,
    `  ${c.bold(oneLine(task.summary))}`,
    `  ${c.dim("lease token")}  ${task.leaseToken}`,
    `  ${c.dim("expires")}      ${task.leaseExpiresAt}`,
    "",
    c.dim(`  abathur complete ${task.id} --lease-token ${task.leaseToken} --result '{"ok": true}'`),
    c.dim(`  abathur fail ${task.id} --lease-token ${task.leaseToken} --error "what went wrong"`)
  ].join("\n")
}

export const heartbeat = (c: Colors, task: ClaimedTask): string =>
  `${c.green("Lease extended")} ${task.id} until ${task.leaseExpiresAt}\n  ${c.dim("lease token")} ${task.leaseToken}`

export const completed = (c: Colors, r: CompleteResult): string =>
  [
    `${c.green("Completed")} ${r.task.id}  ${oneLine(r.task.summary)}`,
    ...(r.unblocked.length > 0 ? [`  ${plural(r.unblocked.length, "task")} now ready:`, idList(c, r.unblocked, "    ", namesOf(r))] : []),
    ...(r.next === undefined ? [] : ["", claimed(c, r.next)])
  ].join("\n")

/** `next --limit N`: every task claimed, or the line for none. */
export const claimedMany = (c: Colors, tasks: ReadonlyArray<ClaimedTask>): string =>
  tasks.length === 0 ? claimed(c, null) : tasks.map((t) => claimed(c, t)).join("\n\n")

export const failed = (c: Colors, r: { task: Task; retried: boolean; cancelled: ReadonlyArray<string> }): string =>
  r.retried
    ? `${c.yellow("Failed an attempt of")} ${r.task.id}: back to ready (retry ${r.task.retryCount} of ${r.task.maxRetries})`
    : [
        `${c.red("Failed")} ${r.task.id}: no retries left`,
        ...(r.cancelled.length > 0
          ? [`  ${plural(r.cancelled.length, "dependent task")} cancelled:`, idList(c, r.cancelled, "    ", namesOf(r))]
          : [])
      ].join("\n")

export const released = (c: Colors, task: Task): string =>
  `${c.green("Released")} ${task.id}: back to ${status(c, task.status)} (retry count ${task.retryCount} of ${task.maxRetries})`
