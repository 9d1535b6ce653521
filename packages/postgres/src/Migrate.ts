import { MigrationError } from "@abathur/storage"
import pg from "pg"
import { PG_LATEST_VERSION, PgMigrations, SCHEMA_MIGRATIONS } from "./Schema.js"

/** What a migration run did. */
export interface MigrationReport {
  readonly fromVersion: number
  readonly toVersion: number
  readonly applied: ReadonlyArray<number>
}

/** The advisory lock that makes concurrent openers (several servers starting) migrate one at a time. */
const MIGRATION_LOCK = 0x61626174

/**
 * Brings the database to the latest schema version in one transaction, holding an advisory lock
 * so that processes opening the same database at once apply each migration exactly once. Running
 * it again is a no-op. A database newer than this code is refused (`too-new`) and left unchanged;
 * a failed migration rolls everything back (`failed`).
 */
export const migrate = async (db: pg.Pool | pg.ClientBase, now: () => Date = () => new Date()): Promise<MigrationReport> => {
  const pooled = db instanceof pg.Pool ? await db.connect() : null
  const client: pg.ClientBase = pooled ?? (db as pg.ClientBase)
  let fromVersion = 0
  try {
    await client.query("BEGIN")
    try {
      await client.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK])
      await client.query(SCHEMA_MIGRATIONS)
      const res = await client.query<{ v: number }>("SELECT coalesce(max(version), 0)::integer AS v FROM schema_migrations")
      fromVersion = res.rows[0]?.v ?? 0
      if (fromVersion > PG_LATEST_VERSION) {
        throw new MigrationError({
          reason: "too-new",
          message: `the database is at schema version ${fromVersion}, newer than this code's ${PG_LATEST_VERSION}: upgrade Abathur`,
          fromVersion,
          toVersion: PG_LATEST_VERSION
        })
      }
      const applied: Array<number> = []
      for (const m of PgMigrations) {
        if (m.version <= fromVersion) continue
        await client.query(m.up)
        await client.query("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)", [m.version, m.name, now().toISOString()])
        applied.push(m.version)
      }
      await client.query("COMMIT")
      return { fromVersion, toVersion: Math.max(fromVersion, PG_LATEST_VERSION), applied }
    } catch (error) {
      await client.query("ROLLBACK").catch(() => undefined)
      if (error instanceof MigrationError) throw error
      throw new MigrationError({
        reason: "failed",
        message: `migrating the PostgreSQL schema from version ${fromVersion} failed and was rolled back: ${error instanceof Error ? error.message : String(error)}`,
        fromVersion,
        toVersion: PG_LATEST_VERSION
      })
    }
  } finally {
    pooled?.release()
  }
}
