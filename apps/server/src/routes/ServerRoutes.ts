/** The server's own routes: MCP over HTTP, liveness, metrics, the API document and its page, the dashboard. */
import { HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Effect } from "effect"
import { errorResponse, MethodNotAllowed } from "../ApiError.js"
import { dashboardHtml } from "../Dashboard.js"
import { docsHtml } from "../Docs.js"
import { Metrics } from "../Metrics.js"
import { openApiDocument } from "../OpenApi.js"
import { VERSION } from "../Version.js"
import { type ApiRoute, json } from "./Route.js"

const mcpMethodNotAllowed = errorResponse(
  new MethodNotAllowed({ message: "/mcp takes POST only (stateless streamable HTTP: no event stream to open with GET, no session to end)" }),
  { allow: "POST" }
)

/** `documented`: every route of the API, for /openapi.json and /docs (built once, on first request). */
export const serverRoutes = (documented: () => ReadonlyArray<ApiRoute>): ReadonlyArray<ApiRoute> => {
  let openApiCache: string | undefined
  const openApiText = () => (openApiCache ??= JSON.stringify(openApiDocument(documented(), VERSION), null, 2))
  let docsCache: string | undefined
  const docsPage = () => (docsCache ??= docsHtml(openApiDocument(documented(), VERSION)))
  return [
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
              Effect.promise(() => import("../Mcp.js")),
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
    }
  ]
}
