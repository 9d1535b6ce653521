/**
 * The store seam: the queue's rules are generator functions that reach the store only through
 * `yield* store.method(...)` and do no other I/O, so one set of rules drives a synchronous store
 * (better-sqlite3: its steps never yield) and an asynchronous one (a pool: its steps yield the
 * promises of their queries, and an async driver resumes them), the way Effect.gen works.
 *
 * A store's methods have the names and types of storage's `TaskRepository`; a runner (the
 * `StoreRunner` service) runs a rule in one transaction and reads the clock once it holds the
 * write lock. The SQLite adapter and runner are in SqliteStore.ts.
 */
import type { TaskRepository } from "@abathur/storage"
import { Context, Effect } from "effect"
import { isQueueError, type QueueError } from "./QueueError.js"

/** One step of a rule: yields promises only when the store is asynchronous. */
export type Step<T> = Generator<PromiseLike<unknown>, T, unknown>

/** The repository the port is derived from (storage's SQLite repository). */
export type Repository = Context.Tag.Service<typeof TaskRepository>

/** The repository methods the rules call (not `transaction`, `read` nor the checks). */
export const storeMethods = [
  "activitySince",
  "adjustSubtree",
  "anyLiveSubtask",
  "auditOf",
  "cancelledBy",
  "childIds",
  "childStates",
  "childrenOfMany",
  "claimOutlook",
  "countChildren",
  "countOpenDependents",
  "countPrerequisites",
  "countUnresolved",
  "crossHorizons",
  "deleteDependency",
  "deleteTasks",
  "dependentsOf",
  "dependentsOfMany",
  "dueForRefresh",
  "edgesAmong",
  "expiredLeases",
  "gateChildren",
  "gateFacts",
  "getPlanSubmission",
  "getTask",
  "getTasks",
  "hasDependency",
  "hasUnresolved",
  "idempotencyKeysTaken",
  "idsWithPrefix",
  "idsWithStatus",
  "insertAudit",
  "insertAudits",
  "insertDependencies",
  "insertDependency",
  "insertPlanSubmission",
  "insertTask",
  "insertTasks",
  "listTasks",
  "nextLeaseExpiry",
  "nextNotBefore",
  "openGraph",
  "openTaskIds",
  "prerequisiteDepths",
  "prerequisitesOf",
  "pruneCandidates",
  "readyHeads",
  "recentFailures",
  "referencedElsewhere",
  "resolveEdges",
  "rootIds",
  "setEdgeResolved",
  "setPriority",
  "statusCounts",
  "taskByIdempotencyKey",
  "unresolveEdges",
  "updateTask",
  "waitEdgesOf",
  "waitRegion"
] as const satisfies ReadonlyArray<keyof Repository>

export type StoreMethods = (typeof storeMethods)[number]

/** The repository's methods, each as a step (derived from the SQLite repository's type). */
export type TaskStore = {
  readonly [K in StoreMethods]: (...args: Parameters<Repository[K]>) => Step<ReturnType<Repository[K]>>
}

/**
 * A rule as a runner takes it: a new generator over the store at the instant `now` (a runner
 * that retries a transaction calls it again: rules are pure over the store).
 */
export type Rule<A> = (store: TaskStore, now: number) => Step<A>

/**
 * What a write is, as the queue tells its runner: `claim` for a claim (claim, claimMany,
 * claimWaiting, and recover, a claim's first step); `finish` for the end or the heartbeat of a
 * worker's attempt (complete, completeMany, heartbeat), which decides on the worker's own tasks
 * unless it resolves edges or touches a parent; `write` for every other. A store may run claims and
 * finishes beside each other (PostgreSQL's shared write lock, escalating to the exclusive lock when
 * a rule reaches further); the SQLite runner ignores it.
 */
export type WriteKind = "claim" | "finish" | "write"

/** Runs rules in transactions over one store. */
export interface StoreRunnerService {
  /**
   * Runs `rule` in one write transaction, at the time read once the write lock is held. After
   * the commit, calls `committed` with the rule's result at once (synchronously, uninterrupted:
   * it publishes the changes) and answers what it answers. A rule that throws changes nothing:
   * a QueueError fails the effect, anything else is a defect. `kind` says what the rule does
   * (default `write`).
   */
  readonly write: <A, B>(rule: Rule<A>, committed: (result: A) => Effect.Effect<B, QueueError>, kind?: WriteKind) => Effect.Effect<B, QueueError>
  /** Runs `rule` against one read snapshot at the current time. */
  readonly read: <A>(rule: Rule<A>) => Effect.Effect<A, QueueError>
  /** A number that changes whenever any connection (any process) commits to the database. */
  readonly dataVersion: () => Effect.Effect<number>
}

/** The runner the queue drives its rules through (TaskQueue.layer provides the SQLite one). */
export class StoreRunner extends Context.Tag("@abathur/queue/StoreRunner")<StoreRunner, StoreRunnerService>() {}

/** What a rule's throw becomes: a QueueError is the operation's failure, anything else a defect. */
export const ruleFailure = (error: unknown): Effect.Effect<never, QueueError> => (isQueueError(error) ? Effect.fail(error) : Effect.die(error))
