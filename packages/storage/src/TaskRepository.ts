import type BetterSqlite3 from "better-sqlite3"
import { Context, Effect, Layer } from "effect"
import { Database } from "./Database.js"
import { makeAudit } from "./repository/Audit.js"
import { makeClaims } from "./repository/Claims.js"
import { makeEdges } from "./repository/Edges.js"
import { makeHierarchy } from "./repository/Hierarchy.js"
import { makeMaintenance } from "./repository/Maintenance.js"
import { makeSql } from "./repository/Sql.js"
import { makeTasks } from "./repository/Tasks.js"
import { makeTransactions } from "./repository/Transactions.js"

/** One audit record (a submission or a state change) and one minute of activity: the domain's answers. */
export type { ActivityMinute, AuditEntry } from "@abathur/domain"
export type { ClaimOutlook, DueRefresh, HorizonCrossing, ReadyHead, RefreshFacts, StoredPriority } from "./repository/Claims.js"
export type { Edge, Neighbour } from "./repository/Edges.js"
export type { GateFacts, SubtreeRow, WaitFactRow, WaitRegionRow } from "./repository/Hierarchy.js"
export type { ListFilter, OpenGraph, PlanSubmission, StatusCounts } from "./repository/Tasks.js"
export { openGraphOf } from "./repository/Tasks.js"

/**
 * The task repository over better-sqlite3: rows in, models out, no business rules.
 * Every method is synchronous (better-sqlite3 is); the queue runs them inside `transaction`.
 * Statements are prepared once and reused: one cache per repository, shared by its groups
 * (src/repository/: transactions and the write lock, task rows, claims and refreshes, edges,
 * hierarchy and the waits-for graph, audit, maintenance). The groups are joined once, here;
 * a call goes straight to its group's function.
 */
export const makeTaskRepository = (db: BetterSqlite3.Database): TaskStore => {
  const sql = makeSql(db)
  return {
    ...makeTransactions(db),
    ...makeTasks(sql),
    ...makeClaims(sql),
    ...makeHierarchy(sql),
    ...makeEdges(sql),
    ...makeAudit(sql),
    ...makeMaintenance(db, sql)
  }
}

/** Every method of the task repository (declared per group, so that each keeps its doc comment). */
export interface TaskStore
  extends ReturnType<typeof makeTransactions>,
    ReturnType<typeof makeTasks>,
    ReturnType<typeof makeClaims>,
    ReturnType<typeof makeHierarchy>,
    ReturnType<typeof makeEdges>,
    ReturnType<typeof makeAudit>,
    ReturnType<typeof makeMaintenance> {}

/** The task repository as an Effect service. */
export class TaskRepository extends Context.Tag("@abathur/storage/TaskRepository")<TaskRepository, TaskStore>() {
  static readonly make = Effect.map(Database, (handle) => makeTaskRepository(handle.db))
  static readonly layer: Layer.Layer<TaskRepository, never, Database> = Layer.effect(TaskRepository, TaskRepository.make)
}
