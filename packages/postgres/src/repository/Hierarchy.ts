/**
 * The parent-child tree and the waits-for graph: children and roots, the readiness gate's facts,
 * the subtree counters of a task's ancestors, and the region a gate's wait reaches.
 */
import type { SubtreeCounts, TaskStatus } from "@abathur/domain"
import type { GateFacts, SubtreeRow, WaitRegionRow } from "@abathur/storage"
import type { Step } from "../Step.js"
import { OPEN, PgSql } from "./Sql.js"

/** The columns of GateFacts over `tasks t`. */
const GATE_COLUMNS = `t.id, t.status, t.priority, t.source, t.deadline,
  t.estimated_duration_seconds AS "estimatedDurationSeconds", t.submitted_at AS "submittedAt", t.not_before AS "notBefore",
  (SELECT count(*) FROM task_dependencies o JOIN tasks x ON x.id = o.dependent_task_id
    WHERE o.prerequisite_task_id = t.id AND o.resolved_at IS NULL AND x.status IN ${OPEN})::integer AS "openDependents",
  t.ancestor_gated AS "ancestorGated",
  EXISTS (SELECT 1 FROM task_dependencies u WHERE u.dependent_task_id = t.id AND u.resolved_at IS NULL) AS "hasUnresolved",
  EXISTS (SELECT 1 FROM tasks c WHERE c.parent_task_id = t.id) AS "hasChildren"`

/** The hierarchy group of the PostgreSQL task repository (composed in ../PgTaskRepository.ts). */
export class Hierarchy extends PgSql {
  *childIds(parentId: string): Step<Array<string>> {
    return yield* this.ids("SELECT id FROM tasks WHERE parent_task_id = $1 ORDER BY submitted_at, seq", [parentId])
  }

  *countChildren(parentId: string): Step<number> {
    return (yield* this.one<{ n: number }>("SELECT count(*)::integer AS n FROM tasks WHERE parent_task_id = $1", [parentId]))!.n
  }

  *rootIds(): Step<Array<string>> {
    return yield* this.ids("SELECT id FROM tasks WHERE parent_task_id IS NULL ORDER BY submitted_at, seq")
  }

  /** Parent-child pairs whose parent is one of `ids`. */
  *childrenOfMany(ids: ReadonlyArray<string>): Step<Array<{ id: string; parentId: string }>> {
    return yield* this.rows<{ id: string; parentId: string }>(
      `SELECT id, parent_task_id AS "parentId" FROM tasks WHERE parent_task_id = ANY($1::text[])`,
      [ids]
    )
  }

  /** What the readiness gate of these tasks needs, with their facts for a score (one query). */
  *gateFacts(ids: ReadonlyArray<string>): Step<Array<GateFacts>> {
    if (ids.length === 0) return []
    return yield* this.rows<GateFacts>(`SELECT ${GATE_COLUMNS} FROM tasks t WHERE t.id = ANY($1::text[])`, [ids])
  }

  /** Sets `ancestor_gated` of a task's children and returns them with what their own gate needs. */
  *gateChildren(parentId: string, gated: boolean): Step<Array<GateFacts>> {
    yield* this.run("UPDATE tasks SET ancestor_gated = $1 WHERE parent_task_id = $2", [gated, parentId])
    return yield* this.rows<GateFacts>(`SELECT ${GATE_COLUMNS} FROM tasks t WHERE t.parent_task_id = $1 ORDER BY t.submitted_at, t.seq`, [parentId])
  }

  /**
   * Adds `delta` to the subtree counters of a task and each of its ancestors (a parent link cycle
   * in legacy data is walked once); returns their rows after the change, the task first.
   */
  *adjustSubtree(fromId: string, delta: SubtreeCounts): Step<Array<SubtreeRow>> {
    const rows = yield* this.rows<{ id: string; status: TaskStatus; o: number; c: number; f: number; x: number }>(
      `WITH RECURSIVE anc(id, d) AS (
         SELECT $1::text COLLATE "C", 0
         UNION ALL
         SELECT t.parent_task_id, anc.d + 1 FROM anc JOIN tasks t ON t.id = anc.id WHERE t.parent_task_id IS NOT NULL
       ) CYCLE id SET looped USING path,
       chain AS (SELECT id, min(d) AS d FROM anc WHERE NOT looped GROUP BY id),
       upd AS (
         UPDATE tasks SET subtree_open = subtree_open + $2, subtree_completed = subtree_completed + $3,
           subtree_failed = subtree_failed + $4, subtree_cancelled = subtree_cancelled + $5
         FROM chain WHERE tasks.id = chain.id
         RETURNING tasks.id, tasks.status, subtree_open AS o, subtree_completed AS c, subtree_failed AS f, subtree_cancelled AS x, chain.d
       )
       SELECT id, status, o, c, f, x FROM upd ORDER BY d`,
      [fromId, delta.open, delta.completed, delta.failed, delta.cancelled]
    )
    return rows.map((r) => ({ id: r.id, status: r.status, subtree: { open: r.o, completed: r.c, failed: r.f, cancelled: r.x } }))
  }

  /** Children of a task with their status and open descendants (for cascades). */
  *childStates(parentId: string): Step<Array<{ id: string; status: TaskStatus; subtreeOpen: number }>> {
    return yield* this.rows<{ id: string; status: TaskStatus; subtreeOpen: number }>(
      `SELECT id, status, subtree_open AS "subtreeOpen" FROM tasks WHERE parent_task_id = $1 ORDER BY submitted_at, seq`,
      [parentId]
    )
  }

  /**
   * Every task the waits-for graph reaches from the gates of `gateIds`, with its facts (as the
   * SQLite repository's `waitRegion`, `declared` included): one recursive query, its steps in a
   * LATERAL union.
   */
  *waitRegion(gateIds: ReadonlyArray<string>, declared: boolean): Step<Array<WaitRegionRow>> {
    if (gateIds.length === 0) return []
    const live = (t: string) => (declared ? `${t}.status <> 'completed'` : `${t}.status IN ${OPEN}`)
    const below = (t: string) => (declared ? `(${t}.subtree_open + ${t}.subtree_failed + ${t}.subtree_cancelled)` : `${t}.subtree_open`)
    return yield* this.rows<WaitRegionRow>(
      `WITH RECURSIVE r(k, id) AS (
         SELECT 'g'::text, g COLLATE "C" FROM unnest($1::text[]) AS g
         UNION
         SELECT s.k, s.id FROM r JOIN tasks t ON t.id = r.id, LATERAL (
           SELECT 'g'::text AS k, t.parent_task_id AS id WHERE r.k = 'g' AND t.parent_task_id IS NOT NULL
           UNION ALL
           SELECT 'd', d.prerequisite_task_id FROM task_dependencies d
             WHERE r.k = 'g' AND ${live("t")} AND d.dependent_task_id = r.id${declared ? "" : " AND d.resolved_at IS NULL"}
           UNION ALL
           SELECT 'g', r.id WHERE r.k = 'd' AND ${live("t")}
           UNION ALL
           SELECT 'd', c.id FROM tasks c
             WHERE r.k = 'd' AND ${below("t")} > 0 AND c.parent_task_id = r.id AND (${live("c")} OR ${below("c")} > 0)
         ) s
       )
       SELECT t.id, t.parent_task_id AS "parentId", (${live("t")})::int AS open, ${below("t")} AS "subtreeOpen", x.waited
       FROM (SELECT id, max((k = 'd')::int) AS waited FROM r GROUP BY id) x JOIN tasks t ON t.id = x.id`,
      [gateIds]
    )
  }

  /** Whether any subtask is not COMPLETED (as the SQLite repository's `anyLiveSubtask`). */
  *anyLiveSubtask(): Step<boolean> {
    const rows = yield* this.rows<{ n: boolean }>(
      "SELECT EXISTS (SELECT 1 FROM tasks WHERE parent_task_id IS NOT NULL AND status <> 'completed') AS n",
      []
    )
    return rows[0]?.n === true
  }

  /** The unresolved edges (`declared`: all the edges) whose dependent is one of these tasks. */
  *waitEdgesOf(ids: ReadonlyArray<string>, declared: boolean): Step<Array<{ dependentId: string; prerequisiteId: string }>> {
    if (ids.length === 0) return []
    return yield* this.rows<{ dependentId: string; prerequisiteId: string }>(
      `SELECT dependent_task_id AS "dependentId", prerequisite_task_id AS "prerequisiteId" FROM task_dependencies
       WHERE dependent_task_id = ANY($1::text[])${declared ? "" : " AND resolved_at IS NULL"}`,
      [ids]
    )
  }
}
