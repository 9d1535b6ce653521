/**
 * What every route module shares: the route's type (its handler and its entry in the API document)
 * and the small readers of requests and writers of answers the handlers use.
 */
import { formatIssues } from "@abathur/domain"
import { TaskQueue, ValidationError } from "@abathur/queue"
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { NodeHttpServerRequest } from "@effect/platform-node"
import { Effect } from "effect"
import type { IncomingMessage } from "node:http"
import type * as z from "zod"
import type { Metrics } from "../Metrics.js"
import type { OperationDoc } from "../OpenApi.js"
import type { Shutdown, Wakeup } from "../Wakeup.js"

/** What a route handler may use. */
export type Env =
  | TaskQueue
  | Wakeup
  | Shutdown
  | Metrics
  | HttpServerRequest.HttpServerRequest
  | HttpRouter.RouteContext
  | HttpServerRequest.ParsedSearchParams

export type Handler = Effect.Effect<HttpServerResponse.HttpServerResponse, unknown, Env>

/** What a worker route reads of a request: the task id in its path ("" without one) and the Node request (body, headers). */
export interface WorkerRequest {
  readonly id: string
  readonly source: IncomingMessage
}

/** A handler of a WorkerRequest: it needs neither the platform's request nor the router's context. */
export type WorkerHandler = (request: WorkerRequest) => Effect.Effect<HttpServerResponse.HttpServerResponse, unknown, TaskQueue | Wakeup | Shutdown>

export interface ApiRoute {
  readonly method: "GET" | "POST" | "DELETE" | "*"
  /** In the router's syntax (`/v1/tasks/:id`). */
  readonly path: HttpRouter.PathInput
  readonly doc: OperationDoc
  readonly handler: Handler
  /** The hot worker routes' handler (`handler` calls it): the server's fast path calls it without the router. */
  readonly worker?: WorkerHandler
}

/** The request being handled, as a WorkerRequest. */
const workerRequest: Effect.Effect<WorkerRequest, never, HttpServerRequest.HttpServerRequest | HttpRouter.RouteContext> = Effect.zipWith(
  HttpRouter.params,
  HttpServerRequest.HttpServerRequest,
  (params, request) => ({ id: params["id"] ?? "", source: NodeHttpServerRequest.toIncomingMessage(request) })
)

/** A worker route: `handler` serves `worker` through the router; the fast path calls `worker` itself. */
export const workerRoute = (route: Omit<ApiRoute, "handler" | "worker"> & { readonly worker: WorkerHandler }): ApiRoute => ({
  ...route,
  handler: Effect.flatMap(workerRequest, route.worker)
})

export const json = (body: unknown, status = 200) => HttpServerResponse.unsafeJson(body, { status })
export const noContent = HttpServerResponse.empty({ status: 204 })

export const queue = TaskQueue
export const taskId = Effect.map(HttpRouter.params, (p) => p["id"] ?? "")

/** Who acts, from the optional `X-Abathur-Actor` header (kept in the audit trail). */
export const actorOf = (headers: Readonly<Record<string, string | ReadonlyArray<string> | undefined>>): { readonly actor?: string } => {
  const a = headers["x-abathur-actor"]
  return typeof a !== "string" || a.trim() === "" ? {} : { actor: a.trim() }
}

export const actor = Effect.map(HttpServerRequest.HttpServerRequest, (req) => actorOf(req.headers))

const searchParams = Effect.map(HttpServerRequest.HttpServerRequest, (req) => new URL(req.url, "http://localhost").searchParams)

/** The query parameters, refusing unknown names (a typo should not pass silently). */
export const query = (allowed: ReadonlyArray<string>) =>
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
export const many = (params: URLSearchParams, name: string): Array<string> | undefined => {
  const values = params
    .getAll(name)
    .flatMap((v) => v.split(","))
    .map((v) => v.trim())
    .filter((v) => v !== "")
  return values.length === 0 ? undefined : values
}

export const one = (params: URLSearchParams, name: string): string | undefined => {
  const v = params.get(name)
  return v === null || v.trim() === "" ? undefined : v.trim()
}

/** A number when the text is one, else the text (so that the schema explains what is wrong). */
export const numeric = (v: string | undefined): number | string | undefined => (v !== undefined && /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : v)

/** Raw input (query text not yet checked): the queue validates it at run time. */
export const defined = (o: Readonly<Record<string, unknown>>): Readonly<Record<string, unknown>> =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined))

/** Validates a body the server reads itself (the queue validates the others). */
export const strictBody = <S extends z.ZodType>(schema: S, body: unknown): Effect.Effect<z.output<S>, ValidationError> => {
  const r = schema.safeParse(body)
  return r.success ? Effect.succeed(r.data) : Effect.fail(new ValidationError({ message: formatIssues(r.error) }))
}
export const E400 = [400] as const
export const taskParam = {
  name: "id",
  in: "path",
  required: true,
  description: "The task's id (a UUID).",
  schema: { type: "string", format: "uuid" }
} as const
