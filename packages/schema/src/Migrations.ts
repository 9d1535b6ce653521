import type Database from "better-sqlite3"
import { CLAIM_RANK_V3, INDEX_DIET_V5, TASKS_V1 } from "./Ddl.js"
import { upgradeLegacyTasks } from "./EnhancedQueue.js"
import { upgradeHierarchy } from "./Hierarchy.js"
import { tableExists } from "./Sqlite.js"

/** What a migration may use besides the database handle. */
export interface MigrationContext {
  /** The clock: audit times, backup names, resolution times of completed prerequisites. */
  readonly now: () => Date
}

/**
 * One numbered step of the schema. `up` runs inside the migrator's transaction with foreign
 * keys off; it throws to fail (the migrator rolls everything back).
 */
export interface Migration {
  readonly version: number
  readonly name: string
  readonly up: (db: Database.Database, ctx: MigrationContext) => void
}

/** Every migration, in order. Append only: a released migration is never changed. */
// The entries are alike in shape only: each names its own step.
export const Migrations: ReadonlyArray<Migration> = [
  {
    version: 1,
    name: "legacy-tasks",
    up: (db) => {
      if (!tableExists(db, "tasks")) db.exec(TASKS_V1)
    }
  },
  {
    version: 2,
    name: "enhanced-queue",
    up: (db, ctx) => upgradeLegacyTasks(db, ctx.now())
  },
  {
    version: 3,
    name: "claim-rank",
    up: (db) => db.exec(CLAIM_RANK_V3)
  },
  {
    version: 4,
    name: "hierarchy",
    up: (db, ctx) => upgradeHierarchy(db, ctx.now())
  },
  {
    version: 5,
    name: "index-diet",
    up: (db) => db.exec(INDEX_DIET_V5)
  }
]

/** The schema version this code writes. */
export const LATEST_VERSION: number = Migrations[Migrations.length - 1]?.version ?? 0
