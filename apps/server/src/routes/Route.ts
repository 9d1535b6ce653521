/**
 * What every route module shares: the route's type (its handler and its entry in the API document)
 * and the small readers of requests and writers of answers the handlers use.
 */
import { formatIssues } from "@abathur/domain"
import { TaskQueue, ValidationError } from "@abathur/queue"
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Effect } from "effect"
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

export interface ApiRoute {
  readonly method: "GET" | "POST" | "DELETE" | "*"
  /** In the router's syntax (`/v1/tasks/:id`). */
  readonly path: HttpRouter.PathInput
  readonly doc: OperationDoc
  readonly handler: Handler
}

export const json = (body: unknown, status = 200) => HttpServerResponse.unsafeJson(body, { status })
export const noContent = HttpServerResponse.empty({ status: 204 })

export const queue = TaskQueue
export const taskId = Effect.map(HttpRouter.params, (p) => p["id"] ?? "")

/** Who acts, from the optional `X-Abathur-Actor` header (kept in the audit trail). */
export const actor = Effect.map(HttpServerRequest.HttpServerRequest, (req) => {
  const a = req.headers["x-abathur-actor"]
  return a === undefined || a.trim() === "" ? {} : { actor: a.trim() }
})

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
