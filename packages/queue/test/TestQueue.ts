import { calculatePriority, parseTimestamp, type PriorityFacts } from "@abathur/domain"
import { Database, TaskRepository } from "@abathur/storage"
import { dumpDatabase, TestDatabase } from "@abathur/testing"
import { it } from "@effect/vitest"
import type BetterSqlite3 from "better-sqlite3"
import { Effect, Layer, type TestServices } from "effect"
import type { TestOptions } from "vitest"
import { defaultQueueSettings, QueueConfig, type QueueSettings } from "../src/QueueConfig.js"
import { TaskQueue } from "../src/TaskQueue.js"
import { prepared, sqliteTables } from "./Invariants.js"
import { type Probe, type Snapshot, StoreProbe, type StoreUnderTest } from "./StoreUnderTest.js"

export { flip, statuses } from "./StoreUnderTest.js"

/** The property test's snapshot of a SQLite database (StoreUnderTest.ts, `Snapshot`). */
const snapshot = (db: BetterSqlite3.Database): Snapshot => {
  const tables = {
    tasks: prepared(db, "SELECT * FROM tasks ORDER BY id").all() as Snapshot["tasks"],
    deps: prepared(db, "SELECT * FROM task_dependencies ORDER BY id").all(),
    audit: prepared(db, "SELECT count(*) AS n, max(id) AS last, total(id) AS ids FROM task_audit").get(),
    stats: prepared(db, "SELECT * FROM task_stats ORDER BY status").all()
  }
  return { ...tables, json: JSON.stringify(tables) }
}

/** The rows of a SQLite database, read by plain SQL over its connection. */
export const sqliteProbe = (db: BetterSqlite3.Database): Probe => ({
  tables: Effect.sync(() => sqliteTables(db)),
  dump: Effect.sync(() => dumpDatabase(db)),
  snapshot: Effect.sync(() => snapshot(db))
})

/** The probe over the Database service's connection. */
export const SqliteProbe: Layer.Layer<StoreProbe, never, Database> = Layer.effect(
  StoreProbe,
  Effect.map(Database, ({ db }) => sqliteProbe(db))
)

/** The queue over a fresh database file (or `filename`), with the given settings and the probe of its rows. */
export const testQueue = (settings: Partial<QueueSettings> = {}, filename?: string) =>
  TaskQueue.layer.pipe(
    Layer.provideMerge(SqliteProbe),
    Layer.provideMerge(TestDatabase.layer(filename === undefined ? {} : { filename })),
    Layer.provide(QueueConfig.layer({ ...defaultQueueSettings, ...settings }))
  )

/** SQLite, as the shared suites take a store: a fresh temporary file per test (in memory for the property runs), 100 property runs (PROP_RUNS). */
export const sqlite: StoreUnderTest = {
  name: "SQLite",
  queue: (settings, options) => testQueue(settings, options?.scratch === true ? ":memory:" : undefined),
  propertyRuns: Number(process.env["PROP_RUNS"] ?? 100)
}

/**
 * A test (`it.effect`) whose effect runs against the queue over a fresh database file of its own
 * (one per test), with the given settings.
 */
export const queueTest = (
  name: string,
  self: () => Effect.Effect<unknown, unknown, TaskQueue | Database | TaskRepository | StoreProbe | TestServices.TestServices>,
  settings: Partial<QueueSettings> = {},
  options?: number | TestOptions
) => it.effect(name, () => Effect.provide(self(), testQueue(settings)), options)

/** The formula's value for a stored task at `now` (recomputed from the database's facts). */
export const truePriority = (id: string, now: number) =>
  Effect.map(TaskRepository, (repo) => {
    const t = repo.getTask(id)!
    const facts: PriorityFacts = {
      priority: t.priority,
      source: t.source,
      deadline: t.deadline === null ? null : parseTimestamp(t.deadline),
      estimatedDurationSeconds: t.estimatedDurationSeconds,
      openDependents: repo.countOpenDependents(id),
      waitingSince: parseTimestamp(t.submittedAt)!
    }
    return calculatePriority(facts, now, defaultQueueSettings.priority)
  })
