import {
  AddDependencyInput,
  type ClaimedTask,
  ClaimInput,
  CompleteInput,
  type ExecutionPlan,
  ExecutionPlanInput,
  FailInput,
  GraphFormat,
  HeartbeatInput,
  ListTasksInput,
  PruneInput,
  type QueueStatus,
  ReleaseInput,
  renderDot,
  renderMermaid,
  type Task,
  TaskId
} from "@abathur/domain"
import { type AuditEntry, TaskRepository } from "@abathur/storage"
import { Clock, Context, Effect, Layer, PubSub, type Queue, type Scope } from "effect"
import { Engine, type TaskChange, type TaskDetail, type TreeNode, validate } from "./Engine.js"
import { QueueConfig } from "./QueueConfig.js"
import { isQueueError, LeaseMismatch, type QueueError } from "./QueueError.js"

export interface Actor {
  /** Who acts (a worker or operator name), recorded in the audit trail. */
  readonly actor?: string | undefined
}

export interface ProgressOptions {
  readonly onProgress?: ((done: number, total: number) => void) | undefined
}

/** The queue service: every operation is one atomic transaction; a rejected one changes nothing. */
export interface TaskQueueService {
  readonly submit: (input: unknown, options?: Actor) => Effect.Effect<Task, QueueError>
  readonly submitPlan: (plan: unknown, options?: Actor & ProgressOptions) => Effect.Effect<{ tasks: Record<string, Task> }, QueueError>
  readonly addDependency: (dependentId: string, input: unknown, options?: Actor) => Effect.Effect<TaskDetail, QueueError>
  readonly claim: (input?: unknown) => Effect.Effect<ClaimedTask | null, QueueError>
  /** Claims up to `limit` (1..100, default 1) tasks in one transaction, best first; [] when none is ready. */
  readonly claimMany: (input?: unknown) => Effect.Effect<Array<ClaimedTask>, QueueError>
  readonly heartbeat: (id: string, input?: unknown) => Effect.Effect<ClaimedTask, QueueError>
  /**
   * Completes a RUNNING task (its lease token, or `force`). With `next`, claims the next task in
   * the same transaction and answers it as `next` (null when nothing is ready).
   */
  readonly complete: (id: string, input?: unknown, options?: Actor) => Effect.Effect<CompleteResult, QueueError>
  readonly fail: (id: string, input: unknown, options?: Actor) => Effect.Effect<{ task: Task; retried: boolean; cancelled: Array<string> }, QueueError>
  readonly release: (id: string, input?: unknown, options?: Actor) => Effect.Effect<Task, QueueError>
  readonly cancel: (id: string, options?: Actor & { readonly reason?: string }) => Effect.Effect<{ task: Task; cancelled: Array<string> }, QueueError>
  readonly retry: (id: string, options?: Actor) => Effect.Effect<{ task: Task; revived: Array<string> }, QueueError>
  readonly recover: () => Effect.Effect<{ recovered: Array<string> }, QueueError>
  readonly prune: (input?: unknown, options?: ProgressOptions) => Effect.Effect<{ deleted: number; ids: Array<string> }, QueueError>
  readonly get: (id: string) => Effect.Effect<TaskDetail, QueueError>
  readonly list: (input?: unknown) => Effect.Effect<Array<Task>, QueueError>
  readonly status: () => Effect.Effect<QueueStatus, QueueError>
  readonly executionPlan: (input?: unknown) => Effect.Effect<ExecutionPlan, QueueError>
  readonly tree: (id?: string) => Effect.Effect<TreeNode | Array<TreeNode>, QueueError>
  readonly graph: (id: string | undefined, format: unknown) => Effect.Effect<{ format: GraphFormat; text: string }, QueueError>
  readonly audit: (id: string) => Effect.Effect<Array<AuditEntry>, QueueError>
  /** Refreshes stored priorities whose time has come; returns how many. */
  readonly refreshPriorities: () => Effect.Effect<number, QueueError>
  /** State changes made through this service, after they commit. */
  readonly subscribe: Effect.Effect<Queue.Dequeue<TaskChange>, never, Scope.Scope>
  /**
   * Calls `listener` synchronously with the changes of every commit made through this service,
   * right after the commit, while the scope is open. For cheap bookkeeping (counters, wake-ups):
   * unlike `subscribe`, it resumes no fiber per commit. A listener that throws is ignored.
   */
  readonly onCommit: (listener: (changes: ReadonlyArray<TaskChange>) => void) => Effect.Effect<void, never, Scope.Scope>
  /** A number that changes whenever any connection (any process) commits to the database. */
  readonly dataVersion: () => Effect.Effect<number>
  /** When the earliest lease of a RUNNING task expires (ISO-8601), or null when no task runs. */
  readonly nextLeaseExpiry: () => Effect.Effect<string | null, QueueError>
}

/** What `complete` answers; `next` only when the input asked for it. */
export interface CompleteResult {
  readonly task: Task
  readonly unblocked: Array<string>
  readonly next?: ClaimedTask | null
}

const id = (raw: string): string => validate(TaskId, raw)

/** Claims up to `limit` tasks at `now`, best first, in the caller's transaction. */
const claimUpTo = (engine: Engine, input: ClaimInput, limit: number, now: number): Array<ClaimedTask> => {
  const claimed: Array<ClaimedTask> = []
  while (claimed.length < limit) {
    const task = engine.claim(input, now)
    if (task === null) break
    claimed.push(task)
  }
  return claimed
}

export const make = Effect.gen(function* () {
  const store = yield* TaskRepository
  const settings = yield* QueueConfig
  const engine = new Engine(store, settings)
  // Sliding: a slow subscriber (an SSE client) loses the oldest changes, never grows memory.
  const events = yield* PubSub.sliding<TaskChange>(16_384)
  // Publishing resumes every subscriber's fiber: skipped while nobody subscribes.
  let subscribers = 0
  const listeners = new Set<(changes: ReadonlyArray<TaskChange>) => void>()
  const committed = (changes: ReadonlyArray<TaskChange>): void => {
    for (const listener of listeners) {
      try {
        listener(changes)
      } catch {
        // A listener's failure is its own; the commit stands.
      }
    }
  }

  /** What a committed operation hands back: its result, after its changes went out. */
  const answer = <A>(result: A, changes: Array<TaskChange>): Effect.Effect<A, QueueError> => {
    if (changes.length === 0) return Effect.succeed(result)
    committed(changes)
    return subscribers === 0 ? Effect.succeed(result) : Effect.as(PubSub.publishAll(events, changes), result)
  }
  const failure = (error: unknown): Effect.Effect<never, QueueError> => (isQueueError(error) ? Effect.fail(error) : Effect.die(error))

  /**
   * Runs `f` in one write transaction at the current time; publishes its changes after commit.
   * The time is read once the write lock is held: another process may hold it for a while
   * (busy_timeout), and times read before the wait would run behind that process's commits.
   */
  const writeAlone = <A>(f: (now: number) => A): Effect.Effect<A, QueueError> =>
    Effect.clockWith((clock) =>
      // Uninterruptible: a committed change is always published.
      Effect.uninterruptible(Effect.suspend(() => {
        let result: A
        try {
          result = store.transaction(() => f(clock.unsafeCurrentTimeMillis()))
        } catch (error) {
          engine.takeChanges()
          return failure(error)
        }
        return answer(result, engine.takeChanges())
      }))
    )

  // Group commit: operations queued in this turn of the event loop, run together at its end.
  interface Pending {
    readonly run: (now: number) => unknown
    readonly clock: Clock.Clock
    readonly resume: (outcome: Effect.Effect<unknown, QueueError>) => void
  }
  let pending: Array<Pending> = []
  const flush = (): void => {
    const ops = pending
    pending = []
    const outcomes: Array<{ ok: true; value: unknown; changes: Array<TaskChange> } | { ok: false; error: unknown }> = []
    try {
      store.transaction(() => {
        for (const op of ops) {
          try {
            // Nested: a savepoint, rolled back alone when the operation throws.
            const value = store.transaction(() => op.run(op.clock.unsafeCurrentTimeMillis()))
            outcomes.push({ ok: true, value, changes: engine.takeChanges() })
          } catch (error) {
            engine.takeChanges()
            outcomes.push({ ok: false, error })
          }
        }
      })
    } catch (error) {
      // The lock or the commit failed: nothing of the batch was committed.
      engine.takeChanges()
      for (const op of ops) op.resume(failure(error))
      return
    }
    ops.forEach((op, i) => {
      const o = outcomes[i]!
      op.resume(o.ok ? answer(o.value, o.changes) : failure(o.error))
    })
  }
  const writeGrouped = <A>(f: (now: number) => A): Effect.Effect<A, QueueError> =>
    Effect.clockWith((clock) =>
      Effect.uninterruptible(
        Effect.async<A, QueueError>((resume) => {
          pending.push({ run: f, clock, resume: resume as Pending["resume"] })
          if (pending.length === 1) setImmediate(flush)
        })
      )
    )

  const write = settings.groupCommit === true ? writeGrouped : writeAlone

  /** Runs `f` against one read snapshot. */
  const read = <A>(f: (now: number) => A): Effect.Effect<A, QueueError> =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Effect.suspend(() => {
        try {
          return Effect.succeed(store.read(() => f(now)))
        } catch (error) {
          return isQueueError(error) ? Effect.fail(error) : Effect.die(error)
        }
      })
    )

  /**
   * A RUNNING task is its worker's: completing or failing it without the lease token is refused
   * unless an operator says `force`. (With a token, the engine checks that it is the current one.)
   */
  const guardLease = (taskId: string, leaseToken: string | undefined, force: boolean | undefined, action: "complete" | "fail"): void => {
    if (leaseToken !== undefined || force === true) return
    const task = store.getTask(taskId)
    if (task === null || task.status !== "running") return
    const holder = task.workerId === null ? "a worker" : `worker ${JSON.stringify(task.workerId)}`
    throw new LeaseMismatch({
      message:
        `task ${taskId} is running under the lease of ${holder} (claimed at ${task.startedAt ?? "?"}, lease until ` +
        `${task.leaseExpiresAt ?? "?"}), and no lease token was given, so this ${action} was refused and nothing changed: ` +
        `pass the lease token its claim returned (--lease-token, "leaseToken"), or --force (HTTP/MCP "force": true) ` +
        `to ${action} it as an operator overriding that worker`,
      taskId
    })
  }

  // No task stays PENDING once the engine has opened the database.
  yield* Effect.orDie(write((now) => engine.evaluatePending(now)))

  const service: TaskQueueService = {
    submit: (input, options) => write((now) => engine.submit(input, now, options?.actor ?? null)),
    submitPlan: (plan, options) =>
      write((now) => ({ tasks: engine.submitPlan(plan, now, options?.actor ?? null, options?.onProgress) })),
    addDependency: (dependentId, input, options) =>
      write((now) => {
        const dep = id(dependentId)
        const i = validate(AddDependencyInput, input)
        return engine.addDependency(dep, i.prerequisiteId, i.dependencyType, now, options?.actor ?? null)
      }),
    claim: (input = {}) => write((now) => engine.claim(validate(ClaimInput, input), now)),
    claimMany: (input = {}) =>
      write((now) => {
        const i = validate(ClaimInput, input)
        return claimUpTo(engine, i, i.limit ?? 1, now)
      }),
    heartbeat: (taskId, input = {}) => write((now) => engine.heartbeat(id(taskId), validate(HeartbeatInput, input), now)),
    complete: (taskId, input = {}, options) =>
      write((now): CompleteResult => {
        const tid = id(taskId)
        const i = validate(CompleteInput, input)
        guardLease(tid, i.leaseToken, i.force, "complete")
        const done = engine.complete(tid, i, now, options?.actor ?? null)
        if (i.next === undefined) return done
        // The worker's next task, in the same transaction: one commit for the pair.
        return { ...done, next: engine.claim(i.next, now) }
      }),
    fail: (taskId, input, options) =>
      write((now) => {
        const tid = id(taskId)
        const i = validate(FailInput, input)
        guardLease(tid, i.leaseToken, i.force, "fail")
        return engine.fail(tid, i, now, options?.actor ?? null)
      }),
    release: (taskId, input = {}, options) =>
      write((now) => engine.release(id(taskId), validate(ReleaseInput, input), now, options?.actor ?? null)),
    cancel: (taskId, options) => write((now) => engine.cancel(id(taskId), now, options?.actor ?? null, options?.reason)),
    retry: (taskId, options) => write((now) => engine.retry(id(taskId), now, options?.actor ?? null)),
    recover: () => write((now) => ({ recovered: engine.recover(now) })),
    prune: (input = {}, options) =>
      write((now) => {
        const i = validate(PruneInput, input)
        return engine.prune({ olderThanMs: i.olderThan, statuses: i.status, dryRun: i.dryRun }, now, options?.onProgress)
      }),
    get: (taskId) => read((now) => engine.detail(id(taskId), now)),
    list: (input = {}) =>
      read((now) => {
        const i = validate(ListTasksInput, input)
        return engine.list({
          ...(i.status !== undefined && { statuses: i.status }),
          ...(i.excludeStatus !== undefined && { excludeStatuses: i.excludeStatus }),
          ...(i.source !== undefined && { source: i.source }),
          ...(i.parentTaskId !== undefined && { parentTaskId: i.parentTaskId }),
          ...(i.limit !== undefined && { limit: i.limit })
        }, now)
      }),
    status: () => read(() => engine.status()),
    executionPlan: (input = {}) => read(() => engine.executionPlan(validate(ExecutionPlanInput, input).taskIds)),
    tree: (taskId) => read((now) => engine.tree(taskId === undefined ? undefined : id(taskId), now)),
    graph: (taskId, format) =>
      read((now) => {
        const f = validate(GraphFormat, format ?? "mermaid")
        const g = engine.graph(taskId === undefined ? undefined : id(taskId), now)
        return { format: f, text: f === "dot" ? renderDot(g.tasks, g.edges) : renderMermaid(g.tasks, g.edges) }
      }),
    audit: (taskId) => read(() => engine.audit_(id(taskId))),
    refreshPriorities: () => write((now) => engine.refreshDue(now)),
    subscribe: Effect.zipLeft(
      PubSub.subscribe(events),
      Effect.acquireRelease(Effect.sync(() => subscribers++), () => Effect.sync(() => subscribers--))
    ),
    onCommit: (listener) =>
      Effect.acquireRelease(Effect.sync(() => void listeners.add(listener)), () => Effect.sync(() => void listeners.delete(listener))),
    dataVersion: () => Effect.sync(() => store.dataVersion()),
    nextLeaseExpiry: () => read(() => store.nextLeaseExpiry())
  }
  return service
})

/** The queue service. */
export class TaskQueue extends Context.Tag("@abathur/queue/TaskQueue")<TaskQueue, TaskQueueService>() {
  static readonly make = make
  static readonly layer: Layer.Layer<TaskQueue, never, TaskRepository | QueueConfig> = Layer.effect(TaskQueue, make)
}

