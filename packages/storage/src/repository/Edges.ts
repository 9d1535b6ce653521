/**
 * Dependency edges: insert, resolve and reopen them, the neighbours of a task with their state,
 * the dependents a resolution unblocks, and the edges among or around a set of tasks.
 */
import type { DependencyLink, DependencyType, OnFailure, TaskDependency, TaskStatus } from "@abathur/domain"
import { classifyConstraint } from "../StorageError.js"
import { rowToTaskDependency, type TaskDependencyRow } from "../TaskRows.js"
import type { RefreshFacts } from "./Claims.js"
import { inChunks, OPEN, rowsOf, type Sql } from "./Sql.js"

/** A prerequisite or dependent seen from one task, with the other task's state. */
export interface Neighbour extends DependencyLink {
  readonly status: TaskStatus
  readonly depth: number
  /** Open strict descendants of the task at the other end. */
  readonly subtreeOpen: number
  /** FAILED or CANCELLED strict descendants of the task at the other end. */
  readonly subtreeBad: number
}

export interface Edge {
  readonly dependentTaskId: string
  readonly prerequisiteTaskId: string
  readonly dependencyType: DependencyType
  readonly onFailure: OnFailure
  readonly resolvedAt: string | null
}

const neighbourSql = (near: "dependent_task_id" | "prerequisite_task_id", far: "dependent_task_id" | "prerequisite_task_id") =>
  `SELECT d.${far} AS taskId, d.dependency_type AS dependencyType, d.on_failure AS onFailure, d.resolved_at AS resolvedAt,
       t.status AS status, t.dependency_depth AS depth, t.subtree_open AS subtreeOpen,
       t.subtree_failed + t.subtree_cancelled AS subtreeBad
     FROM task_dependencies d JOIN tasks t ON t.id = d.${far}
     WHERE d.${near} = ? ORDER BY d.created_at, d.rowid`

/** The edges whose `end` is in an IN list (the statement text the two bulk reads below share). */
const edgesWhereIn = (end: "dependent_task_id" | "prerequisite_task_id") => (ph: string) =>
  `SELECT dependent_task_id AS dependentTaskId, prerequisite_task_id AS prerequisiteTaskId,
             dependency_type AS dependencyType, on_failure AS onFailure, resolved_at AS resolvedAt
           FROM task_dependencies WHERE ${end} IN (${ph})`
const edgesWhereDependentIn = edgesWhereIn("dependent_task_id")
const edgesWherePrerequisiteIn = edgesWhereIn("prerequisite_task_id")

export const makeEdges = (sql: Sql) => {
  const { all, get, pluck, stmt, insertMany } = sql
  const edgeRows = (sql: string, part: ReadonlyArray<string>) => all<Edge>(sql, ...part)
  const insertEdgeRows = insertMany<TaskDependency>(
    (n) =>
      `INSERT INTO task_dependencies (id, dependent_task_id, prerequisite_task_id, dependency_type, created_at, resolved_at, on_failure) VALUES ${rowsOf(7, n)}`,
    (dep, into) =>
      void into.push(dep.id, dep.dependentTaskId, dep.prerequisiteTaskId, dep.dependencyType, dep.createdAt, dep.resolvedAt, dep.onFailure)
  )
  return {
    insertDependency: (dep: TaskDependency): void => {
      try {
        stmt(
          `INSERT INTO task_dependencies (id, dependent_task_id, prerequisite_task_id, dependency_type, created_at, resolved_at, on_failure)
           VALUES (?, ?, ?, ?, ?, ?, ?)`
        ).run(dep.id, dep.dependentTaskId, dep.prerequisiteTaskId, dep.dependencyType, dep.createdAt, dep.resolvedAt, dep.onFailure)
      } catch (error) {
        throw classifyConstraint(error) ?? error
      }
    },

    /** Inserts many dependencies, several rows per statement. */
    insertDependencies: (deps: ReadonlyArray<TaskDependency>): void => {
      try {
        insertEdgeRows(deps)
      } catch (error) {
        throw classifyConstraint(error) ?? error
      }
    },

    /** Every dependency of a task (its prerequisites), oldest first. */
    getTaskDependencies: (taskId: string): Array<TaskDependency> =>
      all<TaskDependencyRow>("SELECT * FROM task_dependencies WHERE dependent_task_id = ? ORDER BY created_at ASC, rowid ASC", taskId).map(
        rowToTaskDependency
      ),

    hasDependency: (dependentId: string, prerequisiteId: string): boolean =>
      get("SELECT 1 FROM task_dependencies WHERE dependent_task_id = ? AND prerequisite_task_id = ?", dependentId, prerequisiteId) !== undefined,

    /** Marks every open dependency on a prerequisite resolved; returns the dependents it named. */
    resolveDependency: (prerequisiteId: string, at: string): Array<string> =>
      pluck(
        "UPDATE task_dependencies SET resolved_at = ? WHERE prerequisite_task_id = ? AND resolved_at IS NULL RETURNING dependent_task_id",
        at,
        prerequisiteId
      ),

    /**
     * The dependents whose last open prerequisite was resolved at `at` by this prerequisite:
     * BLOCKED (or PENDING) with no unresolved prerequisite left, with the facts their
     * priority needs. One query for the whole fan-out.
     */
    unblockedBy: (prerequisiteId: string, at: string): Array<RefreshFacts> =>
      all<RefreshFacts>(
        `SELECT t.id, t.status, t.priority, t.source, t.deadline,
           t.estimated_duration_seconds AS estimatedDurationSeconds, t.submitted_at AS submittedAt, t.not_before AS notBefore,
           (SELECT count(*) FROM task_dependencies o JOIN tasks x ON x.id = o.dependent_task_id
             WHERE o.prerequisite_task_id = t.id AND o.resolved_at IS NULL AND x.status IN ${OPEN}) AS openDependents
         FROM task_dependencies d JOIN tasks t ON t.id = d.dependent_task_id
         WHERE d.prerequisite_task_id = ? AND d.resolved_at = ? AND t.status IN ('blocked', 'pending')
           AND NOT EXISTS (SELECT 1 FROM task_dependencies u WHERE u.dependent_task_id = t.id AND u.resolved_at IS NULL)
         ORDER BY d.rowid`,
        prerequisiteId,
        at
      ),

    /**
     * Resolves the open edges on a prerequisite (only its `ignore` edges with `ignoreOnly`);
     * returns the dependents they named.
     */
    resolveEdges: (prerequisiteId: string, at: string, ignoreOnly: boolean): Array<string> =>
      ignoreOnly
        ? pluck(
            `UPDATE task_dependencies SET resolved_at = ? WHERE prerequisite_task_id = ? AND resolved_at IS NULL
             AND on_failure = 'ignore' RETURNING dependent_task_id`,
            at,
            prerequisiteId
          )
        : pluck(
            "UPDATE task_dependencies SET resolved_at = ? WHERE prerequisite_task_id = ? AND resolved_at IS NULL RETURNING dependent_task_id",
            at,
            prerequisiteId
          ),

    /** Opens again the resolved edges on a prerequisite whose dependents have not started; returns those dependents. */
    unresolveEdges: (prerequisiteId: string): Array<string> =>
      pluck(
        `UPDATE task_dependencies SET resolved_at = NULL WHERE prerequisite_task_id = ? AND resolved_at IS NOT NULL
         AND (SELECT status FROM tasks WHERE id = dependent_task_id) IN ('pending', 'blocked', 'ready')
         RETURNING dependent_task_id`,
        prerequisiteId
      ),

    /** Sets one edge's resolution time (null: open). */
    setEdgeResolved: (dependentId: string, prerequisiteId: string, resolvedAt: string | null): void => {
      stmt("UPDATE task_dependencies SET resolved_at = ? WHERE dependent_task_id = ? AND prerequisite_task_id = ?").run(
        resolvedAt,
        dependentId,
        prerequisiteId
      )
    },

    /** Deletes the edge `dependent -> prerequisite`; returns it, or null when there was none. */
    deleteDependency: (dependentId: string, prerequisiteId: string): { resolvedAt: string | null } | null =>
      get<{ resolvedAt: string | null }>(
        "DELETE FROM task_dependencies WHERE dependent_task_id = ? AND prerequisite_task_id = ? RETURNING resolved_at AS resolvedAt",
        dependentId,
        prerequisiteId
      ) ?? null,

    /** The task has an unresolved prerequisite edge. */
    hasUnresolved: (taskId: string): boolean =>
      get("SELECT 1 FROM task_dependencies WHERE dependent_task_id = ? AND resolved_at IS NULL LIMIT 1", taskId) !== undefined,

    /** How many unresolved prerequisite edges the task has. */
    countUnresolved: (taskId: string): number =>
      get<{ n: number }>("SELECT count(*) AS n FROM task_dependencies WHERE dependent_task_id = ? AND resolved_at IS NULL", taskId)!.n,

    /** A task's prerequisites with their state. */
    prerequisitesOf: (taskId: string): Array<Neighbour> => all<Neighbour>(neighbourSql("dependent_task_id", "prerequisite_task_id"), taskId),

    /** A task's dependents with their state. */
    dependentsOf: (taskId: string): Array<Neighbour> => all<Neighbour>(neighbourSql("prerequisite_task_id", "dependent_task_id"), taskId),

    /** Ids and depths of a task's prerequisites (for the cycle check). */
    prerequisiteDepths: (taskId: string): Array<{ id: string; depth: number }> =>
      all<{ id: string; depth: number }>(
        `SELECT d.prerequisite_task_id AS id, t.dependency_depth AS depth FROM task_dependencies d
         JOIN tasks t ON t.id = d.prerequisite_task_id WHERE d.dependent_task_id = ?`,
        taskId
      ),

    countPrerequisites: (dependentId: string): number =>
      get<{ n: number }>("SELECT count(*) AS n FROM task_dependencies WHERE dependent_task_id = ?", dependentId)!.n,

    /** Open tasks that directly wait on this one (the priority's dependency factor). */
    countOpenDependents: (prerequisiteId: string): number =>
      get<{ n: number }>(
        `SELECT count(*) AS n FROM task_dependencies d JOIN tasks t ON t.id = d.dependent_task_id
         WHERE d.prerequisite_task_id = ? AND d.resolved_at IS NULL AND t.status IN ${OPEN}`,
        prerequisiteId
      )!.n,

    /** Every edge whose both ends are among `ids`. */
    edgesAmong: (ids: ReadonlyArray<string>): Array<Edge> => {
      const set = new Set(ids)
      return inChunks(ids, edgesWhereDependentIn, edgeRows).filter((e) => set.has(e.prerequisiteTaskId))
    },

    /** Dependents (through any edge) of these tasks. */
    dependentsOfMany: (ids: ReadonlyArray<string>): Array<Edge> => inChunks(ids, edgesWherePrerequisiteIn, edgeRows)
  }
}
