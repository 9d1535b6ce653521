/**
 * Dependency edges: insert, resolve and open again, delete, count, and the neighbours of a task.
 */
import type { TaskDependency } from "@abathur/domain"
import type { Edge, Neighbour } from "@abathur/storage"
import type { Step } from "../Step.js"
import { OPEN, PgSql } from "./Sql.js"

const EDGE_COLUMNS = `dependent_task_id AS "dependentTaskId", prerequisite_task_id AS "prerequisiteTaskId",
  dependency_type AS "dependencyType", on_failure AS "onFailure", resolved_at AS "resolvedAt"`

const neighbourSql = (near: "dependent_task_id" | "prerequisite_task_id", far: "dependent_task_id" | "prerequisite_task_id") =>
  `SELECT d.${far} AS "taskId", d.dependency_type AS "dependencyType", d.on_failure AS "onFailure", d.resolved_at AS "resolvedAt",
     t.status AS status, t.dependency_depth AS depth, t.subtree_open AS "subtreeOpen",
     t.subtree_failed + t.subtree_cancelled AS "subtreeBad"
   FROM task_dependencies d JOIN tasks t ON t.id = d.${far}
   WHERE d.${near} = $1 ORDER BY d.created_at, d.seq`

/** The edges group of the PostgreSQL task repository (composed in ../PgTaskRepository.ts). */
export class Edges extends PgSql {
  *insertDependency(dep: TaskDependency): Step<void> {
    yield* this.insertDependencies([dep])
  }

  /** Inserts many dependencies in one statement. */
  *insertDependencies(deps: ReadonlyArray<TaskDependency>): Step<void> {
    if (deps.length === 0) return
    const cols = "id, dependent_task_id, prerequisite_task_id, dependency_type, created_at, resolved_at, on_failure"
    yield* this.guarded(`INSERT INTO task_dependencies (${cols}) SELECT ${cols} FROM json_populate_recordset(NULL::task_dependencies, $1::json)`, [
      JSON.stringify(
        deps.map((d) => ({
          id: d.id,
          dependent_task_id: d.dependentTaskId,
          prerequisite_task_id: d.prerequisiteTaskId,
          dependency_type: d.dependencyType,
          created_at: d.createdAt,
          resolved_at: d.resolvedAt,
          on_failure: d.onFailure
        }))
      )
    ])
  }

  *hasDependency(dependentId: string, prerequisiteId: string): Step<boolean> {
    const row = yield* this.one("SELECT 1 FROM task_dependencies WHERE dependent_task_id = $1 AND prerequisite_task_id = $2", [
      dependentId,
      prerequisiteId
    ])
    return row !== undefined
  }

  /** Resolves the open edges on a prerequisite (only its `ignore` edges with `ignoreOnly`); returns their dependents (in insertion order, as SQLite). */
  *resolveEdges(prerequisiteId: string, at: string, ignoreOnly: boolean): Step<Array<string>> {
    return yield* this.ids(
      `WITH u AS (
         UPDATE task_dependencies SET resolved_at = $1 WHERE prerequisite_task_id = $2 AND resolved_at IS NULL
         ${ignoreOnly ? "AND on_failure = 'ignore'" : ""} RETURNING dependent_task_id, seq
       ) SELECT dependent_task_id AS id FROM u ORDER BY seq`,
      [at, prerequisiteId]
    )
  }

  /** Opens again the resolved edges on a prerequisite whose dependents have not started; returns those dependents. */
  *unresolveEdges(prerequisiteId: string): Step<Array<string>> {
    return yield* this.ids(
      `WITH u AS (
         UPDATE task_dependencies d SET resolved_at = NULL FROM tasks t
         WHERE t.id = d.dependent_task_id AND d.prerequisite_task_id = $1 AND d.resolved_at IS NOT NULL
           AND t.status IN ('pending', 'blocked', 'ready')
         RETURNING d.dependent_task_id, d.seq
       ) SELECT dependent_task_id AS id FROM u ORDER BY seq`,
      [prerequisiteId]
    )
  }

  /** Sets one edge's resolution time (null: open). */
  *setEdgeResolved(dependentId: string, prerequisiteId: string, resolvedAt: string | null): Step<void> {
    yield* this.run("UPDATE task_dependencies SET resolved_at = $1 WHERE dependent_task_id = $2 AND prerequisite_task_id = $3", [
      resolvedAt,
      dependentId,
      prerequisiteId
    ])
  }

  /** Deletes the edge `dependent -> prerequisite`; returns it, or null when there was none. */
  *deleteDependency(dependentId: string, prerequisiteId: string): Step<{ resolvedAt: string | null } | null> {
    return (
      (yield* this.one<{ resolvedAt: string | null }>(
        `DELETE FROM task_dependencies WHERE dependent_task_id = $1 AND prerequisite_task_id = $2 RETURNING resolved_at AS "resolvedAt"`,
        [dependentId, prerequisiteId]
      )) ?? null
    )
  }

  /** The task has an unresolved prerequisite edge. */
  *hasUnresolved(taskId: string): Step<boolean> {
    const row = yield* this.one("SELECT 1 FROM task_dependencies WHERE dependent_task_id = $1 AND resolved_at IS NULL LIMIT 1", [taskId])
    return row !== undefined
  }

  /** How many unresolved prerequisite edges the task has. */
  *countUnresolved(taskId: string): Step<number> {
    return (yield* this.one<{ n: number }>(
      "SELECT count(*)::integer AS n FROM task_dependencies WHERE dependent_task_id = $1 AND resolved_at IS NULL",
      [taskId]
    ))!.n
  }

  /** A task's prerequisites with their state. */
  *prerequisitesOf(taskId: string): Step<Array<Neighbour>> {
    return yield* this.rows<Neighbour>(neighbourSql("dependent_task_id", "prerequisite_task_id"), [taskId])
  }

  /** A task's dependents with their state. */
  *dependentsOf(taskId: string): Step<Array<Neighbour>> {
    return yield* this.rows<Neighbour>(neighbourSql("prerequisite_task_id", "dependent_task_id"), [taskId])
  }

  /** Ids and depths of a task's prerequisites (for the cycle check). */
  *prerequisiteDepths(taskId: string): Step<Array<{ id: string; depth: number }>> {
    return yield* this.rows<{ id: string; depth: number }>(
      `SELECT d.prerequisite_task_id AS id, t.dependency_depth AS depth FROM task_dependencies d
       JOIN tasks t ON t.id = d.prerequisite_task_id WHERE d.dependent_task_id = $1`,
      [taskId]
    )
  }

  *countPrerequisites(dependentId: string): Step<number> {
    return (yield* this.one<{ n: number }>("SELECT count(*)::integer AS n FROM task_dependencies WHERE dependent_task_id = $1", [dependentId]))!.n
  }

  /** Open tasks that directly wait on this one (the priority's dependency factor). */
  *countOpenDependents(prerequisiteId: string): Step<number> {
    return (yield* this.one<{ n: number }>(
      `SELECT count(*)::integer AS n FROM task_dependencies d JOIN tasks t ON t.id = d.dependent_task_id
       WHERE d.prerequisite_task_id = $1 AND d.resolved_at IS NULL AND t.status IN ${OPEN}`,
      [prerequisiteId]
    ))!.n
  }

  /** Every edge whose both ends are among `ids`. */
  *edgesAmong(ids: ReadonlyArray<string>): Step<Array<Edge>> {
    if (ids.length === 0) return []
    return yield* this.rows<Edge>(
      `SELECT ${EDGE_COLUMNS} FROM task_dependencies
       WHERE dependent_task_id = ANY($1::text[]) AND prerequisite_task_id = ANY($1::text[])`,
      [ids]
    )
  }

  /** Dependents (through any edge) of these tasks. */
  *dependentsOfMany(ids: ReadonlyArray<string>): Step<Array<Edge>> {
    if (ids.length === 0) return []
    return yield* this.rows<Edge>(`SELECT ${EDGE_COLUMNS} FROM task_dependencies WHERE prerequisite_task_id = ANY($1::text[])`, [ids])
  }
}
