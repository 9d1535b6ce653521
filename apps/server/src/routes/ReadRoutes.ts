/** Reads of the whole queue: status, execution plan, hierarchy, dependency graph. */
import { HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Effect } from "effect"
import { type ApiRoute, json, many, one, query, queue } from "./Route.js"

export const readRoutes: ReadonlyArray<ApiRoute> = [
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
  }
]
