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
  RemoveDependencyInput,
  renderDot,
  renderMermaid,
  type Task,
  TaskId
} from "@abathur/domain"
import { type AuditEntry, TaskRepository } from "@abathur/storage"
import { Clock, Context, Effect, Layer, PubSub, type Queue, type Scope } from "effect"
import { Engine, type SubmitDefaults, type TaskChange, type TaskDetail, type TreeNode, validate } from "./Engine.js"
import { QueueConfig } from "./QueueConfig.js"
import { isQueueError, type QueueError } from "./QueueError.js"

export interface Actor {
  /** Who acts (a worker or operator name), recorded in the audit trail. */
  readonly actor?: string | undefined
}

/** Options of `submit` and `submitPlan`: who acts, and the source of a task that names none. */
export interface SubmitOptions extends Actor, SubmitDefaults {}

export interface ProgressOptions {
  readonly onProgress?: ((done: number, total: number) => void) | undefined
}

/** The queue service: every operation is one atomic transaction; a rejected one changes nothing. */
export interface TaskQueueService {
  /**
   * Submits a task. With an `idempotencyKey` that names a task submitted with the same fields,
   * returns that task and creates nothing (different fields: IdempotencyConflict).
   */
  readonly submit: (input: unknown, options?: SubmitOptions) => Effect.Effect<Task, QueueError>
  /** As `submit`, and says whether it created the task (false: an idempotent repeat; HTTP 200 instead of 201). */
  readonly submitWithOutcome: (input: unknown, options?: SubmitOptions) => Effect.Effect<{ task: Task; created: boolean }, QueueError>
  /** Submits a plan, all or nothing; with the plan's `idempotencyKey`, posting it again returns the same tasks. */
  readonly submitPlan: (plan: unknown, options?: SubmitOptions & ProgressOptions) => Effect.Effect<{ tasks: Record<string, Task> }, QueueError>
  /** As `submitPlan`, and says whether it created the tasks (false: an idempotent repeat). */
  readonly submitPlanWithOutcome: (
    plan: unknown,
    options?: SubmitOptions & ProgressOptions
  ) => Effect.Effect<{ tasks: Record<string, Task>; created: boolean }, QueueError>
  /** Adds an edge; `input` is `{prerequisiteId, dependencyType?, onFailure?}`. */
  readonly addDependency: (dependentId: string, input: unknown, options?: Actor) => Effect.Effect<TaskDetail, QueueError>
  /**
   * Removes the edge `dependent -> prerequisite` (TaskNotFound when there is none; the dependent
   * must be PENDING, BLOCKED or READY). Returns the dependent, READY when that was its last open edge.
   */
  readonly removeDependency: (dependentId: string, prerequisiteId: string, options?: Actor) => Effect.Effect<TaskDetail, QueueError>
  readonly claim: (input?: unknown) => Effect.Effect<ClaimedTask | null, QueueError>
  readonly heartbeat: (id: string, input?: unknown) => Effect.Effect<ClaimedTask, QueueError>
  readonly complete: (id: string, input?: unknown, options?: Actor) => Effect.Effect<{ task: Task; unblocked: Array<string> }, QueueError>
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
  /**
   * When the earliest READY task waiting for its `notBefore` (a delayed start or a retry backoff)
   * becomes claimable (ISO-8601; possibly already past), or null when none waits. Long polls and
   * workers wake then (no commit announces it).
   */
  readonly nextNotBefore: () => Effect.Effect<string | null, QueueError>
}

const id = (raw: string): string => validate(TaskId, raw)

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

  // No task stays PENDING once the engine has opened the database.
  yield* Effect.orDie(write((now) => engine.evaluatePending(now)))

  const service: TaskQueueService = {
    submit: (input, options) => write((now) => engine.submit(input, now, options?.actor ?? null, options).task),
    submitWithOutcome: (input, options) => write((now) => engine.submit(input, now, options?.actor ?? null, options)),
    submitPlan: (plan, options) =>
      write((now) => ({ tasks: engine.submitPlan(plan, now, options?.actor ?? null, options?.onProgress, options).tasks })),
    submitPlanWithOutcome: (plan, options) =>
      write((now) => engine.submitPlan(plan, now, options?.actor ?? null, options?.onProgress, options)),
    addDependency: (dependentId, input, options) =>
      write((now) => {
        const dep = id(dependentId)
        const i = validate(AddDependencyInput, input)
        return engine.addDependency(dep, i.prerequisiteId, i.dependencyType, now, options?.actor ?? null, i.onFailure)
      }),
    removeDependency: (dependentId, prerequisiteId, options) =>
      write((now) => {
        const dep = id(dependentId)
        const i = validate(RemoveDependencyInput, { prerequisiteId })
        return engine.removeDependency(dep, i.prerequisiteId, now, options?.actor ?? null)
      }),
    claim: (input = {}) => write((now) => engine.claim(validate(ClaimInput, input), now)),
    heartbeat: (taskId, input = {}) => write((now) => engine.heartbeat(id(taskId), validate(HeartbeatInput, input), now)),
    complete: (taskId, input = {}, options) =>
      write((now) => engine.complete(id(taskId), validate(CompleteInput, input), now, options?.actor ?? null)),
    fail: (taskId, input, options) =>
      write((now) => engine.fail(id(taskId), validate(FailInput, input), now, options?.actor ?? null)),
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
    nextLeaseExpiry: () => read(() => store.nextLeaseExpiry()),
    nextNotBefore: () => read(() => store.nextNotBefore())
  }
  return service
})

/** The queue service. */
export class TaskQueue extends Context.Tag("@abathur/queue/TaskQueue")<TaskQueue, TaskQueueService>() {
  static readonly make = make
  static readonly layer: Layer.Layer<TaskQueue, never, TaskRepository | QueueConfig> = Layer.effect(TaskQueue, make)
}

