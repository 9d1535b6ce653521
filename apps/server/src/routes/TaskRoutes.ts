/** Tasks: submit one or a plan, list, show, audit trail. */
import { Effect } from "effect"
import { requireJson } from "../Body.js"
import { actor, type ApiRoute, defined, E400, json, many, numeric, one, query, queue, taskId, taskParam } from "./Route.js"

export const taskRoutes: ReadonlyArray<ApiRoute> = [
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
  }
]
