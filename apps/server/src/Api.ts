import { formatIssues, MAX_CLAIM_WAIT_SECONDS } from "@abathur/domain"
import { TaskQueue, ValidationError } from "@abathur/queue"
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { NodeHttpServerRequest } from "@effect/platform-node"
import { Cause, Deferred, Effect, FiberRef, LogLevel, Schedule, Stream } from "effect"
import { timingSafeEqual } from "node:crypto"
import type * as z from "zod"
import { errorResponse, Forbidden, internalError, MethodNotAllowed, NotFound, Unauthorized } from "./ApiError.js"
import { BodyAborted, optionalJson, requireJson } from "./Body.js"
import { dashboardHtml } from "./Dashboard.js"
import { dashboardRoutes } from "./DashboardApi.js"
import { docsHtml } from "./Docs.js"
import { checkHost, isJsonMediaType, type OwnHosts, ownOrigin } from "./Guard.js"
import { Metrics, type MetricsService } from "./Metrics.js"
import { type OperationDoc, openApiDocument } from "./OpenApi.js"
import { CancelInput, RetryInput } from "./Schemas.js"
import { VERSION } from "./Version.js"
import { Shutdown, Wakeup, waitForWork } from "./Wakeup.js"

/** What a route handler may use. */
type Env =
  | TaskQueue
  | Wakeup
  | Shutdown
  | Metrics
  | HttpServerRequest.HttpServerRequest
  | HttpRouter.RouteContext
  | HttpServerRequest.ParsedSearchParams

type Handler = Effect.Effect<HttpServerResponse.HttpServerResponse, unknown, Env>

export interface ApiRoute {
  readonly method: "GET" | "POST" | "DELETE" | "*"
  /** In the router's syntax (`/v1/tasks/:id`). */
  readonly path: HttpRouter.PathInput
  readonly doc: OperationDoc
  readonly handler: Handler
}

// ---- helpers ---------------------------------------------------------------------------------

const json = (body: unknown, status = 200) => HttpServerResponse.unsafeJson(body, { status })
const noContent = HttpServerResponse.empty({ status: 204 })

const queue = TaskQueue
const taskId = Effect.map(HttpRouter.params, (p) => p["id"] ?? "")

/** Who acts, from the optional `X-Abathur-Actor` header (kept in the audit trail). */
const actor = Effect.map(HttpServerRequest.HttpServerRequest, (req) => {
  const a = req.headers["x-abathur-actor"]
  return a === undefined || a.trim() === "" ? {} : { actor: a.trim() }
})

const searchParams = Effect.map(HttpServerRequest.HttpServerRequest, (req) => new URL(req.url, "http://localhost").searchParams)

/** The query parameters, refusing unknown names (a typo should not pass silently). */
const query = (allowed: ReadonlyArray<string>) =>
  Effect.flatMap(searchParams, (params) => {
    const unknown = [...new Set(params.keys())].filter((k) => !allowed.includes(k) && k !== "access_token")
    if (unknown.length > 0) {
      return Effect.fail(
        new ValidationError({
          message: `unknown query parameter${unknown.length === 1 ? "" : "s"} ${unknown.map((k) => JSON.stringify(k)).join(", ")}: accepted: ${allowed.join(", ") || "none"}`
        })
      )
    }
    return Effect.succeed(params)
  })

/** Repeated or comma-separated values of one parameter (`?status=ready&status=blocked`, `?ids=a,b`). */
const many = (params: URLSearchParams, name: string): Array<string> | undefined => {
  const values = params
    .getAll(name)
    .flatMap((v) => v.split(","))
    .map((v) => v.trim())
    .filter((v) => v !== "")
  return values.length === 0 ? undefined : values
}

const one = (params: URLSearchParams, name: string): string | undefined => {
  const v = params.get(name)
  return v === null || v.trim() === "" ? undefined : v.trim()
}

/** A number when the text is one, else the text (so that the schema explains what is wrong). */
const numeric = (v: string | undefined): number | string | undefined => (v !== undefined && /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : v)

/** Raw input (query text not yet checked): the queue validates it at run time. */
const defined = (o: Readonly<Record<string, unknown>>): Readonly<Record<string, unknown>> =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined))

/** Validates a body the server reads itself (the queue validates the others). */
const strictBody = <S extends z.ZodType>(schema: S, body: unknown): Effect.Effect<z.output<S>, ValidationError> => {
  const r = schema.safeParse(body)
  return r.success ? Effect.succeed(r.data) : Effect.fail(new ValidationError({ message: formatIssues(r.error) }))
}

// ---- server-sent events ----------------------------------------------------------------------

let eventClients = 0

const encoder = new TextEncoder()

const events = Effect.gen(function* () {
  const params = yield* query(["heartbeatSeconds"])
  const raw = numeric(one(params, "heartbeatSeconds")) ?? 15
  if (typeof raw !== "number" || raw < 1 || raw > 300) {
    return yield* Effect.fail(new ValidationError({ message: "heartbeatSeconds must be a number from 1 to 300" }))
  }
  const q = yield* queue
  const wakeup = yield* Wakeup
  const shutdown = yield* Shutdown
  const stream = Stream.unwrapScoped(
    Effect.gen(function* () {
      const changes = yield* q.subscribe
      const external = yield* wakeup.external
      yield* wakeup.interest
      yield* Effect.acquireRelease(
        Effect.sync(() => eventClients++),
        () => Effect.sync(() => eventClients--)
      )
      return Stream.mergeAll(
        [
          Stream.succeed("retry: 2000\n: connected\n\n"),
          Stream.fromQueue(changes).pipe(Stream.map((c) => `event: task\ndata: ${JSON.stringify(c)}\n\n`)),
          Stream.fromQueue(external).pipe(Stream.map((v) => `event: sync\ndata: ${JSON.stringify({ dataVersion: v })}\n\n`)),
          Stream.fromSchedule(Schedule.spaced(`${raw} seconds`)).pipe(Stream.map(() => `: heartbeat ${new Date().toISOString()}\n\n`))
        ],
        { concurrency: "unbounded" }
      )
    })
  ).pipe(
    Stream.interruptWhen(Deferred.await(shutdown)),
    Stream.map((s) => encoder.encode(s))
  )
  return HttpServerResponse.stream(stream, {
    contentType: "text/event-stream; charset=utf-8",
    headers: { "cache-control": "no-cache", "x-accel-buffering": "no" }
  })
})

// ---- routes ----------------------------------------------------------------------------------

const E400 = [400] as const
const taskParam = {
  name: "id",
  in: "path",
  required: true,
  description: "The task's id (a UUID).",
  schema: { type: "string", format: "uuid" }
} as const

export const routes: ReadonlyArray<ApiRoute> = [
  {
    method: "POST",
    path: "/v1/tasks",
    doc: {
      tag: "tasks",
      summary: "Submit a task",
      description:
        'Creates one task. `prompt` is required; prerequisites (`dependsOn`: ids, or `{"id", "onFailure": "cancel"|"ignore", "dependencyType"?}`) and the parent must exist. ' +
        "The task is READY, or BLOCKED while an edge of its own or of an ancestor is open (an edge on P resolves when P and all of P's subtasks are COMPLETED; " +
        "under `onFailure: ignore` once they have all finished). A READY task with a future `notBefore` is not claimed before that instant. " +
        "With an `idempotencyKey` that names an existing task submitted with the same fields, the answer is that task with 200 and nothing is created; " +
        "the same key with different fields is 409 IdempotencyConflict (with `taskId`).",
      body: { schema: "SubmitTaskInput", required: true },
      responses: {
        201: { description: "The new task.", schema: "Task" },
        200: { description: "The task submitted before with the same `idempotencyKey` and fields (nothing created).", schema: "Task" }
      },
      errors: [400, 404, 409]
    },
    handler: Effect.gen(function* () {
      const body = yield* requireJson("at least a prompt")
      const r = yield* (yield* queue).submitWithOutcome(body, yield* actor)
      return json(r.task, r.created ? 201 : 200)
    })
  },
  {
    method: "POST",
    path: "/v1/plans",
    doc: {
      tag: "tasks",
      summary: "Submit a plan",
      description:
        "Submits a tree of tasks with dependencies between them, by local keys, all or nothing. In `dependsOn` a key of the plan wins over a task id " +
        '(or name one exactly with `{"key"|"id": ..., "onFailure"?, "dependencyType"?}`); nested `children` become subtasks and wait for their parent\'s prerequisites. ' +
        "With a top-level `idempotencyKey`, posting the same plan again answers the same tasks with 200 and creates nothing; the key with another plan is 409 IdempotencyConflict.",
      body: { schema: "PlanInput", required: true },
      responses: {
        201: { description: "The new tasks by key.", schema: "PlanResult" },
        200: { description: "The tasks of the plan posted before with the same `idempotencyKey` (nothing created).", schema: "PlanResult" }
      },
      errors: [400, 404, 409]
    },
    handler: Effect.gen(function* () {
      const body = yield* requireJson('"tasks": a list of plan nodes')
      const r = yield* (yield* queue).submitPlanWithOutcome(body, yield* actor)
      return json({ tasks: r.tasks }, r.created ? 201 : 200)
    })
  },
  {
    method: "GET",
    path: "/v1/tasks",
    doc: {
      tag: "tasks",
      summary: "List tasks",
      description:
        "Tasks by calculated priority (highest first), then submission time (oldest first). A RUNNING task adds `worker` (the claim's worker name, or null) and `leaseExpiresAt`.",
      params: [
        {
          name: "status",
          in: "query",
          description: "Only these statuses; repeat it or separate with commas.",
          schema: { type: "array", items: { $ref: "#/components/schemas/TaskStatus" } },
          explode: true
        },
        {
          name: "excludeStatus",
          in: "query",
          description: "Leave out these statuses; repeat it or separate with commas.",
          schema: { type: "array", items: { $ref: "#/components/schemas/TaskStatus" } },
          explode: true
        },
        { name: "source", in: "query", description: "Only tasks from this source.", schema: { $ref: "#/components/schemas/TaskSource" } },
        { name: "parent", in: "query", description: "Only the direct subtasks of this task.", schema: { type: "string", format: "uuid" } },
        { name: "limit", in: "query", description: "At most this many tasks.", schema: { type: "integer", minimum: 1 } },
        {
          name: "offset",
          in: "query",
          description: "Skip this many tasks of the order first (paging, with limit).",
          schema: { type: "integer", minimum: 0 }
        },
        {
          name: "text",
          in: "query",
          description: "Only tasks whose prompt or summary contains this text (any case), or whose id starts with it.",
          schema: { type: "string", minLength: 1, maxLength: 200 }
        }
      ],
      responses: { 200: { description: "The tasks.", schema: { type: "array", items: { $ref: "#/components/schemas/Task" } } } },
      errors: E400
    },
    handler: Effect.gen(function* () {
      const params = yield* query(["status", "excludeStatus", "source", "parent", "parentTaskId", "limit", "offset", "text"])
      const input = defined({
        status: many(params, "status"),
        excludeStatus: many(params, "excludeStatus"),
        source: one(params, "source"),
        parentTaskId: one(params, "parent") ?? one(params, "parentTaskId"),
        limit: numeric(one(params, "limit")),
        offset: numeric(one(params, "offset")),
        text: params.get("text") ?? undefined
      })
      return json(yield* (yield* queue).list(input))
    })
  },
  {
    method: "GET",
    path: "/v1/tasks/:id",
    doc: {
      tag: "tasks",
      summary: "Show a task",
      description: "The task with its prerequisites, dependents, children and priority breakdown.",
      params: [taskParam],
      responses: { 200: { description: "The task in detail.", schema: "TaskDetail" } },
      errors: [400, 404]
    },
    handler: Effect.gen(function* () {
      return json(yield* (yield* queue).get(yield* taskId))
    })
  },
  {
    method: "GET",
    path: "/v1/tasks/:id/audit",
    doc: {
      tag: "tasks",
      summary: "A task's audit trail",
      description: "Its submission and every state change, oldest first.",
      params: [taskParam],
      responses: { 200: { description: "The entries.", schema: { type: "array", items: { $ref: "#/components/schemas/AuditEntry" } } } },
      errors: [400, 404]
    },
    handler: Effect.gen(function* () {
      return json(yield* (yield* queue).audit(yield* taskId))
    })
  },
  {
    method: "POST",
    path: "/v1/tasks/:id/dependencies",
    doc: {
      tag: "tasks",
      summary: "Add a prerequisite",
      description:
        "The task (PENDING, BLOCKED or READY) waits for `prerequisiteId` too, and for all of its subtasks. `onFailure`: `cancel` (default) cancels the task when " +
        "the prerequisite or one of its subtasks ends FAILED or CANCELLED; `ignore` lets it run once they have all finished. " +
        "A cycle is refused with its path; adding an existing edge changes nothing.",
      params: [taskParam],
      body: { schema: "AddDependencyInput", required: true },
      responses: { 200: { description: "The dependent task in detail.", schema: "TaskDetail" } },
      errors: [400, 404, 409]
    },
    handler: Effect.gen(function* () {
      const id = yield* taskId
      const body = yield* requireJson("prerequisiteId")
      return json(yield* (yield* queue).addDependency(id, body, yield* actor))
    })
  },
  {
    method: "DELETE",
    path: "/v1/tasks/:id/dependencies/:prerequisiteId",
    doc: {
      tag: "tasks",
      summary: "Remove a prerequisite",
      description:
        "The task (PENDING, BLOCKED or READY) no longer waits for `prerequisiteId`: it becomes READY when that was its last open edge and no ancestor waits. " +
        "404 TaskNotFound when there is no such edge.",
      params: [
        taskParam,
        {
          name: "prerequisiteId",
          in: "path",
          required: true,
          description: "The prerequisite's id (a UUID).",
          schema: { type: "string", format: "uuid" }
        }
      ],
      responses: { 200: { description: "The dependent task in detail.", schema: "TaskDetail" } },
      errors: [400, 404, 409]
    },
    handler: Effect.gen(function* () {
      const id = yield* taskId
      const prerequisiteId = yield* Effect.map(HttpRouter.params, (p) => p["prerequisiteId"] ?? "")
      return json(yield* (yield* queue).removeDependency(id, prerequisiteId, yield* actor))
    })
  },
  {
    method: "POST",
    path: "/v1/claims",
    doc: {
      tag: "workers",
      summary: "Claim the next task",
      description:
        "Leases the most important READY task (optionally only of `agentType`) whose `notBefore` has passed, for `leaseSeconds` (default: the task's timeout). " +
        `With \`waitSeconds\` (at most ${MAX_CLAIM_WAIT_SECONDS}) the request waits for a task to become ready (long poll): it is woken as soon as one does, ` +
        "through this server or another process sharing the database, when a lease expires or when a delayed task's `notBefore` comes. " +
        '204 when nothing was ready in time. With `limit` (1..100), claims up to that many tasks in one transaction and answers `{"tasks": [Task]}`.',
      body: { schema: "ClaimInput", required: false },
      responses: {
        200: { description: "The claimed task with its lease token (with `limit`: ClaimedTasks).", schema: "ClaimedTask" },
        204: { description: "Nothing was ready (after waiting up to waitSeconds)." }
      },
      errors: E400
    },
    handler: Effect.gen(function* () {
      const body = yield* optionalJson
      const many = typeof body === "object" && body !== null && "limit" in body
      // Woken when this server makes a task ready, another process commits, a lease expires or a
      // delayed task's notBefore comes; a shutdown ends the wait (204).
      const tasks = yield* (yield* queue).claimWaiting(body, { waitForWork: yield* waitForWork })
      return tasks.length === 0 ? noContent : json(many ? { tasks } : tasks[0])
    })
  },
  {
    method: "POST",
    path: "/v1/tasks/:id/heartbeat",
    doc: {
      tag: "workers",
      summary: "Extend a lease",
      description: "Renews the lease of a RUNNING task for `leaseSeconds` (default: its timeout).",
      params: [taskParam],
      body: { schema: "HeartbeatInput", required: false },
      responses: { 200: { description: "The task with its new lease.", schema: "ClaimedTask" } },
      errors: [400, 404, 409]
    },
    handler: Effect.gen(function* () {
      const id = yield* taskId
      return json(yield* (yield* queue).heartbeat(id, yield* optionalJson))
    })
  },
  {
    method: "POST",
    path: "/v1/tasks/:id/complete",
    doc: {
      tag: "workers",
      summary: "Complete a task",
      description:
        "Completes a RUNNING task with an optional JSON `result`; dependents whose last open prerequisite it was become READY. " +
        "Needs the claim's `leaseToken` (else 409 LeaseMismatch) unless `force: true` says an operator overrides the worker. " +
        "With `next` ({worker?, leaseSeconds?, agentType?}) the same transaction claims the next task: the answer adds `next` (a task or null).",
      params: [taskParam],
      body: { schema: "CompleteInput", required: false },
      responses: { 200: { description: "The task and the dependents it unblocked.", schema: "CompleteResult" } },
      errors: [400, 404, 409]
    },
    handler: Effect.gen(function* () {
      const id = yield* taskId
      return json(yield* (yield* queue).complete(id, yield* optionalJson, yield* actor))
    })
  },
  {
    method: "POST",
    path: "/v1/tasks/:id/fail",
    doc: {
      tag: "workers",
      summary: "Fail an attempt",
      description:
        "Reports that a RUNNING task's attempt failed. It goes back to READY while retries remain; otherwise it FAILS and its open dependents are cancelled.",
      params: [taskParam],
      body: { schema: "FailInput", required: true },
      responses: { 200: { description: "The task, whether it was retried, and what was cancelled.", schema: "FailResult" } },
      errors: [400, 404, 409]
    },
    handler: Effect.gen(function* () {
      const id = yield* taskId
      const body = yield* requireJson('"error": what went wrong')
      return json(yield* (yield* queue).fail(id, body, yield* actor))
    })
  },
  {
    method: "POST",
    path: "/v1/tasks/:id/release",
    doc: {
      tag: "workers",
      summary: "Give a task back",
      description: "A worker that stops (e.g. on shutdown) returns its RUNNING task to READY without spending a retry.",
      params: [taskParam],
      body: { schema: "ReleaseInput", required: false },
      responses: { 200: { description: "The task, READY again.", schema: "Task" } },
      errors: [400, 404, 409]
    },
    handler: Effect.gen(function* () {
      const id = yield* taskId
      return json(yield* (yield* queue).release(id, yield* optionalJson, yield* actor))
    })
  },
  {
    method: "POST",
    path: "/v1/tasks/:id/cancel",
    doc: {
      tag: "tasks",
      summary: "Cancel a task",
      description: "Cancels a task that is not finished, with its open transitive dependents and subtasks.",
      params: [taskParam],
      body: { schema: "CancelInput", required: false },
      responses: { 200: { description: "The task and the ids cancelled with it.", schema: "CancelResult" } },
      errors: [400, 404, 409]
    },
    handler: Effect.gen(function* () {
      const id = yield* taskId
      const body = yield* strictBody(CancelInput, yield* optionalJson)
      return json(yield* (yield* queue).cancel(id, { ...(yield* actor), ...(body.reason !== undefined && { reason: body.reason }) }))
    })
  },
  {
    method: "POST",
    path: "/v1/tasks/:id/retry",
    doc: {
      tag: "tasks",
      summary: "Retry a failed task",
      description:
        "A FAILED task goes back to READY with its retry count reset; the dependents its failure cancelled come back unless another failure still dooms them.",
      params: [taskParam],
      body: { schema: "RetryInput", required: false },
      responses: { 200: { description: "The task and the dependents revived.", schema: "RetryResult" } },
      errors: [400, 404, 409]
    },
    handler: Effect.gen(function* () {
      const id = yield* taskId
      yield* strictBody(RetryInput, yield* optionalJson)
      return json(yield* (yield* queue).retry(id, yield* actor))
    })
  },
  {
    method: "POST",
    path: "/v1/recover",
    doc: {
      tag: "workers",
      summary: "Recover expired leases",
      description: "RUNNING tasks whose lease expired go back to READY (or FAIL when retries are spent). Claims do this too.",
      responses: {
        200: {
          description: "The recovered ids.",
          schema: { type: "object", properties: { recovered: { type: "array", items: { type: "string" } } }, required: ["recovered"] }
        }
      }
    },
    handler: Effect.gen(function* () {
      return json(yield* (yield* queue).recover())
    })
  },
  {
    method: "GET",
    path: "/v1/status",
    doc: {
      tag: "queue",
      summary: "Queue status",
      description: "Counts by status, the average priority and largest depth of open tasks, and the oldest waiting task's submission time.",
      responses: { 200: { description: "The status.", schema: "QueueStatus" } }
    },
    handler: Effect.gen(function* () {
      yield* query([])
      return json(yield* (yield* queue).status())
    })
  },
  {
    method: "GET",
    path: "/v1/plan",
    doc: {
      tag: "queue",
      summary: "Execution plan",
      description: "Open tasks (or the named ones with their open transitive prerequisites) in batches that can run in parallel.",
      params: [
        {
          name: "ids",
          in: "query",
          description: "Task ids, comma-separated (or repeated); default: every open task.",
          schema: { type: "array", items: { type: "string", format: "uuid" } },
          explode: false
        }
      ],
      responses: { 200: { description: "The batches.", schema: "ExecutionPlan" } },
      errors: [400, 404]
    },
    handler: Effect.gen(function* () {
      const params = yield* query(["ids"])
      const ids = many(params, "ids")
      return json(yield* (yield* queue).executionPlan(ids === undefined ? {} : { taskIds: ids }))
    })
  },
  {
    method: "GET",
    path: "/v1/tree",
    doc: {
      tag: "queue",
      summary: "Task hierarchy",
      description: "The subtask tree below `id`, or the whole forest (one node per root) without it.",
      params: [{ name: "id", in: "query", description: "The root task.", schema: { type: "string", format: "uuid" } }],
      responses: {
        200: {
          description: "A node (with id) or a list of nodes.",
          schema: { oneOf: [{ $ref: "#/components/schemas/TreeNode" }, { type: "array", items: { $ref: "#/components/schemas/TreeNode" } }] }
        }
      },
      errors: [400, 404]
    },
    handler: Effect.gen(function* () {
      const params = yield* query(["id"])
      return json(yield* (yield* queue).tree(one(params, "id")))
    })
  },
  {
    method: "GET",
    path: "/v1/graph",
    doc: {
      tag: "queue",
      summary: "Dependency graph",
      description:
        "The dependency graph (of open tasks, or around `id`) as Mermaid or Graphviz DOT, with parent -> child links (Mermaid `-.->` in grey, DOT dashed). The text comes as text/plain; " +
        'with `Accept: application/json` the answer is `{"format", "text"}` instead.',
      params: [
        { name: "format", in: "query", description: "mermaid (default) or dot.", schema: { $ref: "#/components/schemas/GraphFormat" } },
        { name: "id", in: "query", description: "Only the graph around this task.", schema: { type: "string", format: "uuid" } }
      ],
      responses: {
        200: {
          description: "The graph.",
          content: {
            "text/plain": { schema: { type: "string" } },
            "application/json": { schema: { $ref: "#/components/schemas/GraphDocument" } }
          }
        }
      },
      errors: [400, 404]
    },
    handler: Effect.gen(function* () {
      const params = yield* query(["format", "id"])
      const graph = yield* (yield* queue).graph(one(params, "id"), one(params, "format") ?? "mermaid")
      const req = yield* HttpServerRequest.HttpServerRequest
      const accept = req.headers["accept"] ?? ""
      return accept.includes("application/json")
        ? json(graph)
        : HttpServerResponse.text(graph.text.endsWith("\n") ? graph.text : `${graph.text}\n`, { contentType: "text/plain; charset=utf-8" })
    })
  },
  {
    method: "GET",
    path: "/v1/events",
    doc: {
      tag: "queue",
      summary: "Task events (server-sent events)",
      description:
        "A text/event-stream of state changes: `event: task` with data `{taskId, from, to, at}` (TaskChange) for every change " +
        "this server commits; `event: sync` with `{dataVersion}` when another process changed the database (refetch what you show); " +
        "comment lines (`: heartbeat`) every `heartbeatSeconds` keep the connection open. The stream starts with `: connected`.",
      params: [
        {
          name: "heartbeatSeconds",
          in: "query",
          description: "Seconds between heartbeats (1..300, default 15).",
          schema: { type: "integer", minimum: 1, maximum: 300 }
        }
      ],
      responses: { 200: { description: "The event stream.", content: { "text/event-stream": { schema: { type: "string" } } } } },
      errors: E400
    },
    handler: events
  },
  {
    method: "*",
    path: "/mcp",
    doc: {
      tag: "agents",
      summary: "MCP over streamable HTTP",
      description:
        "The Model Context Protocol endpoint (stateless streamable HTTP, JSON responses) with the same tools as `abathur mcp`: " +
        "task_enqueue, task_plan_submit, task_get, task_list, task_claim, task_complete, task_fail, task_cancel, task_queue_status, task_execution_plan. " +
        "POST JSON-RPC messages with `Accept: application/json, text/event-stream`.",
      methods: ["post"],
      body: { schema: { type: "object", description: "A JSON-RPC 2.0 message (or a batch)." }, required: true },
      responses: { 200: { description: "The JSON-RPC answer.", content: { "application/json": { schema: { type: "object" } } } } }
    },
    // The MCP SDK is loaded on the first call, so that the server starts faster. Stateless: no
    // stream to open with GET, no session to end with DELETE.
    handler: Effect.flatMap(HttpServerRequest.HttpServerRequest, (req) =>
      req.method === "POST"
        ? Effect.flatMap(
            Effect.promise(() => import("./Mcp.js")),
            (m) => m.handleMcp(VERSION)
          )
        : Effect.succeed(mcpMethodNotAllowed)
    )
  },
  {
    method: "GET",
    path: "/healthz",
    doc: {
      tag: "server",
      summary: "Liveness",
      description: "200 while the server runs. Needs no token.",
      responses: { 200: { description: "Alive.", schema: "Health" } },
      public: true
    },
    handler: Effect.succeed(json({ status: "ok" }))
  },
  {
    method: "GET",
    path: "/metrics",
    doc: {
      tag: "server",
      summary: "Prometheus metrics",
      description:
        "Text exposition format: `abathur_tasks{status}` (from the database), `abathur_claims_total{result}`, `abathur_completions_total`, " +
        "`abathur_failures_total{outcome}`, `abathur_task_transitions_total{from,to}`, `abathur_claims_waiting`, `abathur_event_streams`, " +
        "and the histogram `abathur_http_request_duration_seconds{method,route,status}`.",
      responses: { 200: { description: "The metrics.", content: { "text/plain; version=0.0.4": { schema: { type: "string" } } } } }
    },
    handler: Effect.gen(function* () {
      const metrics = yield* Metrics
      return HttpServerResponse.text(yield* metrics.render, { contentType: "text/plain; version=0.0.4; charset=utf-8" })
    })
  },
  {
    method: "GET",
    path: "/openapi.json",
    doc: {
      tag: "server",
      summary: "This API as OpenAPI 3.1",
      description: "Generated from the same zod schemas the queue validates with.",
      responses: { 200: { description: "The document.", content: { "application/json": { schema: { type: "object" } } } } }
    },
    handler: Effect.sync(() => HttpServerResponse.text(openApiText(), { contentType: "application/json" }))
  },
  {
    method: "GET",
    path: "/docs",
    doc: {
      tag: "server",
      summary: "API reference",
      description: "This document as a page for people.",
      responses: { 200: { description: "HTML.", content: { "text/html": { schema: { type: "string" } } } } }
    },
    handler: Effect.sync(() => HttpServerResponse.text(docsPage(), { contentType: "text/html; charset=utf-8" }))
  },
  {
    method: "GET",
    path: "/",
    doc: {
      tag: "server",
      summary: "Dashboard",
      description:
        "The operator's dashboard: status and throughput, tasks (search, paging), the graph of open work, task pages with actions, workers and failures. " +
        "The page itself holds no data and needs no token; with a token, it asks for it (kept in the tab's sessionStorage) or takes `/?access_token=TOKEN`.",
      responses: { 200: { description: "HTML.", content: { "text/html": { schema: { type: "string" } } } } },
      public: true
    },
    handler: Effect.succeed(HttpServerResponse.text(dashboardHtml, { contentType: "text/html; charset=utf-8" }))
  },
  ...dashboardRoutes
]

const mcpMethodNotAllowed = errorResponse(
  new MethodNotAllowed({ message: "/mcp takes POST only (stateless streamable HTTP: no event stream to open with GET, no session to end)" }),
  { allow: "POST" }
)

let openApiCache: string | undefined
const openApiText = () => (openApiCache ??= JSON.stringify(openApiDocument(routes, VERSION), null, 2))
let docsCache: string | undefined
const docsPage = () => (docsCache ??= docsHtml(openApiDocument(routes, VERSION)))

// ---- the application -------------------------------------------------------------------------

/** Renders whatever a handler failed with as the contract's error document. */
const toResponse = (handler: Handler, method: string, route: string) =>
  handler.pipe(
    Effect.catchAll((error) =>
      typeof error === "object" && error !== null && "_tag" in error && typeof error._tag === "string" && "message" in error
        ? Effect.succeed(errorResponse(error as { _tag: string; message: string }))
        : Effect.as(Effect.logError(`${method} ${route} failed`, error), internalError("the server failed unexpectedly; see its log"))
    ),
    Effect.catchAllDefect((defect) =>
      defect instanceof BodyAborted
        ? Effect.as(
            Effect.logDebug(`${method} ${route}: the client went away while sending its body`),
            errorResponse(new ValidationError({ message: defect.message }))
          )
        : Effect.as(
            Effect.logError(`${method} ${route} failed`, Cause.pretty(Cause.die(defect))),
            internalError(defect instanceof Error ? `unexpected failure: ${defect.message}` : "the server failed unexpectedly; see its log")
          )
    )
  )

/** The URL without the token a browser may pass as `access_token`. */
const redacted = (url: string): string => url.replace(/([?&]access_token=)[^&]*/g, "$1***")

/**
 * Measures the request (by route pattern) and, when the log level lets debug records through,
 * logs it (the record and its annotations are built only then: this runs on every request).
 */
const observed = <R>(
  metrics: MetricsService,
  debug: boolean,
  method: string,
  route: string,
  handler: Effect.Effect<HttpServerResponse.HttpServerResponse, never, R>
) =>
  Effect.suspend(() => {
    const started = performance.now()
    return Effect.flatMap(handler, (response) => {
      const seconds = (performance.now() - started) / 1000
      metrics.observeRequest(method, route, response.status, seconds)
      if (!debug) return Effect.succeed(response)
      return Effect.flatMap(HttpServerRequest.HttpServerRequest, (req) =>
        Effect.as(
          Effect.logDebug("request").pipe(
            Effect.annotateLogs({ method: req.method, url: redacted(req.url), status: response.status, ms: Math.round(seconds * 100000) / 100 })
          ),
          response
        )
      )
    })
  })

const bearer = (header: string | undefined): string | undefined => {
  const m = header === undefined ? null : /^Bearer\s+(.+)$/i.exec(header.trim())
  return m?.[1]?.trim()
}

const sameSecret = (given: string, expected: string): boolean => {
  const a = Buffer.from(given)
  const b = Buffer.from(expected)
  return a.length === b.length && timingSafeEqual(a, b)
}

/** Methods whose requests carry no body the server reads. */
const bodiless = new Set(["GET", "HEAD"])

/**
 * The HTTP application: every route, the request guards, authentication (with a token, every
 * route but /healthz needs `Authorization: Bearer TOKEN`, or `?access_token=TOKEN` for browsers'
 * pages and event streams), 404 in the Error shape for anything else.
 *
 * Guards, before any route: a malformed Host is a 400. Without a token (a loopback server, which a
 * web page in a browser on this machine can reach), a Host that is not a loopback name or address
 * at this port (DNS rebinding) or an Origin that is not this server's is a 403 `Forbidden`; with a
 * token those two are left to the token. A body must be JSON (`Content-Type: application/json`),
 * else 415, whatever the token: a form or a `text/plain` fetch cannot post to the queue.
 */
export const makeApp = (options: {
  readonly token: string | null
  /** This server's host names at the port it listens on (known once it listens). */
  readonly own: () => OwnHosts
}) =>
  Effect.gen(function* () {
    const metrics = yield* Metrics
    const q = yield* TaskQueue
    const instrumented = metrics.instrument(q)
    // The level is fixed for the server's life (set around the whole program).
    const debug = LogLevel.lessThanEqual(yield* FiberRef.get(FiberRef.currentMinimumLogLevel), LogLevel.Debug)
    const observe = <R>(method: string, route: string, handler: Effect.Effect<HttpServerResponse.HttpServerResponse, never, R>) =>
      observed(metrics, debug, method, route, handler)
    const wakeup = yield* Wakeup
    metrics.registerGauge(
      "abathur_claims_waiting",
      "Claims waiting for work (HTTP long polls and MCP task_claim with waitSeconds).",
      wakeup.waitingClaims
    )
    metrics.registerGauge("abathur_event_streams", "Open GET /v1/events streams.", () => eventClients)

    const router = HttpRouter.fromIterable(
      routes.map((r) =>
        HttpRouter.makeRoute(r.method, r.path, observe(r.method, r.path, toResponse(r.handler, r.method, r.path)), {
          // A client that goes away must not cut a write between its commit and the publication of
          // its changes (wake-ups, events, metrics). Long polls and MCP stay interruptible; their
          // writes are guarded one by one.
          uninterruptible: (r.method === "POST" || r.method === "DELETE") && r.path !== "/v1/claims"
        })
      )
    )
    const publicPaths = new Set(routes.filter((r) => r.doc.public === true).map((r) => r.path as string))
    const unauthorized = errorResponse(new Unauthorized({ message: "this server needs a token: send Authorization: Bearer <ABATHUR_TOKEN>" }), {
      "www-authenticate": 'Bearer realm="abathur"'
    })

    const refuse = (method: string, error: { readonly _tag: string; readonly message: string }, status?: number) =>
      observe(method, "rejected", Effect.succeed(errorResponse(error, {}, status)))

    const app = Effect.gen(function* () {
      const req = yield* HttpServerRequest.HttpServerRequest
      // the raw Node request: no copy of its headers on every request
      const source = NodeHttpServerRequest.toIncomingMessage(req)
      const headers = source.headers
      const own = options.own()
      // origin-form only: an absolute URL (whose authority would stand for the Host) or `*` is refused
      if (source.url?.charCodeAt(0) !== 0x2f /* / */) {
        return yield* refuse(req.method, new ValidationError({ message: "the request target must be a path such as /v1/tasks" }))
      }
      const host = headers.host
      const verdict = host === undefined ? "malformed" : checkHost(host, own)
      if (verdict === "malformed") {
        return yield* refuse(
          req.method,
          new ValidationError({
            message:
              host === undefined
                ? "the request has no Host header"
                : `the Host header ${JSON.stringify(host)} is not a host name or address with an optional port (0-65535)`
          })
        )
      }
      if (verdict === "foreign" && options.token === null) {
        return yield* refuse(
          req.method,
          new Forbidden({
            message: `this server answers requests for its loopback address only, not for Host ${JSON.stringify(host)} (set ABATHUR_TOKEN to serve other names)`
          })
        )
      }
      if (options.token === null) {
        const origin = headers.origin
        if (origin !== undefined && !ownOrigin(origin, host, own)) {
          return yield* refuse(
            req.method,
            new Forbidden({
              message: `requests from other sites are refused: Origin ${JSON.stringify(origin)} is not this server (set ABATHUR_TOKEN to allow them)`
            })
          )
        }
      }
      if (options.token !== null) {
        const url = new URL(req.url, "http://localhost")
        if (!publicPaths.has(url.pathname)) {
          const given = bearer(req.headers["authorization"]) ?? url.searchParams.get("access_token") ?? undefined
          if (given === undefined || !sameSecret(given, options.token)) {
            return yield* observe(req.method, "unauthorized", Effect.succeed(unauthorized))
          }
        }
      }
      if (!bodiless.has(req.method)) {
        const type = headers["content-type"]
        const length = headers["content-length"]
        const hasBody = headers["transfer-encoding"] !== undefined || (length !== undefined && length !== "0")
        if (type !== undefined ? !isJsonMediaType(type) : hasBody) {
          return yield* refuse(
            req.method,
            new ValidationError({
              message: `the request body must be JSON: send Content-Type: application/json${type === undefined ? "" : ` (not ${JSON.stringify(type)})`}`
            }),
            415
          )
        }
      }
      return yield* router.pipe(
        Effect.catchTag("RouteNotFound", () =>
          observe(
            req.method,
            "unmatched",
            Effect.succeed(
              errorResponse(
                new NotFound({
                  message: `no route ${req.method} ${new URL(req.url, "http://localhost").pathname}: see /docs or /openapi.json for the API`
                })
              )
            )
          )
        )
      )
    }).pipe(Effect.provideService(TaskQueue, instrumented))
    return app
  })
