/** Views of tasks: the `list` table, one line per task, `submit`'s answers and `show`. */
import { dependentsForScore, type PriorityFactor, PriorityFactors, SourceScores, type Task } from "@abathur/domain"
import type { TaskDetail } from "@abathur/queue"
import type { Colors } from "../Terminal.js"
import { ago, duration, oneLine, plural, render, score, status, statusColor, statusMarks, table, truncate } from "./Text.js"

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
      const n = dependentsForScore(value)
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
