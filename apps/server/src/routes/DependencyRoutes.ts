/** A task's prerequisites: add one, remove one. */
import { HttpRouter } from "@effect/platform"
import { Effect } from "effect"
import { requireJson } from "../Body.js"
import { actor, type ApiRoute, json, queue, taskId, taskParam } from "./Route.js"

export const dependencyRoutes: ReadonlyArray<ApiRoute> = [
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
  }
]
