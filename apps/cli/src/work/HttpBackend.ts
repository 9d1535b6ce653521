import { type ClaimedTask, MAX_CLAIM_WAIT_SECONDS, type TaskStatus } from "@abathur/domain"
import { InvalidTransition, LeaseMismatch, TaskNotFound, ValidationError } from "@abathur/queue"
import { Effect } from "effect"
import { BackendError, claimInput, type WorkBackend, type WorkError } from "./Backend.js"

/**
 * The worker over `abathur-server`'s HTTP API (`--server URL`, bearer token from ABATHUR_TOKEN).
 * Claims long-poll (`POST /v1/claims` with `waitSeconds`), so an idle worker costs one request
 * every few seconds and hears of new work as soon as the server does.
 */

interface ErrorDoc {
  readonly _tag?: unknown
  readonly message?: unknown
  readonly taskId?: unknown
  readonly status?: unknown
}

/** The queue's tagged error for an error document (so the worker can tell "lost" from "down"). */
const errorFrom = (status: number, body: unknown, what: string): WorkError => {
  const doc: ErrorDoc =
    typeof body === "object" && body !== null && "error" in body && typeof body.error === "object" && body.error !== null
      ? (body.error as ErrorDoc)
      : {}
  const message = typeof doc.message === "string" ? doc.message : `${what}: HTTP ${status}`
  const taskId = typeof doc.taskId === "string" ? doc.taskId : ""
  switch (doc._tag) {
    case "ValidationError":
      return new ValidationError({ message })
    case "TaskNotFound":
      return new TaskNotFound({ message, taskId })
    case "InvalidTransition":
      return new InvalidTransition({ message, taskId, status: typeof doc.status === "string" ? doc.status : "" })
    case "LeaseMismatch":
      return new LeaseMismatch({ message, taskId })
    case "Unauthorized":
      return new BackendError({ message: `${message} (the server wants a bearer token: set ABATHUR_TOKEN)`, transient: false })
  }
  return new BackendError({ message: `${what}: ${message}`, transient: status >= 500 || status === 429 })
}

export interface HttpBackendOptions {
  readonly server: string
  readonly token: string | undefined
  /** Extra time allowed for a request beyond its long-poll wait. */
  readonly requestTimeoutMs?: number
}

/** Checks and normalizes `--server URL`. */
export const parseServerUrl = (raw: string): URL | null => {
  try {
    const url = new URL(raw)
    if (url.protocol !== "http:" && url.protocol !== "https:") return null
    if (!url.pathname.endsWith("/")) url.pathname = `${url.pathname}/`
    return url
  } catch {
    return null
  }
}

export const httpBackend = (options: HttpBackendOptions): WorkBackend => {
  const base = parseServerUrl(options.server)
  if (base === null) throw new ValidationError({ message: `--server ${JSON.stringify(options.server)} is not an http(s) URL` })
  const extra = options.requestTimeoutMs ?? 15_000
  const headers: Record<string, string> = { "content-type": "application/json", accept: "application/json" }
  if (options.token !== undefined && options.token !== "") headers["authorization"] = `Bearer ${options.token}`

  /** One request; resolves to [status, parsed body or null]. */
  const request = (method: "GET" | "POST", path: string, body: unknown, waitSeconds = 0): Effect.Effect<[number, unknown], WorkError> =>
    Effect.tryPromise({
      try: async (signal) => {
        const timeout = AbortSignal.timeout(waitSeconds * 1000 + extra)
        const response = await fetch(new URL(path, base), {
          method,
          headers,
          ...(body !== undefined && { body: JSON.stringify(body) }),
          signal: AbortSignal.any([signal, timeout])
        })
        const text = await response.text()
        let parsed: unknown = null
        if (text !== "") {
          try {
            parsed = JSON.parse(text)
          } catch {
            parsed = text
          }
        }
        return [response.status, parsed] as [number, unknown]
      },
      catch: (error) =>
        new BackendError({
          message: `cannot reach ${base.origin} (${method} /${path}): ${error instanceof Error ? ((error.cause as Error | undefined)?.message ?? error.message) : String(error)}`,
          transient: true
        })
    })

  const call = <A>(method: "GET" | "POST", path: string, body: unknown, what: string, waitSeconds = 0) =>
    Effect.flatMap(
      request(method, path, body, waitSeconds),
      ([status, parsed]): Effect.Effect<A | null, WorkError> =>
        status === 204
          ? Effect.succeed(null)
          : status >= 200 && status < 300
            ? Effect.succeed(parsed as A)
            : Effect.fail(errorFrom(status, parsed, what))
    )

  const task = (id: string) => `v1/tasks/${encodeURIComponent(id)}`

  return {
    label: base.href,
    childEnv: { ABATHUR_SERVER: base.href.replace(/\/$/, "") },
    longPoll: true,
    claim: (r, waitSeconds) =>
      call<ClaimedTask>(
        "POST",
        "v1/claims",
        { ...claimInput(r), waitSeconds: Math.max(0, Math.min(MAX_CLAIM_WAIT_SECONDS, waitSeconds)) },
        "claim",
        waitSeconds
      ),
    claimMany: (r, limit, waitSeconds) =>
      Effect.map(
        call<{ tasks?: ReadonlyArray<ClaimedTask> }>(
          "POST",
          "v1/claims",
          { ...claimInput(r), limit, waitSeconds: Math.max(0, Math.min(MAX_CLAIM_WAIT_SECONDS, waitSeconds)) },
          "claim",
          waitSeconds
        ),
        (body) => body?.tasks ?? []
      ),
    heartbeat: (id, leaseToken, leaseSeconds) => Effect.asVoid(call("POST", `${task(id)}/heartbeat`, { leaseToken, leaseSeconds }, "heartbeat")),
    complete: (id, leaseToken, result, next) =>
      Effect.map(
        call<{ next?: ClaimedTask | null }>(
          "POST",
          `${task(id)}/complete`,
          { leaseToken, result, ...(next !== undefined && { next: claimInput(next) }) },
          "complete"
        ),
        (body) => (next === undefined ? undefined : (body?.next ?? null))
      ),
    fail: (id, leaseToken, error) =>
      Effect.map(call<{ retried?: unknown }>("POST", `${task(id)}/fail`, { leaseToken, error }, "fail"), (r) => ({ retried: r?.retried === true })),
    release: (id, leaseToken, reason) =>
      // The contract has no release route yet: try one, else let the lease lapse within a second
      // (the server's recovery then returns the task to READY, counting a retry).
      call("POST", `${task(id)}/release`, { leaseToken, reason }, "release").pipe(
        Effect.asVoid,
        Effect.catchIf(
          (e) => e._tag === "BackendError" || e._tag === "ValidationError",
          () => Effect.asVoid(call("POST", `${task(id)}/heartbeat`, { leaseToken, leaseSeconds: 1 }, "release (short lease)"))
        )
      ),
    openCounts: () =>
      Effect.map(call<{ byStatus?: Record<string, unknown> }>("GET", "v1/status", undefined, "status"), (s) => ({
        ready: Number(s?.byStatus?.["ready"] ?? 0),
        running: Number(s?.byStatus?.["running"] ?? 0)
      })),
    statusOf: (id) =>
      call<{ status?: TaskStatus }>("GET", task(id), undefined, "show").pipe(
        Effect.map((t) => t?.status ?? null),
        Effect.catchTag("TaskNotFound", () => Effect.succeed(null))
      ),
    version: null
  }
}
