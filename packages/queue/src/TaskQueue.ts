import {
  type Activity,
  ActorName,
  ActivityInput,
  adoptPlan,
  type CancelResult,
  type CompleteResult,
  CompleteManyInput,
  type CompleteManyItems,
  type CompleteManyResult,
  type NextClaimsInput,
  explainPriority,
  type FailResult,
  type ListedTask,
  type PlanResult,
  type RetryResult,
  type TaskChange,
  type TaskDetail,
  type TreeNode,
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
import type { AuditEntry, TaskRepository } from "@abathur/storage"
export type { CompleteManyResult, CompleteResult, TaskDetail } from "@abathur/domain"
import { Context, Effect, Layer, PubSub, type Queue, type Scope } from "effect"
import { cancel, evaluatePending, retry } from "./Cascade.js"
import { type ClaimWaitOptions, claimWaiting, pollForWork } from "./ClaimWaiting.js"
import { addDependency, executionPlan, removeDependency } from "./Graph.js"
import { claim, claimUpTo, complete, fail, heartbeat, recover, release } from "./Leases.js"
import { type SubmitDefaults, validate } from "./Model.js"
import { prune } from "./Prune.js"
import { QueueConfig } from "./QueueConfig.js"
import { type QueueError, TaskNotFound, ValidationError } from "./QueueError.js"
import { refreshDue } from "./Ranking.js"
import { activity, auditOf, detail, graph, list, status, tree } from "./Reads.js"
import { SqliteRunner } from "./SqliteStore.js"
import { type Step, StoreRunner, type WriteKind } from "./Store.js"
import { submit, submitPlan } from "./Submit.js"
import { Tx } from "./Tx.js"
import type { Input } from "./Typed.js"

export interface Actor {
  /** Who acts (a worker or operator name), recorded in the audit trail. */
  readonly actor?: string | undefined
}

/** Options of `submit` and `submitPlan`: who acts, and the source of a task that names none. */
export interface SubmitOptions extends Actor, SubmitDefaults {}

/** Options of `completeMany`: who acts, and what to claim next in the same transaction. */
export interface CompleteManyOptions extends Actor {
  readonly next?: NextClaimsInput | undefined
}

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
  readonly submitWithOutcome: <I>(
    input: Input<I, SubmitTaskInput>,
    options?: SubmitOptions
  ) => Effect.Effect<{ task: Task; created: boolean }, QueueError>
  /**
   * Submits a plan, all or nothing; with the plan's `idempotencyKey`, posting it again returns the
   * same tasks. The plan's `parentTaskId` adopts it under that task (see `adoptPlan`).
   */
  readonly submitPlan: <I>(plan: Input<I, PlanInput>, options?: SubmitOptions & ProgressOptions) => Effect.Effect<PlanResult, QueueError>
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
  /**
   * Claims as `claimMany` (one task unless `limit`), waiting up to `waitSeconds` (at most
   * MAX_CLAIM_WAIT_SECONDS) for work when none is ready, woken by `options.waitForWork` (default: a
   * retry every 250 ms; the HTTP server wakes on commits, lease expiries and `notBefore` instants).
   * [] when nothing was ready in time, or when the wait was stopped (shutdown).
   */
  readonly claimWaiting: <I>(input?: Input<I, ClaimInput>, options?: ClaimWaitOptions) => Effect.Effect<Array<ClaimedTask>, QueueError>
  readonly heartbeat: <I>(id: string, input?: Input<I, HeartbeatInput>) => Effect.Effect<ClaimedTask, QueueError>
  /**
   * Completes a RUNNING task (its lease token, or `force`). With `next`, claims the next task in
   * the same transaction and answers it as `next` (null when nothing is ready).
   */
  readonly complete: <I>(id: string, input?: Input<I, CompleteInput>, options?: Actor) => Effect.Effect<CompleteResult, QueueError>
  /**
   * Completes 1..100 RUNNING tasks in one transaction, in the order given, each as `complete`
   * would (lease token or `force`, edges, `unblocked`, audit rows); with `next`, then claims up to
   * `next.limit` tasks in the same transaction. All or nothing: one refused item (its error names
   * its id; an id named twice is a ValidationError) and no task changes.
   */
  readonly completeMany: <I>(items: Input<I, CompleteManyItems>, options?: CompleteManyOptions) => Effect.Effect<CompleteManyResult, QueueError>
  readonly fail: <I>(id: string, input: Input<I, FailInput>, options?: Actor) => Effect.Effect<FailResult, QueueError>
  readonly release: <I>(id: string, input?: Input<I, ReleaseInput>, options?: Actor) => Effect.Effect<Task, QueueError>
  readonly cancel: (id: string, options?: Actor & { readonly reason?: string }) => Effect.Effect<CancelResult, QueueError>
  readonly retry: (id: string, options?: Actor) => Effect.Effect<RetryResult, QueueError>
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

const id = (raw: string): string => validate(TaskId, raw)
/** The actor of an operation, well-formed text (it goes into the audit trail), or null. */
const actorOf = (options: Actor | undefined): string | null => (options?.actor === undefined ? null : validate(ActorName, options.actor))

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

/** An operation of the service: a rule over one run (its store, settings and state) at `now`. */
type Operation<A> = (tx: Tx, now: number) => Step<A>

/** What a write hands the runner's commit: the operation's result and the changes it made. */
interface Outcome<A> {
  readonly value: A
  readonly changes: Array<TaskChange>
}

export const make = Effect.gen(function* () {
  const runner = yield* StoreRunner
  const settings = yield* QueueConfig
  /** A task in detail, its priority explained with the configured weights (not the defaults). */
  const explained = (detail: Omit<TaskDetail, "priorityExplanation">): TaskDetail => ({
    ...detail,
    priorityExplanation: explainPriority(detail.priorityBreakdown, settings.priority)
  })
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
  const answer = <A>(outcome: Outcome<A>): Effect.Effect<A, QueueError> => {
    const { value, changes } = outcome
    if (changes.length === 0) return Effect.succeed(value)
    committed(changes)
    return subscribers === 0 ? Effect.succeed(value) : Effect.as(PubSub.publishAll(events, changes), value)
  }

  /** Runs an operation in one write transaction (a new run each time the runner starts it); publishes its changes after commit. */
  const write = <A>(op: Operation<A>, kind?: WriteKind): Effect.Effect<A, QueueError> =>
    runner.write(
      function* (store, now): Step<Outcome<A>> {
        const tx = new Tx(store, settings)
        const value = yield* op(tx, now)
        return { value, changes: tx.changes }
      },
      answer,
      kind
    )

  /** Runs an operation against one read snapshot. */
  const read = <A>(op: Operation<A>): Effect.Effect<A, QueueError> => runner.read((store, now) => op(new Tx(store, settings), now))

  // No task stays PENDING once the engine has opened the database.
  yield* Effect.orDie(write(evaluatePending))

  const service: TaskQueueService = {
    submit: (input, options) =>
      write(function* (tx, now) {
        return (yield* submit(tx, input, now, actorOf(options), options)).task
      }),
    submitWithOutcome: (input, options) => write((tx, now) => submit(tx, input, now, actorOf(options), options)),
    submitPlan: (plan, options) =>
      write(function* (tx, now) {
        return { tasks: (yield* submitPlan(tx, adoptPlan(plan), now, actorOf(options), options?.onProgress, options)).tasks }
      }),
    submitPlanWithOutcome: (plan, options) =>
      write((tx, now) => submitPlan(tx, adoptPlan(plan), now, actorOf(options), options?.onProgress, options)),
    addDependency: (dependentId, input, options) =>
      write(function* (tx, now) {
        const dep = id(dependentId)
        const i = validate(AddDependencyInput, input)
        return explained(yield* addDependency(tx, dep, i.prerequisiteId, i.dependencyType, now, actorOf(options), i.onFailure))
      }),
    removeDependency: (dependentId, prerequisiteId, options) =>
      write(function* (tx, now) {
        const dep = id(dependentId)
        const i = validate(RemoveDependencyInput, { prerequisiteId })
        return explained(yield* removeDependency(tx, dep, i.prerequisiteId, now, actorOf(options)))
      }),
    claim: (input = {}) => write((tx, now) => claim(tx, validate(ClaimInput, input), now), "claim"),
    claimMany: (input = {}) =>
      write((tx, now) => {
        const i = validate(ClaimInput, input)
        return claimUpTo(tx, i, i.limit ?? 1, now)
      }, "claim"),
    claimWaiting: (input = {}, options = {}) =>
      Effect.flatMap(Effect.try({ try: () => validate(ClaimInput, input), catch: (error) => error as ValidationError }), (i) => {
        const attempt = write((tx, now) => claimUpTo(tx, i, i.limit ?? 1, now), "claim")
        const watched = options.onAttempt === undefined ? attempt : Effect.tap(attempt, (claimed) => Effect.sync(() => options.onAttempt?.(claimed)))
        return claimWaiting(watched, i.waitSeconds ?? 0, options.waitForWork ?? pollForWork())
      }),
    heartbeat: (taskId, input = {}) => write((tx, now) => heartbeat(tx, id(taskId), validate(HeartbeatInput, input), now), "finish"),
    complete: (taskId, input = {}, options) =>
      write(function* (tx, now): Step<CompleteResult> {
        const tid = id(taskId)
        const i = validate(CompleteInput, input)
        const done = yield* complete(tx, tid, i, now, actorOf(options))
        if (i.next === undefined) return done
        // The worker's next task, in the same transaction: one commit for the pair.
        return { ...done, next: yield* claim(tx, i.next, now) }
      }, "finish"),
    completeMany: (items, options = {}) =>
      write(function* (tx, now): Step<CompleteManyResult> {
        const i = validate(CompleteManyInput, { items, ...(options.next !== undefined && { next: options.next }) })
        const actor = actorOf(options)
        // One after the other, each by the single complete's rule: as many completes in a row would.
        const completed: CompleteManyResult["completed"] = []
        for (const item of i.items) completed.push(yield* complete(tx, item.id, item, now, actor))
        return { completed, next: i.next === undefined ? [] : yield* claimUpTo(tx, i.next, i.next.limit, now) }
      }, "finish"),
    fail: (taskId, input, options) =>
      write((tx, now) => {
        const tid = id(taskId)
        const i = validate(FailInput, input)
        return fail(tx, tid, i, now, actorOf(options))
      }),
    release: (taskId, input = {}, options) => write((tx, now) => release(tx, id(taskId), validate(ReleaseInput, input), now, actorOf(options))),
    cancel: (taskId, options) =>
      write((tx, now) =>
        cancel(tx, id(taskId), now, actorOf(options), options?.reason === undefined ? undefined : validate(ReasonText, options.reason))
      ),
    retry: (taskId, options) => write((tx, now) => retry(tx, id(taskId), now, actorOf(options))),
    recover: () =>
      write(function* (tx, now) {
        return { recovered: yield* recover(tx, now) }
      }, "claim"),
    prune: (input = {}, options) =>
      write((tx, now) => {
        const i = validate(PruneInput, input)
        return prune(tx, { olderThanMs: i.olderThan, statuses: i.status, dryRun: i.dryRun }, now, options?.onProgress)
      }),
    get: (taskId) =>
      read(function* (tx, now) {
        return explained(yield* detail(tx, id(taskId), now))
      }),
    list: (input = {}) =>
      read((tx, now) => {
        const i = validate(ListTasksInput, input)
        return list(
          tx,
          {
            ...(i.status !== undefined && { statuses: i.status }),
            ...(i.excludeStatus !== undefined && { excludeStatuses: i.excludeStatus }),
            ...(i.source !== undefined && { source: i.source }),
            ...(i.parentTaskId !== undefined && { parentTaskId: i.parentTaskId }),
            ...(i.text !== undefined && { text: i.text }),
            ...(i.limit !== undefined && { limit: i.limit }),
            ...(i.offset !== undefined && { offset: i.offset })
          },
          now
        )
      }),
    status: () => read((tx) => status(tx)),
    executionPlan: (input = {}) => read((tx) => executionPlan(tx, validate(ExecutionPlanInput, input).taskIds)),
    tree: (taskId) => read((tx, now) => tree(tx, taskId === undefined ? undefined : id(taskId), now)),
    graph: (taskId, format) =>
      read(function* (tx, now) {
        const f = validate(GraphFormat, format ?? "mermaid")
        const g = yield* graph(tx, taskId === undefined ? undefined : id(taskId), now)
        return { format: f, text: f === "dot" ? renderDot(g.tasks, g.edges) : renderMermaid(g.tasks, g.edges) }
      }),
    audit: (taskId) => read((tx) => auditOf(tx, id(taskId))),
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
        Effect.orDie(read((tx) => tx.store.idsWithPrefix(prefix, CANDIDATES + 1))),
        (found): Effect.Effect<string, ValidationError | TaskNotFound> => {
          if (found.length === 1) return Effect.succeed(found[0]!.id)
          if (found.length === 0) {
            return Effect.fail(new TaskNotFound({ message: `no task id starts with ${prefix}`, taskId: prefix }))
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
      read(function* (tx) {
        const byId = new Map((yield* tx.store.getTasks([...new Set(ids)])).map((t) => [t.id, t]))
        return ids.flatMap((i) => {
          const t = byId.get(i)
          return t === undefined ? [] : [{ id: t.id, summary: t.summary, status: t.status }]
        })
      }),
    activity: (input = {}) =>
      read((tx, now) => {
        const i = validate(ActivityInput, input)
        return activity(tx, i.minutes * 60_000, i.failures, now)
      }),
    refreshPriorities: () => write((tx, now) => refreshDue(tx, now)),
    subscribe: Effect.zipLeft(
      PubSub.subscribe(events),
      Effect.acquireRelease(
        Effect.sync(() => subscribers++),
        () => Effect.sync(() => subscribers--)
      )
    ),
    onCommit: (listener) =>
      Effect.acquireRelease(
        Effect.sync(() => void listeners.add(listener)),
        () => Effect.sync(() => void listeners.delete(listener))
      ),
    dataVersion: () => runner.dataVersion(),
    nextLeaseExpiry: () => read((tx) => tx.store.nextLeaseExpiry()),
    nextNotBefore: () => read((tx) => tx.store.nextNotBefore())
  }
  return service
})

/** The queue service. */
export class TaskQueue extends Context.Tag("@abathur/queue/TaskQueue")<TaskQueue, TaskQueueService>() {
  static readonly make = make
  /** Over any store: the runner (StoreRunner) decides where the rules' transactions run. */
  static readonly layerWithRunner: Layer.Layer<TaskQueue, never, StoreRunner | QueueConfig> = Layer.effect(TaskQueue, make)
  /** Over the SQLite repository (TaskRepository). */
  static readonly layer: Layer.Layer<TaskQueue, never, TaskRepository | QueueConfig> = TaskQueue.layerWithRunner.pipe(Layer.provide(SqliteRunner))
}
