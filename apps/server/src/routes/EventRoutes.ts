/** Server-sent events: `GET /v1/events`, the queue's changes as they commit. */
import { TaskQueue, ValidationError } from "@abathur/queue"
import { HttpServerResponse } from "@effect/platform"
import { Deferred, Effect, Schedule, Stream } from "effect"
import { Shutdown, Wakeup } from "../Wakeup.js"
import { type ApiRoute, E400, numeric, one, query } from "./Route.js"

let eventClients = 0

/** How many event streams are open (a gauge of the metrics). */
export const eventStreams = (): number => eventClients

const encoder = new TextEncoder()

const events = Effect.gen(function* () {
  const params = yield* query(["heartbeatSeconds"])
  const raw = numeric(one(params, "heartbeatSeconds")) ?? 15
  if (typeof raw !== "number" || raw < 1 || raw > 300) {
    return yield* Effect.fail(new ValidationError({ message: "heartbeatSeconds must be a number from 1 to 300" }))
  }
  const q = yield* TaskQueue
  const wakeup = yield* Wakeup
  const shutdown = yield* Shutdown
  const stream = Stream.unwrapScoped(
    Effect.gen(function* () {
      const changes = yield* q.subscribe
      const external = yield* wakeup.external
      yield* wakeup.interest
      yield* Effect.acquireRelease(
        Effect.sync(() => eventClients++),
        () => Effect.sync(() => eventClients--)
      )
      return Stream.mergeAll(
        [
          Stream.succeed("retry: 2000\n: connected\n\n"),
          Stream.fromQueue(changes).pipe(Stream.map((c) => `event: task\ndata: ${JSON.stringify(c)}\n\n`)),
          Stream.fromQueue(external).pipe(Stream.map((v) => `event: sync\ndata: ${JSON.stringify({ dataVersion: v })}\n\n`)),
          Stream.fromSchedule(Schedule.spaced(`${raw} seconds`)).pipe(Stream.map(() => `: heartbeat ${new Date().toISOString()}\n\n`))
        ],
        { concurrency: "unbounded" }
      )
    })
  ).pipe(
    Stream.interruptWhen(Deferred.await(shutdown)),
    Stream.map((s) => encoder.encode(s))
  )
  return HttpServerResponse.stream(stream, {
    contentType: "text/event-stream; charset=utf-8",
    headers: { "cache-control": "no-cache", "x-accel-buffering": "no" }
  })
})

export const eventRoute: ApiRoute = {
  method: "GET",
  path: "/v1/events",
  doc: {
    tag: "queue",
    summary: "Task events (server-sent events)",
    description:
      "A text/event-stream of state changes: `event: task` with data `{taskId, from, to, at}` (TaskChange) for every change " +
      "this server commits; `event: sync` with `{dataVersion}` when another process changed the database (refetch what you show); " +
      "comment lines (`: heartbeat`) every `heartbeatSeconds` keep the connection open. The stream starts with `: connected`.",
    params: [
      {
        name: "heartbeatSeconds",
        in: "query",
        description: "Seconds between heartbeats (1..300, default 15).",
        schema: { type: "integer", minimum: 1, maximum: 300 }
      }
    ],
    responses: { 200: { description: "The event stream.", content: { "text/event-stream": { schema: { type: "string" } } } } },
    errors: E400
  },
  handler: events
}
