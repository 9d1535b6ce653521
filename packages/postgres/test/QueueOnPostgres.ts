/**
 * PostgreSQL as the queue's shared suites take a store (packages/queue/test/StoreUnderTest.ts):
 * the queue (TaskQueue over this package's runner) over one database per test file, emptied at
 * each build of the layer (a test, or a run of the property test), and the probe of its rows,
 * read by plain SQL of its own. The suites are imported from the queue's test folder by path:
 * @abathur/queue cannot depend on this package (it depends on the queue), and a suite has one copy.
 */
import { QueueConfig, StoreRunner, TaskQueue } from "@abathur/queue"
import { Effect, Layer } from "effect"
import type pg from "pg"
import { COLUMNS, type Tables } from "../../queue/test/Invariants.js"
import { type Probe, type Snapshot, StoreProbe, type StoreUnderTest } from "../../queue/test/StoreUnderTest.js"
import { makePostgresRunner, migrate, type PostgresRunnerOptions } from "../src/index.js"
import { freshDatabase } from "./helpers.js"

const STATUSES = ["pending", "blocked", "ready", "running", "completed", "failed", "cancelled"]

/** The columns of a checked row, booleans as SQLite has them (0/1). */
const ROW_COLUMNS = COLUMNS.replace("priority_starved", "priority_starved::int AS priority_starved").replace(
  "ancestor_gated",
  "ancestor_gated::int AS ancestor_gated"
)

/** Counters per status, summed over the shards; a status no task ever had counts 0. */
const STATS = `SELECT s.status, coalesce(sum(t.task_count), 0)::int AS task_count, coalesce(sum(t.priority_sum), 0)::float8 AS priority_sum
  FROM unnest($1::text[]) AS s(status) LEFT JOIN task_stats t ON t.status = s.status GROUP BY s.status ORDER BY s.status`

/** Rows whose reference names no row (PostgreSQL enforces these keys: any row here is a defect). */
const DANGLING = `
  SELECT 'task_dependencies' AS "table", d.id FROM task_dependencies d
   WHERE NOT EXISTS (SELECT 1 FROM tasks t WHERE t.id = d.dependent_task_id) OR NOT EXISTS (SELECT 1 FROM tasks t WHERE t.id = d.prerequisite_task_id)
  UNION ALL SELECT 'task_audit', a.id::text FROM task_audit a WHERE NOT EXISTS (SELECT 1 FROM tasks t WHERE t.id = a.task_id)
  UNION ALL SELECT 'tasks', c.id FROM tasks c WHERE c.parent_task_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.id = c.parent_task_id)`

/** The queue's tables (schema_migrations aside). */
const TABLES = ["tasks", "task_dependencies", "task_audit", "plan_submissions", "task_stats"]

/** The rows of a PostgreSQL database, read by plain SQL on the pool. */
export const postgresProbe = (pool: pg.Pool): Probe => {
  const rows = <A>(text: string, values?: Array<unknown>) => Effect.promise(() => pool.query(text, values).then((r) => r.rows as Array<A>))
  return {
    tables: Effect.map(
      Effect.all([
        rows<Tables["tasks"][number]>(`SELECT ${ROW_COLUMNS} FROM tasks ORDER BY seq`),
        rows<Tables["edges"][number]>(
          "SELECT dependent_task_id AS dependent, prerequisite_task_id AS prerequisite, resolved_at, on_failure FROM task_dependencies ORDER BY seq"
        ),
        rows<Tables["stats"][number]>(STATS, [STATUSES]),
        rows<Tables["audit"][number]>("SELECT task_id, from_status, to_status FROM task_audit ORDER BY id"),
        rows<unknown>(DANGLING)
      ]),
      ([tasks, edges, stats, audit, foreignKeyViolations]): Tables => ({ tasks, edges, stats, audit, foreignKeyViolations })
    ),
    // Each table's rows as JSON, in the order of their text (tables without a key order of their own).
    dump: Effect.map(
      Effect.all(TABLES.map((t) => rows<{ rows: string }>(`SELECT coalesce(json_agg(x ORDER BY x::text), '[]')::text AS rows FROM ${t} x`))),
      (all) => JSON.stringify(Object.fromEntries(TABLES.map((t, i) => [t, all[i]![0]!.rows])))
    ),
    snapshot: Effect.map(
      Effect.all([
        rows<Snapshot["tasks"][number]>("SELECT * FROM tasks ORDER BY id"),
        rows<unknown>("SELECT * FROM task_dependencies ORDER BY id"),
        rows<unknown>("SELECT count(*)::int AS n, max(id)::float8 AS last, coalesce(sum(id), 0)::float8 AS ids FROM task_audit"),
        rows<unknown>(STATS, [STATUSES])
      ]),
      ([tasks, deps, audit, stats]): Snapshot => {
        const tables = { tasks, deps, audit: audit[0], stats }
        return { ...tables, json: JSON.stringify(tables) }
      }
    )
  }
}

/**
 * PostgreSQL for the shared suites: one database per test file (created on first use, dropped
 * after the file), emptied for each test. `propertyRuns`: the property test's sequences (each
 * step is a few round trips more than on SQLite).
 */
export const postgresStore = (options: { readonly propertyRuns: number; readonly runner?: PostgresRunnerOptions }): StoreUnderTest => {
  let database: Promise<pg.Pool> | undefined
  const open = () =>
    (database ??= freshDatabase({ max: 4 }).then(async ({ pool }) => {
      await migrate(pool)
      return pool
    }))
  return {
    name: "PostgreSQL",
    propertyRuns: options.propertyRuns,
    queue: (settings) =>
      Layer.unwrapEffect(
        Effect.promise(async () => {
          const pool = await open()
          await pool.query(`TRUNCATE ${TABLES.join(", ")} RESTART IDENTITY`)
          const queue = TaskQueue.layerWithRunner.pipe(
            Layer.provide(Layer.succeed(StoreRunner, makePostgresRunner(pool, options.runner))),
            Layer.provide(QueueConfig.layer(settings))
          )
          return Layer.merge(queue, Layer.succeed(StoreProbe, postgresProbe(pool)))
        })
      )
  }
}
