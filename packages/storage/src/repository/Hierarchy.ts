/**
 * The task hierarchy: children and roots, the readiness gate a parent passes down, the subtree
 * counters of a task and its ancestors, and the waits-for graph the deadlock check and the
 * execution plan read (one recursive query over gates, edges and subtrees).
 */
import type { SubtreeCounts, TaskStatus } from "@abathur/domain"
import type { RefreshFacts } from "./Claims.js"
import { inChunks, OPEN, type Sql } from "./Sql.js"

/** A task's state with its subtree counters (for the hierarchy rules). */
export interface SubtreeRow {
  readonly id: string
  readonly status: TaskStatus
  readonly subtree: SubtreeCounts
}

/** A task whose readiness gate may have changed: its facts for a READY score, and what the gate needs. */
export interface GateFacts extends RefreshFacts {
  readonly ancestorGated: boolean
  readonly hasUnresolved: boolean
  readonly hasChildren: boolean
}

interface GateFactsRow extends RefreshFacts {
  readonly ancestorGated: number
  readonly hasUnresolved: number
  readonly hasChildren: number
}

/** A task as the waits-for graph sees it (`open`: 1 when not terminal, as SQLite answers). */
export interface WaitFactRow {
  readonly id: string
  readonly parentId: string | null
  readonly open: number
  readonly subtreeOpen: number
}

/** A task the waits-for graph reached; `waited`: 1 when its subtree is waited for (its `done`). */
export interface WaitRegionRow extends WaitFactRow {
  readonly waited: number
}

/** The columns of GateFacts over `tasks t`. */
const GATE_COLUMNS = `t.id, t.status, t.priority, t.source, t.deadline,
           t.estimated_duration_seconds AS estimatedDurationSeconds, t.submitted_at AS submittedAt, t.not_before AS notBefore,
           (SELECT count(*) FROM task_dependencies o JOIN tasks x ON x.id = o.dependent_task_id
             WHERE o.prerequisite_task_id = t.id AND o.resolved_at IS NULL AND x.status IN ${OPEN}) AS openDependents,
           t.ancestor_gated AS ancestorGated,
           EXISTS (SELECT 1 FROM task_dependencies u WHERE u.dependent_task_id = t.id AND u.resolved_at IS NULL) AS hasUnresolved,
           EXISTS (SELECT 1 FROM tasks c WHERE c.parent_task_id = t.id) AS hasChildren`

const gateFacts = (r: GateFactsRow): GateFacts => ({
  ...r,
  ancestorGated: r.ancestorGated === 1,
  hasUnresolved: r.hasUnresolved === 1,
  hasChildren: r.hasChildren === 1
})

export const makeHierarchy = (sql: Sql) => {
  const { all, get, pluck, stmt } = sql
  return {
    childIds: (parentId: string): Array<string> => pluck("SELECT id FROM tasks WHERE parent_task_id = ? ORDER BY submitted_at, rowid", parentId),

    countChildren: (parentId: string): number => get<{ n: number }>("SELECT count(*) AS n FROM tasks WHERE parent_task_id = ?", parentId)!.n,

    rootIds: (): Array<string> => pluck("SELECT id FROM tasks WHERE parent_task_id IS NULL ORDER BY submitted_at, rowid"),

    /** Parent-child pairs whose parent is one of `ids`. */
    childrenOfMany: (ids: ReadonlyArray<string>): Array<{ id: string; parentId: string }> =>
      inChunks(
        ids,
        (ph) => `SELECT id, parent_task_id AS parentId FROM tasks WHERE parent_task_id IN (${ph})`,
        (sql, part) => all<{ id: string; parentId: string }>(sql, ...part)
      ),

    /** What the readiness gate of these tasks needs, with their facts for a score (one query). */
    gateFacts: (ids: ReadonlyArray<string>): Array<GateFacts> =>
      inChunks(
        ids,
        (ph) => `SELECT ${GATE_COLUMNS} FROM tasks t WHERE t.id IN (${ph})`,
        (sql, part) => all<GateFactsRow>(sql, ...part)
      ).map(gateFacts),

    /**
     * Sets `ancestor_gated` of a task's children (to the parent's gate) and returns them with
     * what their own gate needs.
     */
    gateChildren: (parentId: string, gated: boolean): Array<GateFacts> => {
      stmt("UPDATE tasks SET ancestor_gated = ? WHERE parent_task_id = ?").run(gated ? 1 : 0, parentId)
      return all<GateFactsRow>(`SELECT ${GATE_COLUMNS} FROM tasks t WHERE t.parent_task_id = ? ORDER BY t.submitted_at, t.rowid`, parentId).map(
        gateFacts
      )
    },

    /**
     * Adds `delta` to the subtree counters of a task and each of its ancestors (a parent link
     * cycle in legacy data is walked once); returns their rows after the change.
     */
    adjustSubtree: (fromId: string, delta: SubtreeCounts): Array<SubtreeRow> =>
      all<{ id: string; status: TaskStatus; o: number; c: number; f: number; x: number }>(
        `WITH RECURSIVE anc(id) AS (
           SELECT ? UNION SELECT t.parent_task_id FROM anc JOIN tasks t ON t.id = anc.id WHERE t.parent_task_id IS NOT NULL
         )
         UPDATE tasks SET subtree_open = subtree_open + ?, subtree_completed = subtree_completed + ?,
           subtree_failed = subtree_failed + ?, subtree_cancelled = subtree_cancelled + ?
         WHERE id IN (SELECT id FROM anc)
         RETURNING id, status, subtree_open AS o, subtree_completed AS c, subtree_failed AS f, subtree_cancelled AS x`,
        fromId,
        delta.open,
        delta.completed,
        delta.failed,
        delta.cancelled
      ).map((r) => ({ id: r.id, status: r.status, subtree: { open: r.o, completed: r.c, failed: r.f, cancelled: r.x } })),

    /** Children of a task with their status and open descendants (for cascades). */
    childStates: (parentId: string): Array<{ id: string; status: TaskStatus; subtreeOpen: number }> =>
      all<{ id: string; status: TaskStatus; subtreeOpen: number }>(
        "SELECT id, status, subtree_open AS subtreeOpen FROM tasks WHERE parent_task_id = ? ORDER BY submitted_at, rowid",
        parentId
      ),

    /**
     * Every task the waits-for graph reaches from the gates of `gateIds` (domain Waits.ts: a gate
     * waits for its parent's gate and, while open, for the subtrees of its unresolved edges'
     * prerequisites; a subtree for its open root's gate and its children with open work), with
     * their facts: one recursive query. `declared`: the graph of what may wait again, for the
     * deadlock check: every task not COMPLETED counts as open (a running task may be released, a
     * failed one retried, a cancelled one revived) and every edge of such a task as unresolved.
     */
    waitRegion: (gateIds: ReadonlyArray<string>, declared: boolean): Array<WaitRegionRow> => {
      const live = (t: string) => (declared ? `${t}.status <> 'completed'` : `${t}.status IN ${OPEN}`)
      const below = (t: string) => (declared ? `(${t}.subtree_open + ${t}.subtree_failed + ${t}.subtree_cancelled)` : `${t}.subtree_open`)
      return all<WaitRegionRow>(
        `WITH RECURSIVE r(k, id) AS (
           SELECT 'g', value FROM json_each(?)
           UNION
           SELECT 'g', t.parent_task_id FROM r JOIN tasks t ON t.id = r.id WHERE r.k = 'g' AND t.parent_task_id IS NOT NULL
           UNION
           SELECT 'd', d.prerequisite_task_id FROM r JOIN tasks t ON t.id = r.id
             JOIN task_dependencies d ON d.dependent_task_id = r.id${declared ? "" : " AND d.resolved_at IS NULL"}
             WHERE r.k = 'g' AND ${live("t")}
           UNION
           SELECT 'g', r.id FROM r JOIN tasks t ON t.id = r.id WHERE r.k = 'd' AND ${live("t")}
           UNION
           SELECT 'd', c.id FROM r JOIN tasks t ON t.id = r.id JOIN tasks c ON c.parent_task_id = r.id
             WHERE r.k = 'd' AND ${below("t")} > 0 AND (${live("c")} OR ${below("c")} > 0)
         )
         SELECT t.id, t.parent_task_id AS parentId, ${live("t")} AS open, ${below("t")} AS subtreeOpen, x.waited
         FROM (SELECT id, max(k = 'd') AS waited FROM r GROUP BY id) x JOIN tasks t ON t.id = x.id`,
        JSON.stringify(gateIds)
      )
    },

    /**
     * Whether any subtask is not COMPLETED: without one, the waits-for graph is the dependency
     * graph alone (the hierarchy adds nothing to wait for), and its plain checks suffice. (The
     * planner would scan the table; the parent index reads only the subtasks.)
     */
    anyLiveSubtask: (): boolean =>
      get<{ n: number }>(
        "SELECT EXISTS (SELECT 1 FROM tasks INDEXED BY idx_tasks_parent WHERE parent_task_id IS NOT NULL AND status <> 'completed') AS n"
      )!.n === 1,

    /** The unresolved edges (`declared`: all the edges) whose dependent is one of these tasks. */
    waitEdgesOf: (ids: ReadonlyArray<string>, declared: boolean): Array<{ dependentId: string; prerequisiteId: string }> =>
      inChunks(
        ids,
        (ph) =>
          `SELECT dependent_task_id AS dependentId, prerequisite_task_id AS prerequisiteId FROM task_dependencies
           WHERE dependent_task_id IN (${ph})${declared ? "" : " AND resolved_at IS NULL"}`,
        (sql, part) => all<{ dependentId: string; prerequisiteId: string }>(sql, ...part)
      )
  }
}
