/**
 * Read-only routes the dashboard pages through (documented in the API like the others):
 * a bounded graph of open work or of one task's neighbourhood, a task with the names of its
 * neighbours and its audit trail, the tail of a task's `work` log, and completions/failures per
 * minute. Every read is bounded: no route reads the whole table.
 */
import type { TaskDetail, TaskQueueService } from "@abathur/queue"
import { TaskQueue, ValidationError } from "@abathur/queue"
import { Database } from "@abathur/storage"
import { HttpRouter } from "@effect/platform"
import { Effect, Option } from "effect"
import { type FileHandle, open } from "node:fs/promises"
import { dirname, join, resolve } from "node:path"
import { type ApiRoute, json, query, taskParam } from "./routes/Route.js"
import { NotFound } from "./ApiError.js"

/** A whole number parameter in [min, max], or the default. */
const intParam = (params: URLSearchParams, name: string, min: number, max: number, fallback: number) => {
  const raw = params.get(name)
  if (raw === null || raw.trim() === "") return Effect.succeed(fallback)
  const n = Number(raw)
  return Number.isInteger(n) && n >= min && n <= max
    ? Effect.succeed(n)
    : Effect.fail(new ValidationError({ message: `${name} must be a whole number from ${min} to ${max}` }))
}

const OPEN = ["pending", "blocked", "ready", "running"] as const

/** A node of the dashboard's graph: the fields it draws, and the progress of the subtasks. */
export interface GraphNode {
  readonly id: string
  readonly summary: string
  readonly status: string
  readonly calculatedPriority: number
  readonly parentTaskId: string | null
  readonly worker?: string | null
  /** Over the whole subtree when the queue gives it (TaskDetail.subtree), else over direct subtasks. */
  readonly subtree?: {
    readonly total: number
    readonly completed: number
    readonly open: number
    readonly failed: number
    readonly cancelled: number
    readonly scope: "subtree" | "children"
  }
  /** Shown for context (a finished prerequisite or parent of open work, or outside the focus). */
  readonly context: boolean
}

export interface GraphEdge {
  readonly from: string
  readonly to: string
  readonly kind: "dependency" | "parent"
  readonly resolved: boolean
  readonly onFailure?: string
}

type Subtree = { total: number; completed: number; open: number; failed: number; cancelled: number }

const isSubtree = (v: unknown): v is Subtree =>
  typeof v === "object" &&
  v !== null &&
  ["total", "completed", "open", "failed", "cancelled"].every((k) => typeof (v as Record<string, unknown>)[k] === "number")

/** Progress of a parent: the queue's subtree counts when it gives them, else its direct subtasks. */
const progressOf = (q: TaskQueueService, d: TaskDetail) =>
  Effect.gen(function* () {
    const given = (d as TaskDetail & { subtree?: unknown }).subtree
    if (isSubtree(given)) return given.total === 0 ? undefined : { ...given, scope: "subtree" as const }
    if (d.children.length === 0) return undefined
    const kids = yield* q.list({ parentTaskId: d.id, limit: 1000 })
    const count = (s: string) => kids.filter((k) => k.status === s).length
    return {
      total: kids.length,
      completed: count("completed"),
      failed: count("failed"),
      cancelled: count("cancelled"),
      open: kids.filter((k) => (OPEN as ReadonlyArray<string>).includes(k.status)).length,
      scope: "children" as const
    }
  })

const linkOnFailure = (l: object): { onFailure?: string } => ("onFailure" in l && typeof l.onFailure === "string" ? { onFailure: l.onFailure } : {})

/**
 * The graph: the `limit` most important open tasks (or, with `focus`, the tasks within `depth`
 * steps of it along dependencies and the hierarchy), their dependency edges and parent -> child
 * edges, plus the finished prerequisites and parents they hang on, for context.
 */
const graphData = (q: TaskQueueService, focus: string | undefined, limit: number, depth: number) =>
  Effect.gen(function* () {
    const details = new Map<string, TaskDetail>()
    const core = new Set<string>()
    let truncated = false
    let openTotal: number | null = null
    if (focus === undefined) {
      const open = yield* q.list({ status: [...OPEN], limit: limit + 1 })
      truncated = open.length > limit
      for (const t of open.slice(0, limit)) core.add(t.id)
      const status = yield* q.status()
      openTotal = OPEN.reduce((n, s) => n + status.byStatus[s], 0)
    } else {
      const start = yield* q.get(focus)
      details.set(start.id, start)
      core.add(start.id)
      let frontier = [start.id]
      for (let step = 0; step < depth && frontier.length > 0 && !truncated; step++) {
        const next: Array<string> = []
        for (const id of frontier) {
          const d = details.get(id) ?? (yield* q.get(id))
          details.set(id, d)
          const around = [
            ...d.prerequisites.map((l) => l.taskId),
            ...d.dependents.map((l) => l.taskId),
            ...d.children,
            ...(d.parentTaskId === null ? [] : [d.parentTaskId])
          ]
          for (const n of around) {
            if (core.has(n)) continue
            if (core.size >= limit) {
              truncated = true
              break
            }
            core.add(n)
            next.push(n)
          }
        }
        frontier = next
      }
    }
    for (const id of core) if (!details.has(id)) details.set(id, yield* q.get(id))
    // Context: finished prerequisites and parents of what is shown (one step, bounded by `limit`).
    const context = new Set<string>()
    for (const d of [...details.values()]) {
      const around = [...d.prerequisites.map((l) => l.taskId), ...(d.parentTaskId === null ? [] : [d.parentTaskId])]
      for (const n of around) {
        if (details.has(n) || context.has(n) || context.size >= limit) continue
        context.add(n)
      }
    }
    for (const id of context) details.set(id, yield* q.get(id))

    const nodes: Array<GraphNode> = []
    for (const d of details.values()) {
      const progress = yield* progressOf(q, d)
      nodes.push({
        id: d.id,
        summary: d.summary,
        status: d.status,
        calculatedPriority: d.calculatedPriority,
        parentTaskId: d.parentTaskId,
        ...(d.worker !== undefined && { worker: d.worker }),
        ...(progress !== undefined && { subtree: progress }),
        context: !core.has(d.id)
      })
    }
    const edges: Array<GraphEdge> = []
    for (const d of details.values()) {
      for (const l of d.prerequisites) {
        if (details.has(l.taskId)) edges.push({ from: l.taskId, to: d.id, kind: "dependency", resolved: l.resolvedAt !== null, ...linkOnFailure(l) })
      }
      if (d.parentTaskId !== null && details.has(d.parentTaskId)) {
        edges.push({ from: d.parentTaskId, to: d.id, kind: "parent", resolved: d.status === "completed" })
      }
    }
    return { focus: focus ?? null, limit, truncated, openTotal, nodes, edges }
  })

/** Names and statuses of the tasks a detail links to (prerequisites, dependents, parent, children). */
const relatedOf = (q: TaskQueueService, d: TaskDetail) =>
  Effect.gen(function* () {
    const ids = new Set([...d.prerequisites.map((l) => l.taskId), ...d.dependents.map((l) => l.taskId), ...d.children])
    if (d.parentTaskId !== null) ids.add(d.parentTaskId)
    const related: Record<string, { summary: string; status: string }> = {}
    for (const id of [...ids].slice(0, 300)) {
      const t = yield* Effect.option(q.get(id))
      if (Option.isSome(t)) related[id] = { summary: t.value.summary, status: t.value.status }
    }
    return related
  })

/** The log of `abathur work` for a task: `logs/<id>.log` in the database's folder. */
const logPath = (dbFile: string, id: string): string | null =>
  dbFile === ":memory:" || dbFile === "" ? null : join(dirname(resolve(dbFile)), "logs", `${id}.log`)

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

/** The last `bytes` of a file (whole lines when cut), or null when there is none. */
const tail = (path: string, bytes: number) =>
  Effect.promise(async () => {
    let handle: FileHandle
    try {
      handle = await open(path, "r")
    } catch {
      return null
    }
    try {
      const { size, mtime } = await handle.stat()
      const from = Math.max(0, size - bytes)
      const buffer = Buffer.alloc(size - from)
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, from)
      let text = buffer.subarray(0, bytesRead).toString("utf8")
      // A cut start drops the partial first line (and any half a character with it).
      if (from > 0) {
        const nl = text.indexOf("\n")
        text = nl >= 0 ? text.slice(nl + 1) : text.replace(/^\uFFFD+/, "")
      }
      return { size, truncated: from > 0, updatedAt: mtime.toISOString(), text }
    } finally {
      await handle.close()
    }
  })

export const dashboardRoutes: ReadonlyArray<ApiRoute> = [
  {
    method: "GET",
    path: "/v1/dashboard/graph",
    doc: {
      tag: "dashboard",
      summary: "Graph data of open work",
      description:
        "Nodes and edges for a drawing: the `limit` most important open tasks, or with `id` the tasks within `depth` steps of it " +
        "(prerequisites, dependents, parent, subtasks), with dependency edges (`kind: dependency`, `resolved`) and parent -> child edges " +
        "(`kind: parent`), plus finished prerequisites and parents for context. A parent carries `subtree` progress. `truncated` says the limit cut it.",
      params: [
        { name: "id", in: "query", description: "Centre the graph on this task.", schema: { type: "string", format: "uuid" } },
        {
          name: "limit",
          in: "query",
          description: "At most this many tasks besides context (1..1000, default 300).",
          schema: { type: "integer", minimum: 1, maximum: 1000 }
        },
        { name: "depth", in: "query", description: "Steps around `id` (1..10, default 2).", schema: { type: "integer", minimum: 1, maximum: 10 } }
      ],
      responses: { 200: { description: "The graph.", schema: { type: "object", required: ["nodes", "edges", "truncated"] } } },
      errors: [400, 404]
    },
    handler: Effect.gen(function* () {
      const params = yield* query(["id", "limit", "depth"])
      const limit = yield* intParam(params, "limit", 1, 1000, 300)
      const depth = yield* intParam(params, "depth", 1, 10, 2)
      const id = params.get("id")?.trim() || undefined
      return json(yield* graphData(yield* TaskQueue, id, limit, depth))
    })
  },
  {
    method: "GET",
    path: "/v1/dashboard/tasks/:id",
    doc: {
      tag: "dashboard",
      summary: "A task for its page",
      description:
        "`{task, related, audit}`: the TaskDetail, the summary and status of each task it links to (by id), and its audit trail (oldest first).",
      params: [taskParam],
      responses: { 200: { description: "The task page's data.", schema: { type: "object", required: ["task", "related", "audit"] } } },
      errors: [400, 404]
    },
    handler: Effect.gen(function* () {
      yield* query([])
      const q = yield* TaskQueue
      const params = yield* HttpRouter.params
      const task = yield* q.get(params["id"] ?? "")
      return json({ task, related: yield* relatedOf(q, task), audit: yield* q.audit(task.id) })
    })
  },
  {
    method: "GET",
    path: "/v1/tasks/:id/log",
    doc: {
      tag: "dashboard",
      summary: "The tail of a task's work log",
      description:
        "The last `kib` KiB of `logs/<id>.log` beside the database (the output `abathur work` keeps for each task), cut at a line start: " +
        "`{taskId, size, truncated, updatedAt, text}`. 404 `NotFound` when the task has no log.",
      params: [
        taskParam,
        {
          name: "kib",
          in: "query",
          description: "How much of the end to read (1..1024 KiB, default 64).",
          schema: { type: "integer", minimum: 1, maximum: 1024 }
        }
      ],
      responses: { 200: { description: "The tail.", schema: { type: "object", required: ["taskId", "size", "truncated", "text"] } } },
      errors: [400, 404]
    },
    handler: Effect.gen(function* () {
      const params = yield* query(["kib"])
      const kib = yield* intParam(params, "kib", 1, 1024, 64)
      const q = yield* TaskQueue
      // The queue validates the id (a UUID) and that the task exists; the file name is built only from its canonical id.
      const task = yield* q.get((yield* HttpRouter.params)["id"] ?? "")
      const id = task.id.toLowerCase()
      const db = yield* Effect.serviceOption(Database)
      const path = Option.isSome(db) && UUID.test(id) ? logPath(db.value.filename, id) : null
      const found = path === null ? null : yield* tail(path, kib * 1024)
      if (found === null)
        return yield* Effect.fail(
          new NotFound({ message: `no log for task ${id}: \`abathur work\` writes logs/<id>.log beside the database when it runs a task` })
        )
      return json({ taskId: id, ...found })
    })
  },
  {
    method: "GET",
    path: "/v1/activity",
    doc: {
      tag: "dashboard",
      summary: "Throughput",
      description:
        "Completions, retried attempts and failures per minute over the last `minutes`, and the newest failed attempts (`recentFailures`, " +
        "audit entries), from the audit trail: every process sharing the database counts. Only the window's entries are read.",
      params: [
        { name: "minutes", in: "query", description: "The window (1..1440, default 60).", schema: { type: "integer", minimum: 1, maximum: 1440 } },
        {
          name: "failures",
          in: "query",
          description: "How many recent failed attempts to list (0..200, default 20).",
          schema: { type: "integer", minimum: 0, maximum: 200 }
        }
      ],
      responses: { 200: { description: "The activity.", schema: { type: "object", required: ["since", "until", "minutes", "recentFailures"] } } },
      errors: [400]
    },
    handler: Effect.gen(function* () {
      const params = yield* query(["minutes", "failures"])
      const minutes = yield* intParam(params, "minutes", 1, 1440, 60)
      const failures = yield* intParam(params, "failures", 0, 200, 20)
      return json(yield* (yield* TaskQueue).activity({ minutes, failures }))
    })
  }
]
