import type { TaskStore as SqliteRepository } from "@abathur/storage"
import type { QueryResult } from "pg"

/** One step of a rule: yields promises only when the store is asynchronous (the seam's `Step`). */
export type Step<T> = Generator<PromiseLike<unknown>, T, unknown>

/** The repository methods the queue's rules call (not `transaction`, `read`, `dataVersion` nor the checks): the engine's `storeMethods`. */
export const StoreMethodNames = [
  "activitySince",
  "adjustSubtree",
  "auditOf",
  "cancelledBy",
  "childIds",
  "childrenOfMany",
  "childStates",
  "countChildren",
  "countOpenDependents",
  "countPrerequisites",
  "countUnresolved",
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
] as const satisfies ReadonlyArray<keyof SqliteRepository>

export type StoreMethods = (typeof StoreMethodNames)[number]

/**
 * The repository's methods as steps, derived from the SQLite repository's type: same names,
 * arguments and results. (The engine branch's `TaskStore` in packages/queue/src/Store.ts is this
 * type; this package keeps its own copy until that one is merged, so the queue need not be a
 * dependency here.)
 */
export type StoreSteps = {
  readonly [K in StoreMethods]: (...args: Parameters<SqliteRepository[K]>) => Step<ReturnType<SqliteRepository[K]>>
}

/** What a store needs of a connection: node-postgres' `query` (a pooled client in a transaction). */
export interface Queryable {
  query(text: string, values?: Array<unknown>): Promise<QueryResult>
}
