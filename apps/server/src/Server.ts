import { errorBody, type TaskQueue } from "@abathur/queue"
import { HttpMiddleware } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Data, Deferred, Duration, Effect, FiberRef, Logger, LogLevel, Option, type Scope } from "effect"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import type { Duplex } from "node:stream"
import { makeApp } from "./Api.js"
import { type OwnHosts, ownHosts } from "./Guard.js"
import type { Metrics } from "./Metrics.js"
import { Shutdown, type Wakeup } from "./Wakeup.js"

/** The server could not listen (address in use, no permission, unknown host). */
export class ListenError extends Data.TaggedError("ListenError")<{ readonly message: string }> {}

export interface ServeOptions {
  readonly port: number
  readonly host: string
  readonly token: string | null
  /** How long a shutdown waits for requests in flight before closing their connections. */
  readonly graceMillis?: number
}

/** A whole HTTP/1.1 answer in the Error shape, for sockets Node gave up parsing (then closed). */
const rawError = (status: number, reason: string, error: { readonly _tag: string; readonly message: string }): string => {
  const body = JSON.stringify(errorBody(error))
  return `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
}

/**
 * Requests Node cannot parse (a malformed request line or header, headers over 16 KiB, headers that
 * take too long) get the Error shape too, like the ones the application refuses, and the
 * connection is closed (Node's default answers with an empty 400).
 */
const answerClientError = (error: NodeJS.ErrnoException, socket: Duplex): void => {
  const pending = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage
  if (error.code === "ECONNRESET" || !socket.writable || pending?.headersSent === true) {
    socket.destroy()
    return
  }
  socket.on("error", () => socket.destroy())
  socket.end(
    error.code === "HPE_HEADER_OVERFLOW"
      ? rawError(431, "Request Header Fields Too Large", { _tag: "ValidationError", message: "the request's headers are larger than 16 KiB" })
      : error.code === "ERR_HTTP_REQUEST_TIMEOUT"
        ? rawError(408, "Request Timeout", { _tag: "RequestTimeout", message: "the request did not arrive in time" })
        : rawError(400, "Bad Request", { _tag: "ValidationError", message: `the request is not valid HTTP/1.1 (${error.code ?? error.message})` })
  )
}

const urlOf = (address: AddressInfo): string =>
  `http://${address.family === "IPv6" || address.address.includes(":") ? `[${address.address}]` : address.address}:${address.port}`

/**
 * Listens until the scope closes, then shuts down gracefully: stop accepting connections,
 * end long polls (204) and event streams, let requests in flight finish (closing each
 * connection once idle), and after `graceMillis` close whatever is left.
 */
export const serve = (options: ServeOptions): Effect.Effect<void, ListenError, Scope.Scope | TaskQueue | Metrics | Wakeup | Shutdown> =>
  Effect.gen(function* () {
    const shutdown = yield* Shutdown
    let own: OwnHosts = ownHosts(options.port) // the bound port once listening (`--port 0` picks one)
    const { app, fast } = yield* makeApp({ token: options.token, own: () => own })
    // No tracer is configured, so the platform's per-request span (URL parsing, header redaction,
    // attributes) went nowhere but cost CPU on every request (see BENCHMARKS.md, H1).
    const handler = yield* NodeHttpServer.makeHandler(app).pipe(HttpMiddleware.withTracerDisabledWhenEffect(() => true))
    // A request without Host is refused by the application, in the Error shape (Node's own check
    // would answer an empty 400).
    // The worker routes' fast path first (it leaves whatever it does not serve to the application).
    const server = Http.createServer({ keepAliveTimeout: 5_000, requestTimeout: 120_000, requireHostHeader: false }, (request, response) => {
      if (!fast(request, response)) handler(request, response)
    })
    server.on("clientError", answerClientError)
    server.on("connect", (_request: Http.IncomingMessage, socket: Duplex) => {
      socket.on("error", () => socket.destroy())
      socket.end(rawError(405, "Method Not Allowed", { _tag: "MethodNotAllowed", message: "this server is no proxy: CONNECT is not allowed" }))
    })

    yield* Effect.async<void, ListenError>((resume) => {
      const onError = (error: NodeJS.ErrnoException) =>
        resume(
          Effect.fail(
            new ListenError({
              message:
                error.code === "EADDRINUSE"
                  ? `cannot listen on ${options.host}:${options.port}: the address is in use (another server? pick another --port, or 0 for a free one)`
                  : `cannot listen on ${options.host}:${options.port}: ${error.message}`
            })
          )
        )
      server.once("error", onError)
      server.listen({ port: options.port, host: options.host }, () => {
        own = ownHosts((server.address() as AddressInfo).port)
        server.off("error", onError)
        resume(Effect.void)
      })
    })
    const address = server.address() as AddressInfo
    // The address line is printed at any level but `none`: scripts and tests read it.
    const minimum = yield* FiberRef.get(FiberRef.currentMinimumLogLevel)
    const visible = minimum._tag !== "None" && LogLevel.greaterThan(minimum, LogLevel.Info) ? LogLevel.Info : minimum
    yield* Effect.logInfo(`listening on ${urlOf(address)}`).pipe(
      Effect.annotateLogs({ auth: options.token === null ? "none" : "bearer" }),
      Logger.withMinimumLogLevel(visible)
    )

    yield* Effect.addFinalizer(() =>
      Effect.gen(function* () {
        yield* Effect.logInfo("shutting down: no new connections; finishing requests in flight")
        const closed = yield* Deferred.make<void>()
        server.close(() => Deferred.unsafeDone(closed, Effect.void))
        yield* Deferred.succeed(shutdown, undefined)
        server.closeIdleConnections()
        const sweeper = setInterval(() => server.closeIdleConnections(), 20)
        // (Finalizers run uninterruptibly: the wait must be interruptible for the timeout to end it.)
        const finished = yield* Deferred.await(closed).pipe(
          Effect.interruptible,
          Effect.timeout(Duration.millis(options.graceMillis ?? 1_200)),
          Effect.option
        )
        clearInterval(sweeper)
        if (Option.isNone(finished)) {
          yield* Effect.logWarning("requests still in flight after the grace period: closing their connections")
          server.closeAllConnections()
        }
        yield* Effect.logInfo("stopped listening")
      })
    )
  })
