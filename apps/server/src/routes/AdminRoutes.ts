/** Operators' actions: cancel, retry, recover expired leases. */
import { Effect } from "effect"
import { optionalJson } from "../Body.js"
import { CancelInput, RetryInput } from "../Schemas.js"
import { actor, type ApiRoute, json, queue, strictBody, taskId, taskParam } from "./Route.js"

export const adminRoutes: ReadonlyArray<ApiRoute> = [
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
  }
]
