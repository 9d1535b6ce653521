import type { ClaimedTask, JsonValue, TaskStatus } from "@abathur/domain"
import type { QueueError, TaskQueueService } from "@abathur/queue"
import { Data, Effect } from "effect"
import { watch } from "node:fs"

/**
 * The queue operations a worker needs, over the in-process queue (one SQLite file shared with
 * other processes) or over the HTTP API of `abathur-server`. Business rules stay in the queue:
 * the worker only claims, renews, reports and gives back.
 */

/** The queue could not be reached or answered out of contract (HTTP only). */
export class BackendError extends Data.TaggedError("BackendError")<{
  readonly message: string
  /** Worth trying again later (connection refused, 5xx, timeout). */
  readonly transient: boolean
}> {}

export type WorkError = QueueError | BackendError

export interface ClaimRequest {
  readonly worker: string
  readonly leaseSeconds?: number | undefined
  readonly agentType?: string | undefined
}

/** A task's successful end, as the worker reports it. */
export interface Completion {
  readonly id: string
  readonly leaseToken: string
  readonly result: JsonValue
}

export interface WorkBackend {
  /** Where the tasks come from, for messages. */
  readonly label: string
  /** What the children get in their environment to reach the same queue. */
  readonly childEnv: Readonly<Record<string, string>>
  /**
   * Claims the most important ready task. `waitSeconds > 0` waits for one (long poll) when the
   * backend can (`longPoll`); otherwise it answers at once.
   */
  readonly claim: (request: ClaimRequest, waitSeconds: number) => Effect.Effect<ClaimedTask | null, WorkError>
  /** Claims up to `limit` tasks in one transaction, best first ([] when none); waits like `claim`. */
  readonly claimMany: (request: ClaimRequest, limit: number, waitSeconds: number) => Effect.Effect<ReadonlyArray<ClaimedTask>, WorkError>
  readonly longPoll: boolean
  readonly heartbeat: (id: string, leaseToken: string, leaseSeconds: number) => Effect.Effect<void, WorkError>
  /**
   * Completes a task. With `next`, claims the worker's next task in the same transaction and
   * answers it (null when none was ready); without, answers undefined.
   */
  readonly complete: (
    id: string,
    leaseToken: string,
    result: JsonValue,
    next?: ClaimRequest
  ) => Effect.Effect<ClaimedTask | null | undefined, WorkError>
  /**
   * Completes several tasks in one transaction, in order (the in-process stores only: absent over
   * HTTP); with `next`, claims up to `next.limit` tasks in it and answers them. One refused item
   * refuses the batch, and nothing is written.
   */
  readonly completeMany?:
    | ((
        items: ReadonlyArray<Completion>,
        next?: { readonly request: ClaimRequest; readonly limit: number }
      ) => Effect.Effect<ReadonlyArray<ClaimedTask>, WorkError>)
    | undefined
  readonly fail: (id: string, leaseToken: string, error: string) => Effect.Effect<{ readonly retried: boolean }, WorkError>
  /** A RUNNING task back to READY without spending a retry. */
  readonly release: (id: string, leaseToken: string, reason: string) => Effect.Effect<void, WorkError>
  /** How many tasks are READY and RUNNING in the whole queue. */
  readonly openCounts: () => Effect.Effect<{ readonly ready: number; readonly running: number }, WorkError>
  /** A task's status now, or null when it no longer exists. */
  readonly statusOf: (id: string) => Effect.Effect<TaskStatus | null, WorkError>
  /**
   * A number that changes whenever another process commits to the queue: cheap enough to poll
   * every 50 ms. Null when the backend cannot tell (then it long-polls).
   */
  readonly version: (() => Effect.Effect<number>) | null
  /**
   * Calls `onChange` soon after the queue may have changed (e.g. a file watch); returns the way
   * to stop, or null when it cannot watch. Either way, or after `onBroken`, `version` is polled.
   */
  readonly watch?: ((onChange: () => void, onBroken: () => void) => (() => void) | null) | undefined
  /**
   * When the earliest READY task waiting for its `notBefore` (a delayed start, a retry backoff)
   * becomes claimable (ISO-8601, possibly past), or null: no commit announces that instant, so
   * an idle worker sets a timer for it. Absent for backends that long-poll (the server wakes them).
   */
  readonly nextNotBefore?: (() => Effect.Effect<string | null, WorkError>) | undefined
}

/** A claim request as the queue's input (no undefined fields). */
export const claimInput = (request: ClaimRequest) => ({
  worker: request.worker,
  ...(request.leaseSeconds !== undefined && { leaseSeconds: request.leaseSeconds }),
  ...(request.agentType !== undefined && { agentType: request.agentType })
})

/** The worker over the in-process queue service (the database file at `dbPath`). */
export const localBackend = (queue: TaskQueueService, dbPath: string): WorkBackend => ({
  label: dbPath,
  childEnv: { ABATHUR_DB: dbPath },
  longPoll: false,
  claim: (request) => queue.claim(claimInput(request)),
  claimMany: (request, limit) => queue.claimMany({ ...claimInput(request), limit }),
  heartbeat: (id, leaseToken, leaseSeconds) => Effect.asVoid(queue.heartbeat(id, { leaseToken, leaseSeconds })),
  complete: (id, leaseToken, result, next) =>
    Effect.map(queue.complete(id, { leaseToken, result, ...(next !== undefined && { next: claimInput(next) }) }), (r) => r.next),
  completeMany: (items, next) =>
    Effect.map(
      queue.completeMany(
        items.map(({ id, leaseToken, result }) => ({ id, leaseToken, result })),
        next === undefined ? {} : { next: { ...claimInput(next.request), limit: next.limit } }
      ),
      (r) => r.next
    ),
  fail: (id, leaseToken, error) => Effect.map(queue.fail(id, { leaseToken, error }), (r) => ({ retried: r.retried })),
  release: (id, leaseToken, reason) => Effect.asVoid(queue.release(id, { leaseToken, reason })),
  openCounts: () => Effect.map(queue.status(), (s) => ({ ready: s.byStatus.ready, running: s.byStatus.running })),
  statusOf: (id) =>
    queue.get(id).pipe(
      Effect.map((t): TaskStatus | null => t.status),
      Effect.catchTag("TaskNotFound", () => Effect.succeed(null))
    ),
  version: () => queue.dataVersion(),
  nextNotBefore: () => queue.nextNotBefore(),
  // Every commit, from any process, writes to the WAL file: a watch on it is free while idle.
  watch: (onChange, onBroken) => {
    try {
      const watcher = watch(`${dbPath}-wal`, { persistent: false }, () => onChange())
      watcher.on("error", () => {
        watcher.close()
        onBroken()
      })
      return () => watcher.close()
    } catch {
      return null
    }
  }
})

/** The errors that mean the task is no longer this worker's: cancelled, reclaimed or deleted. */
export const isLost = (error: WorkError): boolean =>
  error._tag === "InvalidTransition" || error._tag === "LeaseMismatch" || error._tag === "TaskNotFound"
