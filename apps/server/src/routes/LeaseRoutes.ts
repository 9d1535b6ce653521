/**
 * Workers' side: claim (with long poll), heartbeat, complete, fail, release. The first four are worker
 * routes: the server serves them on its fast path too (see Api.ts), with the same handler.
 */
import { MAX_CLAIM_WAIT_SECONDS } from "@abathur/domain"
import { Effect } from "effect"
import { optionalJson, optionalJsonFrom, requireJsonFrom } from "../Body.js"
import { waitForWork } from "../Wakeup.js"
import { actor, actorOf, type ApiRoute, E400, json, noContent, queue, taskId, taskParam, workerRoute } from "./Route.js"

export const leaseRoutes: ReadonlyArray<ApiRoute> = [
  workerRoute({
    method: "POST",
    path: "/v1/claims",
    doc: {
      tag: "workers",
      summary: "Claim the next task",
      description:
        "Leases the most important READY task (optionally only of `agentType`) whose `notBefore` has passed, for `leaseSeconds` (default: the task's timeout). " +
        `With \`waitSeconds\` (at most ${MAX_CLAIM_WAIT_SECONDS}) the request waits for a task to become ready (long poll): it is woken as soon as one does, ` +
        "through this server or another process sharing the database, when a lease expires or when a delayed task's `notBefore` comes. " +
        '204 when nothing was ready in time. With `limit` (1..100), claims up to that many tasks in one transaction and answers `{"tasks": [Task]}`.',
      body: { schema: "ClaimInput", required: false },
      responses: {
        200: { description: "The claimed task with its lease token (with `limit`: ClaimedTasks).", schema: "ClaimedTask" },
        204: { description: "Nothing was ready (after waiting up to waitSeconds)." }
      },
      errors: E400
    },
    worker: (request) =>
      Effect.gen(function* () {
        const body = yield* optionalJsonFrom(request.source)
        const many = typeof body === "object" && body !== null && "limit" in body
        // Woken when this server makes a task ready, another process commits, a lease expires or a
        // delayed task's notBefore comes; a shutdown ends the wait (204).
        const tasks = yield* (yield* queue).claimWaiting(body, { waitForWork: yield* waitForWork })
        return tasks.length === 0 ? noContent : json(many ? { tasks } : tasks[0])
      })
  }),
  workerRoute({
    method: "POST",
    path: "/v1/tasks/:id/heartbeat",
    doc: {
      tag: "workers",
      summary: "Extend a lease",
      description: "Renews the lease of a RUNNING task for `leaseSeconds` (default: its timeout).",
      params: [taskParam],
      body: { schema: "HeartbeatInput", required: false },
      responses: { 200: { description: "The task with its new lease.", schema: "ClaimedTask" } },
      errors: [400, 404, 409]
    },
    worker: (request) =>
      Effect.gen(function* () {
        return json(yield* (yield* queue).heartbeat(request.id, yield* optionalJsonFrom(request.source)))
      })
  }),
  workerRoute({
    method: "POST",
    path: "/v1/tasks/:id/complete",
    doc: {
      tag: "workers",
      summary: "Complete a task",
      description:
        "Completes a RUNNING task with an optional JSON `result`; dependents whose last open prerequisite it was become READY. " +
        "Needs the claim's `leaseToken` (else 409 LeaseMismatch) unless `force: true` says an operator overrides the worker. " +
        "With `next` ({worker?, leaseSeconds?, agentType?}) the same transaction claims the next task: the answer adds `next` (a task or null).",
      params: [taskParam],
      body: { schema: "CompleteInput", required: false },
      responses: { 200: { description: "The task and the dependents it unblocked.", schema: "CompleteResult" } },
      errors: [400, 404, 409]
    },
    worker: (request) =>
      Effect.gen(function* () {
        return json(yield* (yield* queue).complete(request.id, yield* optionalJsonFrom(request.source), actorOf(request.source.headers)))
      })
  }),
  workerRoute({
    method: "POST",
    path: "/v1/tasks/:id/fail",
    doc: {
      tag: "workers",
      summary: "Fail an attempt",
      description:
        "Reports that a RUNNING task's attempt failed. It goes back to READY while retries remain; otherwise it FAILS and its open dependents are cancelled.",
      params: [taskParam],
      body: { schema: "FailInput", required: true },
      responses: { 200: { description: "The task, whether it was retried, and what was cancelled.", schema: "FailResult" } },
      errors: [400, 404, 409]
    },
    worker: (request) =>
      Effect.gen(function* () {
        const body = yield* requireJsonFrom(request.source, '"error": what went wrong')
        return json(yield* (yield* queue).fail(request.id, body, actorOf(request.source.headers)))
      })
  }),
  {
    method: "POST",
    path: "/v1/tasks/:id/release",
    doc: {
      tag: "workers",
      summary: "Give a task back",
      description: "A worker that stops (e.g. on shutdown) returns its RUNNING task to READY without spending a retry.",
      params: [taskParam],
      body: { schema: "ReleaseInput", required: false },
      responses: { 200: { description: "The task, READY again.", schema: "Task" } },
      errors: [400, 404, 409]
    },
    handler: Effect.gen(function* () {
      const id = yield* taskId
      return json(yield* (yield* queue).release(id, yield* optionalJson, yield* actor))
    })
  }
]
