/**
 * Migration 4, "hierarchy": adds the columns of the hierarchy rules (Ddl.ts, HIERARCHY_V4) and
 * computes them for the tasks already there, so that the engine's incremental bookkeeping starts
 * from the truth:
 * - the subtree counters of every task, from its descendants (cycles in legacy parent links are
 *   walked once);
 * - the edges of waiting dependents, resolved by the new rule (the prerequisite and every
 *   descendant COMPLETED); edges of dependents that already started stay as they were;
 * - `ancestor_gated`;
 * - waiting tasks whose status the new rules change go back to PENDING (with an audit row), and
 *   the engine evaluates them when it opens the database, as it does after a legacy upgrade.
 */
import type Database from "better-sqlite3"
import { HIERARCHY_V4 } from "./Ddl.js"
import { formatTimestamp } from "./Timestamp.js"

const OPEN = "('pending', 'blocked', 'ready', 'running')"
const WAITING = "('pending', 'blocked', 'ready')"

export const upgradeHierarchy = (db: Database.Database, now: Date): void => {
  db.exec(HIERARCHY_V4)
  const at = formatTimestamp(now.getTime())
  db.exec(`
    DROP TABLE IF EXISTS temp._abathur_ancestry;
    CREATE TEMP TABLE _abathur_ancestry AS
      WITH RECURSIVE anc(desc_id, anc_id) AS (
        SELECT id, parent_task_id FROM tasks WHERE parent_task_id IS NOT NULL
        UNION
        SELECT anc.desc_id, t.parent_task_id FROM anc JOIN tasks t ON t.id = anc.anc_id
        WHERE t.parent_task_id IS NOT NULL
      )
      SELECT desc_id, anc_id FROM anc WHERE desc_id != anc_id;
    CREATE INDEX temp._abathur_ancestry_anc ON _abathur_ancestry(anc_id);
    CREATE INDEX temp._abathur_ancestry_desc ON _abathur_ancestry(desc_id);
    -- A dependency within one line of the hierarchy would wait for itself under the new rule:
    -- dropped, and kept in the dependent's audit trail.
    DROP TABLE IF EXISTS temp._abathur_dropped;
    CREATE TEMP TABLE _abathur_dropped AS
      SELECT d.id, d.dependent_task_id AS dependent, d.prerequisite_task_id AS prerequisite,
        (SELECT count(*) FROM _abathur_ancestry a WHERE a.desc_id = d.dependent_task_id AND a.anc_id = d.prerequisite_task_id) AS below
      FROM task_dependencies d
      WHERE EXISTS (SELECT 1 FROM _abathur_ancestry a
        WHERE (a.desc_id = d.dependent_task_id AND a.anc_id = d.prerequisite_task_id)
           OR (a.desc_id = d.prerequisite_task_id AND a.anc_id = d.dependent_task_id));
    DELETE FROM task_dependencies WHERE id IN (SELECT id FROM _abathur_dropped);
    UPDATE tasks SET subtree_open = s.o, subtree_completed = s.c, subtree_failed = s.f, subtree_cancelled = s.x
    FROM (
      SELECT a.anc_id AS id,
        sum(d.status IN ${OPEN}) AS o, sum(d.status = 'completed') AS c,
        sum(d.status = 'failed') AS f, sum(d.status = 'cancelled') AS x
      FROM _abathur_ancestry a JOIN tasks d ON d.id = a.desc_id GROUP BY a.anc_id
    ) AS s
    WHERE tasks.id = s.id;
  `)
  const dropped = db.prepare("SELECT dependent, prerequisite, below FROM temp._abathur_dropped").all() as Array<{
    dependent: string
    prerequisite: string
    below: number
  }>
  const note = db.prepare(
    "INSERT INTO task_audit (task_id, from_status, to_status, at, actor, reason) SELECT id, NULL, status, ?, 'migration', ? FROM tasks WHERE id = ?"
  )
  for (const d of dropped) {
    note.run(
      at,
      `schema v4 dropped the dependency on ${d.prerequisite}, ${d.below > 0 ? "an ancestor" : "a descendant"} of this task: ` +
        `a subtask now waits for its ancestors' prerequisites, and an edge within one line of the hierarchy would wait for itself`,
      d.dependent
    )
  }
  db.exec("DROP TABLE temp._abathur_dropped")
  if (dropped.length > 0) {
    // Depths follow the remaining prerequisites (the graph is acyclic: this reaches its fixed point).
    const deepen = db.prepare(
      `UPDATE tasks SET dependency_depth = coalesce((SELECT 1 + max(p.dependency_depth) FROM task_dependencies d
         JOIN tasks p ON p.id = d.prerequisite_task_id WHERE d.dependent_task_id = tasks.id), 0)
       WHERE dependency_depth IS NOT coalesce((SELECT 1 + max(p.dependency_depth) FROM task_dependencies d
         JOIN tasks p ON p.id = d.prerequisite_task_id WHERE d.dependent_task_id = tasks.id), 0)`
    )
    while (deepen.run().changes > 0);
  }
  // Edges of waiting dependents follow the new rule: resolved iff the prerequisite's subtree is complete.
  const complete = `p.status = 'completed' AND p.subtree_open = 0 AND p.subtree_failed = 0 AND p.subtree_cancelled = 0`
  db.prepare(
    `UPDATE task_dependencies SET resolved_at = NULL
     WHERE resolved_at IS NOT NULL
       AND (SELECT status FROM tasks WHERE id = dependent_task_id) IN ${WAITING}
       AND NOT EXISTS (SELECT 1 FROM tasks p WHERE p.id = prerequisite_task_id AND ${complete})`
  ).run()
  db.prepare(
    `UPDATE task_dependencies SET resolved_at = coalesce((SELECT completed_at FROM tasks WHERE id = prerequisite_task_id), ?)
     WHERE resolved_at IS NULL
       AND (SELECT status FROM tasks WHERE id = dependent_task_id) IN ${WAITING}
       AND EXISTS (SELECT 1 FROM tasks p WHERE p.id = prerequisite_task_id AND ${complete})`
  ).run(at)
  db.exec(`
    UPDATE tasks SET ancestor_gated = 1 WHERE EXISTS (
      SELECT 1 FROM _abathur_ancestry a JOIN task_dependencies d ON d.dependent_task_id = a.anc_id AND d.resolved_at IS NULL
      WHERE a.desc_id = tasks.id);
  `)
  // Waiting tasks the new rules see otherwise: evaluated again by the engine (PENDING).
  const unresolved = `EXISTS (SELECT 1 FROM task_dependencies u WHERE u.dependent_task_id = t.id AND u.resolved_at IS NULL)`
  const doomed = `EXISTS (SELECT 1 FROM task_dependencies u JOIN tasks p ON p.id = u.prerequisite_task_id
      WHERE u.dependent_task_id = t.id AND u.resolved_at IS NULL
        AND (p.status IN ('failed', 'cancelled') OR p.subtree_failed + p.subtree_cancelled > 0))`
  const stale = db
    .prepare(
      `SELECT t.id, t.status FROM tasks t WHERE
         (t.status = 'ready' AND (t.ancestor_gated = 1 OR ${unresolved}))
         OR (t.status = 'blocked' AND t.ancestor_gated = 0 AND NOT ${unresolved})
         OR (t.status IN ('blocked', 'ready') AND ${doomed})`
    )
    .all() as Array<{ id: string; status: string }>
  const toPending = db.prepare(
    "UPDATE tasks SET status = 'pending', priority_rank = NULL, priority_refresh_at = NULL, last_updated_at = ? WHERE id = ?"
  )
  const audit = db.prepare("INSERT INTO task_audit (task_id, from_status, to_status, at, actor, reason) VALUES (?, ?, 'pending', ?, 'migration', ?)")
  for (const r of stale) {
    toPending.run(at, r.id)
    audit.run(r.id, r.status, at, "schema v4: readiness evaluated again under the hierarchy rules")
  }
  db.exec("DROP TABLE temp._abathur_ancestry")
}
