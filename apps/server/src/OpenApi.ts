import { jsonSchemas } from "./Schemas.js"

type Json = Record<string, unknown>

/** A schema: a component's name, or an inline JSON Schema. */
export type SchemaRef = string | Json

export interface ParamDoc {
  readonly name: string
  readonly in: "query" | "path"
  readonly description: string
  readonly required?: boolean
  readonly schema: Json
  readonly explode?: boolean
}

export interface ResponseDoc {
  readonly description: string
  /** A JSON answer's schema. */
  readonly schema?: SchemaRef
  /** Other content types. */
  readonly content?: Readonly<Record<string, { readonly schema: Json }>>
}

/** What the API document says about one route. */
export interface OperationDoc {
  readonly tag: string
  readonly summary: string
  readonly description: string
  readonly params?: ReadonlyArray<ParamDoc>
  readonly body?: { readonly schema: SchemaRef; readonly required: boolean }
  readonly responses: Readonly<Record<number, ResponseDoc>>
  /** Error statuses the operation can answer (besides 401 with a token, 403 without, 413, 415 and 500). */
  readonly errors?: ReadonlyArray<number>
  /** Methods to document for a route registered for every method. */
  readonly methods?: ReadonlyArray<string>
  /** Needs no token. */
  readonly public?: boolean
}

export interface DocumentedRoute {
  readonly method: string
  readonly path: string
  readonly doc: OperationDoc
}

const ref = (s: SchemaRef): Json => (typeof s === "string" ? { $ref: `#/components/schemas/${s}` } : s)

const errorText: Readonly<Record<number, string>> = {
  400: "ValidationError: bad input (a field out of range, a bad id, malformed JSON, unknown fields or query parameters).",
  401: "Unauthorized: the server has a token and the request did not carry it.",
  403: "Forbidden: on a server without a token, a Host that is not a loopback name or address at its port, or an Origin that is not the server's own.",
  404: "TaskNotFound: a named task (or prerequisite, or parent) does not exist.",
  409: "DependencyCycle (with `cycle`), LimitExceeded (with `limit`, `max`, `actual`), InvalidTransition, LeaseMismatch or IdempotencyConflict (with `taskId`).",
  413: "PayloadTooLarge: the request body is over 1 MiB.",
  415: "ValidationError: the request body is not `Content-Type: application/json`.",
  500: "An unexpected failure (MigrationError, UnexpectedError)."
}

const errorResponse = (status: number): Json => ({
  description: errorText[status] ?? "An error.",
  content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } }
})

/** The OpenAPI 3.1 document of the routes, with components generated from the zod schemas. */
export const openApiDocument = (routes: ReadonlyArray<DocumentedRoute>, version: string): Json => {
  const paths: Record<string, Record<string, Json>> = {}
  for (const route of routes) {
    const { doc } = route
    const path = route.path.replace(/:([A-Za-z0-9_]+)/g, "{$1}")
    const methods = route.method === "*" ? (doc.methods ?? ["get", "post"]) : [route.method.toLowerCase()]
    const responses: Record<string, Json> = {}
    for (const [status, r] of Object.entries(doc.responses)) {
      const content: Record<string, Json> = {}
      if (r.schema !== undefined) content["application/json"] = { schema: ref(r.schema) }
      for (const [type, c] of Object.entries(r.content ?? {})) content[type] = { schema: c.schema }
      responses[status] = Object.keys(content).length === 0 ? { description: r.description } : { description: r.description, content }
    }
    const errors = new Set(doc.errors ?? [])
    if (doc.body !== undefined) {
      errors.add(400)
      errors.add(413)
      errors.add(415)
    }
    if (doc.public !== true) errors.add(401)
    errors.add(403)
    errors.add(500)
    for (const status of [...errors].sort()) responses[String(status)] = errorResponse(status)
    const operation: Json = {
      tags: [doc.tag],
      summary: doc.summary,
      description: doc.description,
      operationId: `${route.method === "*" ? "all" : route.method.toLowerCase()}${path.replace(/[^A-Za-z0-9]+(.)?/g, (_, c: string | undefined) => (c ?? "").toUpperCase())}`,
      ...(doc.params !== undefined && {
        parameters: doc.params.map((p) => ({
          name: p.name,
          in: p.in,
          description: p.description,
          required: p.in === "path" ? true : (p.required ?? false),
          schema: p.schema,
          ...(p.explode !== undefined && { style: "form", explode: p.explode })
        }))
      }),
      ...(doc.body !== undefined && {
        requestBody: { required: doc.body.required, content: { "application/json": { schema: ref(doc.body.schema) } } }
      }),
      responses,
      ...(doc.public === true && { security: [] })
    }
    const item = (paths[path] ??= {})
    for (const m of methods) item[m] = operation
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "Abathur task queue",
      version,
      description:
        "A task queue for swarms of AI agents. Submit tasks (with priorities, dependencies and subtasks), claim the most important ready one, " +
        'and report back. Errors are `{"error": {"_tag", "message", ...details}}` with the statuses listed per operation. ' +
        "Request bodies are JSON (at most 1 MiB) and unknown fields are refused. With a token configured (ABATHUR_TOKEN), every route " +
        "but /healthz and the dashboard's page needs `Authorization: Bearer TOKEN` (pages and event streams in a browser may pass `?access_token=TOKEN`). " +
        "Send `X-Abathur-Actor: NAME` to record who acts in the audit trail."
    },
    tags: [
      { name: "tasks", description: "Submitting and managing tasks." },
      { name: "workers", description: "Claiming work and reporting on it." },
      { name: "queue", description: "The queue as a whole." },
      { name: "agents", description: "The Model Context Protocol endpoint." },
      { name: "dashboard", description: "Bounded reads the dashboard pages through (graph data, a task's page, work logs, throughput)." },
      { name: "server", description: "Operations, documentation and the dashboard." }
    ],
    components: {
      schemas: jsonSchemas(),
      securitySchemes: { bearer: { type: "http", scheme: "bearer", description: "ABATHUR_TOKEN, when the server has one." } }
    },
    security: [{ bearer: [] }, {}],
    paths
  }
}
