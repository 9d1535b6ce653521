/**
 * Local test helpers: temporary database files (one fresh folder per test, removed after it)
 * and builders for tasks and dependencies. Local because @abathur/testing depends on this
 * package (its temp folders and dumps are imported by path).
 */
import { Task, TaskDependency } from "@abathur/domain"
import BetterSqlite3 from "better-sqlite3"
import * as path from "node:path"
import { afterEach } from "vitest"
// @abathur/testing depends on this package, so its helpers come by path.
import { dumpDatabase as dump } from "../../testing/src/DatabaseDump.js"
import { tempDir } from "../../testing/src/Vitest.js"
import { type DatabaseHandle, type DatabaseOptions, openDatabase } from "../src/Database.js"
import { makeTaskRepository, type TaskStore } from "../src/TaskRepository.js"
import type { StoredTask } from "../src/TaskRows.js"

export { SEED_INDEXES } from "../../schema/test/SeedIndexes.js"
export { dump, tempDir }

const handles: Array<BetterSqlite3.Database> = []

afterEach(() => {
  for (const db of handles.splice(0)) if (db.open) db.close()
})

/** A database path in a fresh temporary directory, inside a folder that does not exist yet. */
export const tempDbFile = (): string => path.join(tempDir(), "data", "abathur.db")

/** Closes a raw handle after the test (when the test did not). */
export const track = (db: BetterSqlite3.Database): BetterSqlite3.Database => {
  handles.push(db)
  return db
}

/** A raw better-sqlite3 connection to a file, closed after the test. */
export const rawConnection = (filename: string): BetterSqlite3.Database => track(new BetterSqlite3(filename))

export interface Opened {
  readonly handle: DatabaseHandle
  readonly db: BetterSqlite3.Database
  readonly repo: TaskStore
  readonly filename: string
}

/** Opens (and migrates) a fresh database file and builds the repository over it. */
export const openRepo = (options: Partial<DatabaseOptions> = {}): Opened => {
  const filename = options.filename ?? tempDbFile()
  const handle = openDatabase({ ...options, filename })
  track(handle.db)
  return { handle, db: handle.db, repo: makeTaskRepository(handle.db), filename }
}

type Bookkeeping =
  | "leaseToken"
  | "leaseExpiresAt"
  | "workerId"
  | "priorityRefreshAt"
  | "priorityRank"
  | "priorityStarved"
  | "cancelledBy"
  | "idempotencyFingerprint"
  | "subtree"
  | "ancestorGated"

/**
 * A stored task: `Task.parse` of the overrides (defaults filled) plus bookkeeping fields, null
 * (and not starved) unless given.
 */
export const makeTask = (overrides: Partial<StoredTask> = {}): StoredTask => {
  const {
    leaseToken = null,
    leaseExpiresAt = null,
    workerId = null,
    priorityRefreshAt = null,
    priorityRank = null,
    priorityStarved = false,
    cancelledBy = null,
    idempotencyFingerprint = null,
    subtree = { open: 0, completed: 0, failed: 0, cancelled: 0 },
    ancestorGated = false,
    ...fields
  } = overrides
  const bookkeeping: Pick<StoredTask, Bookkeeping> = {
    leaseToken,
    leaseExpiresAt,
    workerId,
    priorityRefreshAt,
    priorityRank,
    priorityStarved,
    cancelledBy,
    idempotencyFingerprint,
    subtree,
    ancestorGated
  }
  return { ...Task.parse({ prompt: "Do the thing", ...fields }), ...bookkeeping }
}

/** A dependency edge: `dependent` waits for `prerequisite`. */
export const makeDependency = (dependent: string, prerequisite: string, overrides: Partial<TaskDependency> = {}): TaskDependency =>
  TaskDependency.parse({ dependentTaskId: dependent, prerequisiteTaskId: prerequisite, ...overrides })

/** An ISO time `minutes` after a fixed origin, so that orderings are explicit. */
export const at = (minutes: number): string => new Date(Date.UTC(2026, 0, 1, 0, 0, 0) + minutes * 60_000).toISOString()

/** Runs `f` and returns what it threw (fails the test when it does not throw). */
export const thrown = (f: () => unknown): unknown => {
  try {
    f()
  } catch (error) {
    return error
  }
  throw new Error("expected the call to throw")
}

/** An id no test inserts. */
export const MISSING = "00000000-0000-4000-8000-0000000000ee"

/** A fresh repository with these tasks inserted (in order). */
export const withTasks = (...tasks: ReadonlyArray<StoredTask>): Opened => {
  const opened = openRepo()
  opened.repo.transaction(() => {
    for (const t of tasks) opened.repo.insertTask(t)
  })
  return opened
}
