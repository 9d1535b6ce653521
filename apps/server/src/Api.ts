import { TaskQueue, ValidationError } from "@abathur/queue"
import { HttpRouter, HttpServerError, HttpServerRequest, type HttpServerResponse } from "@effect/platform"
import { NodeHttpServerRequest } from "@effect/platform-node"
import { Cause, Effect, Exit, FiberRef, LogLevel, Option, Runtime } from "effect"
import { timingSafeEqual } from "node:crypto"
import type { IncomingMessage, ServerResponse } from "node:http"
import { errorResponse, Forbidden, internalError, NotFound, Unauthorized } from "./ApiError.js"
import { BodyAborted } from "./Body.js"
import { dashboardRoutes } from "./DashboardApi.js"
import { checkHost, isJsonMediaType, type OwnHosts, ownOrigin } from "./Guard.js"
import { Metrics, type MetricsService } from "./Metrics.js"
import { adminRoutes } from "./routes/AdminRoutes.js"
import { dependencyRoutes } from "./routes/DependencyRoutes.js"
import { eventRoute, eventStreams } from "./routes/EventRoutes.js"
import { leaseRoutes } from "./routes/LeaseRoutes.js"
import { readRoutes } from "./routes/ReadRoutes.js"
import type { ApiRoute } from "./routes/Route.js"
import { serverRoutes } from "./routes/ServerRoutes.js"
import { taskRoutes } from "./routes/TaskRoutes.js"
import { type Shutdown, Wakeup } from "./Wakeup.js"

export type { ApiRoute } from "./routes/Route.js"

/**
 * Every route, in the order of the API document: each group in a module of its own under routes/
 * (tasks, dependencies, leases, operators' actions, reads, events, the server's own), the dashboard's
 * JSON reads last.
 */
export const routes: ReadonlyArray<ApiRoute> = [
  ...taskRoutes,
  ...dependencyRoutes,
  ...leaseRoutes,
  ...adminRoutes,
  ...readRoutes,
  eventRoute,
  ...serverRoutes(() => routes),
  ...dashboardRoutes
]

// ---- the application -------------------------------------------------------------------------

/** Renders whatever a handler failed with as the contract's error document. */
const toResponse = <R>(handler: Effect.Effect<HttpServerResponse.HttpServerResponse, unknown, R>, method: string, route: string) =>
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
      // (the fast path, which has no platform request, is off at the debug level)
      return Effect.flatMap(Effect.serviceOption(HttpServerRequest.HttpServerRequest), (req) =>
        Effect.as(
          Effect.logDebug("request").pipe(
            Effect.annotateLogs({
              method,
              url: Option.match(req, { onNone: () => route, onSome: (r) => redacted(r.url) }),
              status: response.status,
              ms: Math.round(seconds * 100000) / 100
            })
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

/**
 * Whether a route's handler runs to its end when the client goes away: a client must not cut a
 * write between its commit and the publication of its changes (wake-ups, events, metrics). Long
 * polls and MCP stay interruptible; their writes are guarded one by one.
 */
const uninterruptible = (r: ApiRoute): boolean => (r.method === "POST" || r.method === "DELETE") && r.path !== "/v1/claims"

/** A guard's answer: the response, and the route label its request is measured under. */
interface Refusal {
  readonly route: "rejected" | "unauthorized"
  readonly response: HttpServerResponse.HttpServerResponse
}

/** A task id the router would hand to its route as it is (a UUID's shape, in any case). */
const UUID_SHAPE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** Writes a worker route's response as the platform does (JSON, or an empty 204). */
const send = (out: ServerResponse, response: HttpServerResponse.HttpServerResponse): void => {
  if (out.writableEnded) return
  const body = response.body
  if (body._tag !== "Uint8Array" && body._tag !== "Empty") {
    send(out, internalError(`unexpected response body ${body._tag}`))
    return
  }
  out.writeHead(response.status, response.headers)
  if (body._tag === "Uint8Array") out.end(body.body)
  else out.end()
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
    metrics.registerGauge("abathur_event_streams", "Open GET /v1/events streams.", eventStreams)

    const router = HttpRouter.fromIterable(
      routes.map((r) =>
        HttpRouter.makeRoute(r.method, r.path, observe(r.method, r.path, toResponse(r.handler, r.method, r.path)), {
          uninterruptible: uninterruptible(r)
        })
      )
    )
    const publicPaths = new Set(routes.filter((r) => r.doc.public === true).map((r) => r.path as string))
    const unauthorized = errorResponse(new Unauthorized({ message: "this server needs a token: send Authorization: Bearer <ABATHUR_TOKEN>" }), {
      "www-authenticate": 'Bearer realm="abathur"'
    })

    const refusal = (error: { readonly _tag: string; readonly message: string }, status?: number): Refusal => ({
      route: "rejected",
      response: errorResponse(error, {}, status)
    })

    /** The guards (see above), in order: the first that refuses the request, or undefined when all let it through. */
    const screen = (source: IncomingMessage): Refusal | undefined => {
      const headers = source.headers
      const method = source.method ?? ""
      const own = options.own()
      // origin-form only: an absolute URL (whose authority would stand for the Host) or `*` is refused
      if (source.url?.charCodeAt(0) !== 0x2f /* / */) {
        return refusal(new ValidationError({ message: "the request target must be a path such as /v1/tasks" }))
      }
      const host = headers.host
      const verdict = host === undefined ? "malformed" : checkHost(host, own)
      if (verdict === "malformed") {
        return refusal(
          new ValidationError({
            message:
              host === undefined
                ? "the request has no Host header"
                : `the Host header ${JSON.stringify(host)} is not a host name or address with an optional port (0-65535)`
          })
        )
      }
      if (verdict === "foreign" && options.token === null) {
        return refusal(
          new Forbidden({
            message: `this server answers requests for its loopback address only, not for Host ${JSON.stringify(host)} (set ABATHUR_TOKEN to serve other names)`
          })
        )
      }
      if (options.token === null) {
        const origin = headers.origin
        if (origin !== undefined && !ownOrigin(origin, host, own)) {
          return refusal(
            new Forbidden({
              message: `requests from other sites are refused: Origin ${JSON.stringify(origin)} is not this server (set ABATHUR_TOKEN to allow them)`
            })
          )
        }
      }
      if (options.token !== null) {
        const url = new URL(source.url, "http://localhost")
        if (!publicPaths.has(url.pathname)) {
          const given = bearer(headers.authorization) ?? url.searchParams.get("access_token") ?? undefined
          if (given === undefined || !sameSecret(given, options.token)) return { route: "unauthorized", response: unauthorized }
        }
      }
      if (!bodiless.has(method)) {
        const type = headers["content-type"]
        const length = headers["content-length"]
        const hasBody = headers["transfer-encoding"] !== undefined || (length !== undefined && length !== "0")
        if (type !== undefined ? !isJsonMediaType(type) : hasBody) {
          return refusal(
            new ValidationError({
              message: `the request body must be JSON: send Content-Type: application/json${type === undefined ? "" : ` (not ${JSON.stringify(type)})`}`
            }),
            415
          )
        }
      }
      return undefined
    }

    const app = Effect.gen(function* () {
      const req = yield* HttpServerRequest.HttpServerRequest
      // the raw Node request: no copy of its headers on every request
      const refused = screen(NodeHttpServerRequest.toIncomingMessage(req))
      if (refused !== undefined) return yield* observe(req.method, refused.route, Effect.succeed(refused.response))
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

    // The fast path: the worker routes' requests that every guard lets through go straight to their
    // handler (the router's own `worker`), observed and rendered as the router does it, in one fiber,
    // without the platform's request, router and response. Everything else, refusals included, is
    // left to the application above. Not with debug logs (their record reads the platform's request).
    const runFork = Runtime.runFork(yield* Effect.runtime<TaskQueue | Wakeup | Shutdown>())
    const fastRoutes = routes.flatMap((r) => {
      const worker = r.worker
      if (worker === undefined || r.method !== "POST" || debug) return []
      const [prefix = "", suffix = ""] = r.path.split(":id")
      return [{ route: r, worker, prefix, suffix, hasId: r.path.includes(":id") }]
    })
    const fast = (source: IncomingMessage, response: ServerResponse): boolean => {
      if (source.method !== "POST" || fastRoutes.length === 0) return false
      const url = source.url ?? ""
      let id = ""
      const match = fastRoutes.find((f) => {
        if (!f.hasId) return url === f.prefix
        if (!url.startsWith(f.prefix) || !url.endsWith(f.suffix)) return false
        id = url.slice(f.prefix.length, url.length - f.suffix.length)
        // what the router would pass on unchanged (no escapes, no other segment); other ids go the long way
        return UUID_SHAPE.test(id)
      })
      if (match === undefined || screen(source) !== undefined) return false
      const { route, worker } = match
      const program = observe("POST", route.path, toResponse(worker({ id, source }), "POST", route.path)).pipe(
        Effect.provideService(TaskQueue, instrumented)
      )
      // (as the platform does: the runtime's flags, taken while the server starts, say uninterruptible)
      const fiber = runFork(uninterruptible(route) ? Effect.uninterruptible(program) : Effect.interruptible(program))
      fiber.addObserver((exit) => {
        if (Exit.isSuccess(exit)) send(response, exit.value)
        else if (!Cause.isInterruptedOnly(exit.cause)) send(response, internalError("the server failed unexpectedly; see its log"))
      })
      response.on("close", () => {
        if (!response.writableEnded) fiber.unsafeInterruptAsFork(HttpServerError.clientAbortFiberId)
      })
      return true
    }
    return { app, fast }
  })
