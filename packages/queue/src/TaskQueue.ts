import {
  ActorName,
  ActivityInput,
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
  type PlanInput,
  PruneInput,
  type QueueStatus,
  ReasonText,
  ReleaseInput,
  RemoveDependencyInput,
  renderDot,
  renderMermaid,
  type SubmitTaskInput,
  type Task,
  TaskId
} from "@abathur/domain"
import { type AuditEntry, TaskRepository } from "@abathur/storage"
import { Clock, Context, Effect, Layer, PubSub, type Queue, type Scope } from "effect"
import { type Activity, Engine, type ListedTask, type SubmitDefaults, type TaskChange, type TaskDetail, type TreeNode, validate } from "./Engine.js"
import { QueueConfig } from "./QueueConfig.js"
import type { Input } from "./Typed.js"
import { isQueueError, type QueueError, TaskNotFound, ValidationError } from "./QueueError.js"

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
  readonly submit: <I>(input: Input<I, SubmitTaskInput>, options?: SubmitOptions) => Effect.Effect<Task, QueueError>
  /** As `submit`, and says whether it created the task (false: an idempotent repeat; HTTP 200 instead of 201). */
  readonly submitWithOutcome: <I>(input: Input<I, SubmitTaskInput>, options?: SubmitOptions) => Effect.Effect<{ task: Task; created: boolean }, QueueError>
  /** Submits a plan, all or nothing; with the plan's `idempotencyKey`, posting it again returns the same tasks. */
  readonly submitPlan: <I>(plan: Input<I, PlanInput>, options?: SubmitOptions & ProgressOptions) => Effect.Effect<{ tasks: Record<string, Task> }, QueueError>
  /** As `submitPlan`, and says whether it created the tasks (false: an idempotent repeat). */
  readonly submitPlanWithOutcome: <I>(
    plan: Input<I, PlanInput>,
    options?: SubmitOptions & ProgressOptions
  ) => Effect.Effect<{ tasks: Record<string, Task>; created: boolean }, QueueError>
  /** Adds an edge; `input` is `{prerequisiteId, dependencyType?, onFailure?}`. */
  readonly addDependency: <I>(dependentId: string, input: Input<I, AddDependencyInput>, options?: Actor) => Effect.Effect<TaskDetail, QueueError>
  /**
   * Removes the edge `dependent -> prerequisite` (TaskNotFound when there is none; the dependent
   * must be PENDING, BLOCKED or READY). Returns the dependent, READY when that was its last open edge.
   */
  readonly removeDependency: (dependentId: string, prerequisiteId: string, options?: Actor) => Effect.Effect<TaskDetail, QueueError>
  readonly claim: <I>(input?: Input<I, ClaimInput>) => Effect.Effect<ClaimedTask | null, QueueError>
  /** Claims up to `limit` (1..100, default 1) tasks in one transaction, best first; [] when none is ready. */
  readonly claimMany: <I>(input?: Input<I, ClaimInput>) => Effect.Effect<Array<ClaimedTask>, QueueError>
  readonly heartbeat: <I>(id: string, input?: Input<I, HeartbeatInput>) => Effect.Effect<ClaimedTask, QueueError>
  /**
   * Completes a RUNNING task (its lease token, or `force`). With `next`, claims the next task in
   * the same transaction and answers it as `next` (null when nothing is ready).
   */
  readonly complete: <I>(id: string, input?: Input<I, CompleteInput>, options?: Actor) => Effect.Effect<CompleteResult, QueueError>
  readonly fail: <I>(id: string, input: Input<I, FailInput>, options?: Actor) => Effect.Effect<{ task: Task; retried: boolean; cancelled: Array<string> }, QueueError>
  readonly release: <I>(id: string, input?: Input<I, ReleaseInput>, options?: Actor) => Effect.Effect<Task, QueueError>
  readonly cancel: (id: string, options?: Actor & { readonly reason?: string }) => Effect.Effect<{ task: Task; cancelled: Array<string> }, QueueError>
  readonly retry: (id: string, options?: Actor) => Effect.Effect<{ task: Task; revived: Array<string> }, QueueError>
  readonly recover: () => Effect.Effect<{ recovered: Array<string> }, QueueError>
  readonly prune: <I>(input?: Input<I, PruneInput>, options?: ProgressOptions) => Effect.Effect<{ deleted: number; ids: Array<string> }, QueueError>
  readonly get: (id: string) => Effect.Effect<TaskDetail, QueueError>
  readonly list: <I>(input?: Input<I, ListTasksInput>) => Effect.Effect<Array<ListedTask>, QueueError>
  readonly status: () => Effect.Effect<QueueStatus, QueueError>
  readonly executionPlan: <I>(input?: Input<I, ExecutionPlanInput>) => Effect.Effect<ExecutionPlan, QueueError>
  readonly tree: (id?: string) => Effect.Effect<TreeNode | Array<TreeNode>, QueueError>
  readonly graph: <I>(id: string | undefined, format?: Input<I, GraphFormat>) => Effect.Effect<{ format: GraphFormat; text: string }, QueueError>
  readonly audit: (id: string) => Effect.Effect<Array<AuditEntry>, QueueError>
  /**
   * The whole id of the task whose id starts with `prefix` (at least 4 hex digits; a whole id
   * comes back as is, lower-cased, without a read). No task: TaskNotFound; several: a
   * ValidationError whose `candidates` lists them (id and summary).
   */
  readonly resolveId: (prefix: string) => Effect.Effect<string, ValidationError | TaskNotFound>
  /** The summary and status of each of these tasks that exists, in the order given. */
  readonly summaries: (ids: ReadonlyArray<string>) => Effect.Effect<Array<TaskSummary>, QueueError>
  /**
   * Completions, retried attempts and failures per minute over the last `minutes` (1..1440,
   * default 60), and the newest `failures` failed attempts (0..200, default 20), from the audit
   * trail: a bounded read (the window's entries only).
   */
  readonly activity: <I>(input?: Input<I, ActivityInput>) => Effect.Effect<Activity, QueueError>
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

/** What `complete` answers; `next` only when the input asked for it. */
export interface CompleteResult {
  readonly task: Task
  readonly unblocked: Array<string>
  readonly next?: ClaimedTask | null
}

const id = (raw: string): string => validate(TaskId, raw)
/** The actor of an operation, well-formed text (it goes into the audit trail), or null. */
const actorOf = (options: Actor | undefined): string | null =>
  options?.actor === undefined ? null : validate(ActorName, options.actor)

/** A task named for people: its id, summary and status. */
export interface TaskSummary {
  readonly id: string
  readonly summary: string
  readonly status: Task["status"]
}

const WholeId = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
/** The start of a UUID: hex digits, with dashes where a UUID has them. */
const IdPrefix = /^[0-9a-f]{1,8}(-[0-9a-f]{0,4}(-[0-9a-f]{0,4}(-[0-9a-f]{0,4}(-[0-9a-f]{0,12})?)?)?)?$/
/** How many tasks an ambiguous prefix lists. */
const CANDIDATES = 5

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
  // No task stays PENDING once the engine has opened the database.
  yield* Effect.orDie(write((now) => engine.evaluatePending(now)))

  const service: TaskQueueService = {
    submit: (input, options) => write((now) => engine.submit(input, now, actorOf(options), options).task),
    submitWithOutcome: (input, options) => write((now) => engine.submit(input, now, actorOf(options), options)),
    submitPlan: (plan, options) =>
      write((now) => ({ tasks: engine.submitPlan(plan, now, actorOf(options), options?.onProgress, options).tasks })),
    submitPlanWithOutcome: (plan, options) =>
      write((now) => engine.submitPlan(plan, now, actorOf(options), options?.onProgress, options)),
    addDependency: (dependentId, input, options) =>
      write((now) => {
        const dep = id(dependentId)
        const i = validate(AddDependencyInput, input)
        return engine.addDependency(dep, i.prerequisiteId, i.dependencyType, now, actorOf(options), i.onFailure)
      }),
    removeDependency: (dependentId, prerequisiteId, options) =>
      write((now) => {
        const dep = id(dependentId)
        const i = validate(RemoveDependencyInput, { prerequisiteId })
        return engine.removeDependency(dep, i.prerequisiteId, now, actorOf(options))
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
        const done = engine.complete(tid, i, now, actorOf(options))
        if (i.next === undefined) return done
        // The worker's next task, in the same transaction: one commit for the pair.
        return { ...done, next: engine.claim(i.next, now) }
      }),
    fail: (taskId, input, options) =>
      write((now) => {
        const tid = id(taskId)
        const i = validate(FailInput, input)
        return engine.fail(tid, i, now, actorOf(options))
      }),
    release: (taskId, input = {}, options) =>
      write((now) => engine.release(id(taskId), validate(ReleaseInput, input), now, actorOf(options))),
    cancel: (taskId, options) => write((now) => engine.cancel(id(taskId), now, actorOf(options), options?.reason === undefined ? undefined : validate(ReasonText, options.reason))),
    retry: (taskId, options) => write((now) => engine.retry(id(taskId), now, actorOf(options))),
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
          ...(i.text !== undefined && { text: i.text }),
          ...(i.limit !== undefined && { limit: i.limit }),
          ...(i.offset !== undefined && { offset: i.offset })
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
    resolveId: (raw) => {
      const prefix = raw.trim().toLowerCase()
      if (WholeId.test(prefix)) return Effect.succeed(prefix)
      if (!IdPrefix.test(prefix) || prefix.replace(/-/g, "").length < 4) {
        return Effect.fail(
          new ValidationError({
            message: `${JSON.stringify(raw)} is not a task id: expected a UUID such as 3f2b8c1e-9d4a-4f6b-8e2a-1c5d7e9f0a2b, or its first hex digits (at least 4) when they name one task`
          })
        )
      }
      return Effect.flatMap(
        Effect.orDie(read(() => store.idsWithPrefix(prefix, CANDIDATES + 1))),
        (found): Effect.Effect<string, ValidationError | TaskNotFound> => {
          if (found.length === 1) return Effect.succeed(found[0]!.id)
          if (found.length === 0) {
            return Effect.fail(new TaskNotFound({ message: `no task id starts with ${prefix}: check the id with \`abathur list\``, taskId: prefix }))
          }
          const shown = found.slice(0, CANDIDATES)
          return Effect.fail(
            new ValidationError({
              message:
                `the id prefix ${prefix} is ambiguous: it starts the ids of ${found.length > CANDIDATES ? `more than ${CANDIDATES}` : found.length} tasks ` +
                `(${shown.map((t) => `${t.id} ${JSON.stringify(t.summary)}`).join(", ")}${found.length > CANDIDATES ? ", ..." : ""}): give more digits`,
              candidates: shown
            })
          )
        }
      )
    },
    summaries: (ids) =>
      read(() => {
        const byId = new Map(store.getTasks([...new Set(ids)]).map((t) => [t.id, t]))
        return ids.flatMap((i) => {
          const t = byId.get(i)
          return t === undefined ? [] : [{ id: t.id, summary: t.summary, status: t.status }]
        })
      }),
    activity: (input = {}) =>
      read((now) => {
        const i = validate(ActivityInput, input)
        return engine.activity(i.minutes * 60_000, i.failures, now)
      }),
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

