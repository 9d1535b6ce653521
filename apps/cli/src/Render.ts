import {
  type ClaimedTask,
  type CompleteResult,
  type ExecutionPlan,
  type PriorityFactor,
  PriorityFactors,
  type QueueStatus,
  SourceScores,
  type Task,
  type TaskStatus,
  TaskStatuses
} from "@abathur/domain"
import type { TaskDetail, TaskSummary, TreeNode } from "@abathur/queue"
import { namesOf } from "./CliQueue.js"
import type { Colors } from "./Terminal.js"

/**
 * Output for people: aligned tables, trees and a dashboard. Colour comes from `Colors`
 * (identity functions when stdout is not a terminal), so the same text reads well piped.
 */

const statusColor = (c: Colors, status: TaskStatus): ((s: string) => string) => {
  switch (status) {
    case "ready":
      return c.green
    case "running":
      return c.cyan
    case "blocked":
      return c.yellow
    case "pending":
      return c.gray
    case "completed":
      return (s) => c.dim(c.green(s))
    case "failed":
      return c.red
    case "cancelled":
      return c.dim
  }
}

const statusMarks: Readonly<Record<TaskStatus, string>> = {
  pending: "○",
  blocked: "◌",
  ready: "●",
  running: "▶",
  completed: "✔",
  failed: "✘",
  cancelled: "⊘"
}

export const status = (c: Colors, s: TaskStatus): string => statusColor(c, s)(`${statusMarks[s]} ${s}`)

/** A calculated priority, coloured by band (70+ hot, 40+ warm). */
export const score = (c: Colors, value: number): string => {
  const text = value.toFixed(1)
  return value >= 70 ? c.bold(c.red(text)) : value >= 40 ? c.yellow(text) : c.dim(text)
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`

/** `42s`, `5m`, `3h`, `2d`: a short duration. */
export const duration = (ms: number): string => {
  const s = Math.max(0, Math.round(ms / 1000))
  if (s < 60) return `${s}s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m}m${s % 60 > 0 && m < 10 ? `${s % 60}s` : ""}`
  const h = Math.floor(m / 60)
  if (h < 48) return `${h}h${m % 60 > 0 && h < 10 ? `${m % 60}m` : ""}`
  return `${Math.floor(h / 24)}d`
}

export const ago = (iso: string | null, now: number): string => {
  if (iso === null) return "-"
  const t = Date.parse(iso)
  return Number.isNaN(t) ? iso : t <= now ? `${duration(now - t)} ago` : `in ${duration(t - now)}`
}

const truncate = (s: string, max: number): string => (max <= 1 ? s.slice(0, Math.max(0, max)) : s.length > max ? `${s.slice(0, max - 1)}…` : s)

const oneLine = (s: string) => s.replace(/\s+/g, " ").trim()

const ansi = /\u001b\[[0-9;]*m/g

/** Columns a character takes on a terminal: 2 for wide (CJK, emoji), 0 for combining marks. */
const charWidth = (cp: number): number =>
  (cp >= 0x0300 && cp <= 0x036f) || cp === 0x200d || (cp >= 0xfe00 && cp <= 0xfe0f)
    ? 0
    : (cp >= 0x1100 && cp <= 0x115f) ||
        (cp >= 0x2e80 && cp <= 0xa4cf) ||
        (cp >= 0xac00 && cp <= 0xd7a3) ||
        (cp >= 0xf900 && cp <= 0xfaff) ||
        (cp >= 0xfe30 && cp <= 0xfe4f) ||
        (cp >= 0xff00 && cp <= 0xff60) ||
        (cp >= 0xffe0 && cp <= 0xffe6) ||
        (cp >= 0x1f300 && cp <= 0x1faff) ||
        (cp >= 0x20000 && cp <= 0x3fffd)
      ? 2
      : 1

/** The width of a cell on a terminal (colour codes take none). */
export const visibleWidth = (s: string): number => {
  const plain = s.includes("\u001b") ? s.replace(ansi, "") : s
  let w = 0
  for (const ch of plain) w += charWidth(ch.codePointAt(0)!)
  return w
}

/**
 * A borderless table whose columns line up, piped or not. Linear in the number of cells: `list`
 * prints 100,000 rows in well under a second (cli-table3 takes about 1.5 ms a row).
 */
interface Columns {
  readonly push: (row: ReadonlyArray<string>) => void
  readonly rows: Array<ReadonlyArray<string>>
  readonly head: ReadonlyArray<string>
  readonly align: ReadonlyArray<"left" | "right"> | undefined
}

const table = (head: Array<string>, c: Colors, align?: Array<"left" | "right">): Columns => {
  const rows: Array<ReadonlyArray<string>> = []
  return { head: head.map((h) => c.bold(h)), rows, align, push: (row) => void rows.push(row) }
}

const render = (t: Columns): string => {
  const all = [t.head, ...t.rows]
  const widths = all.map((row) => row.map(visibleWidth))
  const max: Array<number> = []
  for (const row of widths)
    row.forEach((w, i) => {
      max[i] = Math.max(max[i] ?? 0, w)
    })
  const last = max.length - 1
  return all
    .map((row, r) =>
      row
        .map((cell, i) => {
          const pad = " ".repeat(Math.max(0, max[i]! - widths[r]![i]!))
          return t.align?.[i] === "right" ? pad + cell : i === last ? cell : cell + pad
        })
        .join("  ")
        .trimEnd()
    )
    .join("\n")
}

/** `list`: one row per task. */
export const taskTable = (c: Colors, tasks: ReadonlyArray<Task>, now: number, width: number | null): string => {
  if (tasks.length === 0) return c.dim("No tasks match.")
  // Widths of every column but the summary, with their separators.
  const fixed = 36 + 2 + 12 + 2 + 3 + 2 + 5 + 2 + 20 + 2 + 8 + 2
  const summaryWidth = width === null ? 10_000 : Math.max(16, width - fixed)
  const t = table(["ID", "STATUS", "PRI", "SCORE", "SOURCE", "AGE", "SUMMARY"], c, ["left", "left", "right", "right", "left", "right", "left"])
  for (const task of tasks) {
    t.push([
      c.dim(task.id),
      status(c, task.status),
      String(task.priority),
      score(c, task.calculatedPriority),
      task.source,
      ago(task.submittedAt, now).replace(" ago", ""),
      truncate(oneLine(task.summary), summaryWidth) + stalls(c, task)
    ])
  }
  return `${render(t)}\n${c.dim(plural(tasks.length, "task"))}`
}

/** ` (stalled N×)` after a task whose workers stopped reporting (expired leases), else nothing. */
const stalls = (c: Colors, task: Task): string => (task.stallCount > 0 ? c.yellow(` (stalled ${task.stallCount}×)`) : "")

/** `, N of M subtasks open` for a finished task whose subtree still runs, else nothing. */
const openBelow = (task: Task, subtree: { readonly total: number; readonly open: number } | undefined): string =>
  subtree !== undefined && subtree.open > 0 && (task.status === "completed" || task.status === "failed" || task.status === "cancelled")
    ? `, ${subtree.open} of ${plural(subtree.total, "subtask")} open`
    : ""

/** One line about a task: mark, summary, status, score and id. */
export const taskLine = (c: Colors, task: Task, subtree?: { readonly total: number; readonly open: number }): string =>
  `${statusColor(c, task.status)(statusMarks[task.status])} ${c.bold(oneLine(task.summary))}  ${c.dim(`[${task.status}${openBelow(task, subtree)}]`)} ${score(c, task.calculatedPriority)}  ${c.dim(task.id)}`

/** `submit`: the new task (or, for a repeated idempotency key, the task submitted first). */
export const submitted = (c: Colors, task: Task, created = true): string =>
  `${created ? c.green("Submitted") : c.yellow("Already submitted")} ${task.id}  ${status(c, task.status)}  score ${score(c, task.calculatedPriority)}\n  ${oneLine(task.summary)}` +
  (created ? "" : `\n  ${c.dim(`idempotency key ${JSON.stringify(task.idempotencyKey)}: nothing new was created`)}`) +
  (task.notBefore !== null && created ? `\n  ${c.dim(`not before ${task.notBefore}`)}` : "")

/** `submit --file`: the plan's tasks by key. */
export const submittedPlan = (c: Colors, tasks: Readonly<Record<string, Task>>, width: number | null, created = true): string => {
  const entries = Object.entries(tasks)
  const t = table(["KEY", "ID", "STATUS", "SCORE", "SUMMARY"], c, ["left", "left", "left", "right", "left"])
  const keyWidth = Math.min(24, Math.max(3, ...entries.map(([k]) => k.length)))
  const summaryWidth = width === null ? 10_000 : Math.max(16, width - (keyWidth + 2 + 36 + 2 + 12 + 2 + 5 + 2))
  for (const [key, task] of entries) {
    t.push([
      truncate(key, keyWidth),
      c.dim(task.id),
      status(c, task.status),
      score(c, task.calculatedPriority),
      truncate(oneLine(task.summary), summaryWidth)
    ])
  }
  const head = created ? c.green("Submitted a plan of") : c.yellow("Already submitted (same idempotency key): a plan of")
  return `${head} ${plural(entries.length, "task")}\n${render(t)}`
}

const explain = (factor: PriorityFactor, task: TaskDetail, value: number, now: number): string => {
  switch (factor) {
    case "base":
      return `submitted priority ${task.priority} of 10`
    case "urgency": {
      if (task.deadline === null) return "no deadline"
      const left = Date.parse(task.deadline) - now
      const estimate = task.estimatedDurationSeconds === null ? "" : `, estimate ${duration(task.estimatedDurationSeconds * 1000)}`
      if (left <= 0) return `deadline passed ${duration(-left)} ago`
      return value >= 100 ? `due in ${duration(left)}: no slack left${estimate}` : `due in ${duration(left)}${estimate}`
    }
    case "dependency": {
      // The inverse of 33.33 x log10(1 + n).
      const n = Math.round(10 ** ((value * 3) / 100) - 1)
      return value >= 100
        ? "999+ open tasks wait on it"
        : n === 0
          ? "no open task waits on it"
          : `${plural(n, "open task")} wait${n === 1 ? "s" : ""} on it`
    }
    case "starvation": {
      const waited = now - Date.parse(task.submittedAt)
      const horizon = duration(task.priorityExplanation.starvationHorizonSeconds * 1000)
      return value >= 100 ? `waited ${duration(waited)}, past the ${horizon} horizon` : `waited ${duration(waited)} of the ${horizon} horizon`
    }
    case "source":
      return `source ${task.source} (${Object.entries(SourceScores)
        .map(([k, v]) => `${k.replace("agent_", "")} ${v}`)
        .join(", ")})`
  }
}

/** `show`: the task, its links, and its priority explained factor by factor. */
export const detail = (c: Colors, task: TaskDetail, now: number): string => {
  const lines: Array<string> = []
  const kv = (k: string, v: string) => lines.push(`  ${c.dim(k.padEnd(13))}${v}`)
  lines.push(`${c.bold(oneLine(task.summary))}`)
  lines.push(`  ${status(c, task.status)}  ${c.dim("id")} ${task.id}`)
  lines.push("")
  const prompt = task.prompt.trimEnd().split(/\r?\n/)
  if (prompt.length > 1 || prompt[0] !== task.summary) {
    lines.push(c.bold("Prompt"))
    for (const l of prompt) lines.push(`  ${l}`)
    lines.push("")
  }
  lines.push(c.bold("Task"))
  kv("source", task.source)
  kv("agent type", task.agentType)
  kv("dependencies", `${task.dependencyType}, depth ${task.dependencyDepth}`)
  if (task.parentTaskId !== null) kv("parent", task.parentTaskId)
  kv(
    "retries",
    `${task.retryCount} of ${task.maxRetries}${task.retryBackoffSeconds !== null ? `, backoff ${duration(task.retryBackoffSeconds * 1000)}` : ""}`
  )
  if (task.stallCount > 0) kv("stalls", c.yellow(`${task.stallCount} (its workers stopped reporting; the lease expired)`))
  if (
    task.notBefore !== null &&
    Date.parse(task.notBefore) > now &&
    (task.status === "ready" || task.status === "blocked" || task.status === "pending")
  ) {
    kv("not before", `${task.notBefore} (${ago(task.notBefore, now)})`)
  }
  if (task.idempotencyKey !== null) kv("idem. key", task.idempotencyKey)
  kv("timeout", duration(task.maxExecutionTimeoutSeconds * 1000))
  if (task.deadline !== null) kv("deadline", `${task.deadline} (${ago(task.deadline, now)})`)
  if (task.estimatedDurationSeconds !== null) kv("estimate", duration(task.estimatedDurationSeconds * 1000))
  kv("submitted", `${task.submittedAt} (${ago(task.submittedAt, now)})${task.createdBy !== null ? ` by ${task.createdBy}` : ""}`)
  if (task.startedAt !== null) kv("started", `${task.startedAt} (${ago(task.startedAt, now)})`)
  if (task.completedAt !== null) kv("completed", `${task.completedAt} (${ago(task.completedAt, now)})`)
  kv("updated", `${task.lastUpdatedAt} (${ago(task.lastUpdatedAt, now)})`)
  if (Object.keys(task.inputData).length > 0) kv("input", JSON.stringify(task.inputData))
  if (task.resultData !== null) kv("result", JSON.stringify(task.resultData))
  if (task.errorMessage !== null) kv("error", c.red(oneLine(task.errorMessage)))
  lines.push("")

  // Explained by the queue, with the weights it is configured with.
  const { weights, contributions, score: nowScore } = task.priorityExplanation
  const b = task.priorityBreakdown
  lines.push(`${c.bold("Priority")} ${score(c, task.calculatedPriority)} ${c.dim("of 100: the weighted mean of five factor scores")}`)
  const t = table(["  FACTOR", "SCORE", "WEIGHT", "CONTRIBUTION", "WHY"], c, ["left", "right", "right", "right", "left"])
  for (const f of PriorityFactors) {
    t.push([`  ${f}`, b[f].toFixed(1), `×${weights[f].toFixed(1)}`, contributions[f].toFixed(1), c.dim(explain(f, task, b[f], now))])
  }
  lines.push(render(t))
  const stale = Math.abs(nowScore - task.calculatedPriority) >= 0.05
  lines.push(
    `  ${c.dim(`sum of contributions: ${nowScore.toFixed(1)}${stale ? ` now; stored ${task.calculatedPriority.toFixed(1)} (refreshed as time passes while the task waits)` : ""}`)}`
  )
  lines.push("")

  const links = (
    title: string,
    items: ReadonlyArray<{ taskId: string; dependencyType: string; onFailure: string; resolvedAt: string | null }>,
    empty: string
  ) => {
    lines.push(`${c.bold(title)} ${c.dim(`(${items.length})`)}`)
    if (items.length === 0) lines.push(`  ${c.dim(empty)}`)
    for (const l of items) {
      lines.push(
        `  ${l.taskId}  ${c.dim(l.dependencyType)}  ${c.dim(`on failure ${l.onFailure}`)}  ${l.resolvedAt === null ? c.yellow("open") : c.green(`resolved ${l.resolvedAt}`)}`
      )
    }
  }
  links("Prerequisites", task.prerequisites, "none: it waits for nothing")
  links("Dependents", task.dependents, "none: nothing waits for it")
  lines.push(`${c.bold("Subtasks")} ${c.dim(`(${task.children.length})`)}`)
  if (task.subtree.total > 0) {
    const st = task.subtree
    const parts = [
      `${st.completed} completed`,
      `${st.open} open`,
      ...(st.failed > 0 ? [c.red(`${st.failed} failed`)] : []),
      ...(st.cancelled > 0 ? [`${st.cancelled} cancelled`] : [])
    ]
    lines.push(`  ${c.dim(`subtree: ${plural(st.total, "task")} below,`)} ${parts.join(c.dim(", "))}`)
    if (st.open > 0 && task.dependents.length > 0) lines.push(`  ${c.dim("its dependents wait for the open ones too")}`)
  }
  if (task.children.length === 0) lines.push(`  ${c.dim("none")}`)
  for (const id of task.children) lines.push(`  ${id}`)
  return lines.join("\n")
}

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

/** Listed tasks: with `--json` off, each short id with the task's summary (CliQueue looks them up). */
const idList = (c: Colors, ids: ReadonlyArray<string>, indent = "  ", names: ReadonlyMap<string, TaskSummary> = new Map()) =>
  ids
    .map((id) => {
      const t = names.get(id)
      return t === undefined ? `${indent}${c.dim("·")} ${id}` : `${indent}${c.dim("·")} ${c.dim(id.slice(0, 8))}  ${oneLine(t.summary)}`
    })
    .join("\n")

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

export const released = (c: Colors, task: Task): string =>
  `${c.green("Released")} ${task.id}: back to ${status(c, task.status)} (retry count ${task.retryCount} of ${task.maxRetries})`

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

export const recovered = (c: Colors, ids: ReadonlyArray<string>): string =>
  ids.length === 0 ? c.dim("No expired leases.") : `${c.yellow("Recovered")} ${plural(ids.length, "expired lease")}:\n${idList(c, ids)}`

export const pruned = (c: Colors, r: { deleted: number; ids: ReadonlyArray<string> }, dryRun: boolean): string => {
  if (r.deleted === 0) return c.dim(dryRun ? "Nothing to prune." : "Nothing pruned.")
  const head = dryRun ? `${c.yellow("Would delete")} ${plural(r.deleted, "task")} (dry run)` : `${c.green("Deleted")} ${plural(r.deleted, "task")}`
  const shown = r.ids.slice(0, 20)
  return [head, idList(c, shown), ...(r.ids.length > shown.length ? [c.dim(`  … and ${r.ids.length - shown.length} more`)] : [])].join("\n")
}

export const migrated = (
  c: Colors,
  db: string,
  m: { fromVersion: number; toVersion: number; backup: string | null; applied: ReadonlyArray<number> }
): string =>
  m.applied.length === 0
    ? `${c.green("Up to date")}: ${db} is at schema version ${m.toVersion}`
    : [
        `${c.green("Migrated")} ${db} from schema version ${m.fromVersion} to ${m.toVersion} (${plural(m.applied.length, "migration")})`,
        `  ${c.dim("backup")} ${m.backup ?? c.dim("none needed (new database)")}`
      ].join("\n")

export const checked = (
  c: Colors,
  db: string,
  r: {
    integrity: string
    findings: ReadonlyArray<string>
    foreignKeyViolations: ReadonlyArray<unknown>
    schemaVersion: number | null
    errors: ReadonlyArray<{ code: string; message: string; during: string }>
    ok: boolean
  }
): string => {
  const unreadable = r.schemaVersion === null && r.errors.length > 0
  const more = (n: number, shown: number) => (n > shown ? [c.dim(`    … and ${n - shown} more`)] : [])
  return [
    `${r.ok ? c.green("✔ healthy") : c.red(unreadable ? "✘ cannot be read" : "✘ problems found")}  ${c.dim(db)}`,
    `  ${c.dim("integrity")}       ${r.integrity === "ok" ? c.green("ok") : c.red(`${r.findings.length} ${r.findings.length === 1 ? "finding" : "findings"}`)}`,
    ...r.findings.slice(0, 20).map((f) => `    ${c.red("·")} ${f}`),
    ...more(r.findings.length, 20),
    `  ${c.dim("foreign keys")}    ${r.foreignKeyViolations.length === 0 ? (unreadable ? c.dim("not checked") : c.green("ok")) : c.red(`${r.foreignKeyViolations.length} violations`)}`,
    ...r.foreignKeyViolations.slice(0, 20).map((v) => `    ${c.red("·")} ${JSON.stringify(v)}`),
    ...more(r.foreignKeyViolations.length, 20),
    `  ${c.dim("schema version")}  ${r.schemaVersion ?? c.dim("unknown")}`,
    ...(r.errors.length === 0 ? [] : [`  ${c.dim("sqlite errors")}`]),
    ...r.errors.slice(0, 20).map((e) => `    ${c.red("·")} ${e.during}: ${e.code}: ${e.message}`)
  ].join("\n")
}

export const dependencyAdded = (c: Colors, d: TaskDetail, prerequisiteId: string): string =>
  `${c.green("Added")}: ${d.id} now depends on ${d.prerequisites.find((p) => p.taskId.startsWith(prerequisiteId.trim().toLowerCase()))?.taskId ?? prerequisiteId}\n  ${status(c, d.status)}  ${c.dim(`${plural(d.prerequisites.length, "prerequisite")}, depth ${d.dependencyDepth}`)}`

export const dependencyRemoved = (c: Colors, d: TaskDetail, prerequisiteId: string): string =>
  `${c.green("Removed")}: ${d.id} no longer depends on ${prerequisiteId}\n  ${status(c, d.status)}  ${c.dim(`${plural(d.prerequisites.length, "prerequisite")} left, depth ${d.dependencyDepth}`)}`
