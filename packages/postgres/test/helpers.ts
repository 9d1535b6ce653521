import { randomUUID } from "node:crypto"
import pg from "pg"
import { afterAll, inject } from "vitest"

/**
 * A database of its own for the calling test file, on the run's server (globalSetup), with a
 * pool on it; dropped after the file's tests.
 */
export const freshDatabase = async (options: { max?: number } = {}): Promise<{ pool: pg.Pool; url: string }> => {
  const admin = new URL(inject("postgresUrl"))
  const name = `abathur_test_${randomUUID().replaceAll("-", "").slice(0, 16)}`
  const adminClient = new pg.Client({ connectionString: admin.toString() })
  await adminClient.connect()
  await adminClient.query(`CREATE DATABASE ${name}`)
  await adminClient.end()
  const url = new URL(admin)
  url.pathname = `/${name}`
  const pool = new pg.Pool({ connectionString: url.toString(), max: options.max ?? 4 })
  pool.on("error", () => undefined)
  afterAll(async () => {
    await pool.end()
    const c = new pg.Client({ connectionString: admin.toString() })
    await c.connect()
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
    await c.end()
  })
  return { pool, url: url.toString() }
}

/** A promise with its resolver (to hold a transaction open at a chosen point). */
export const deferred = <A = void>() => {
  let resolve!: (a: A) => void
  const promise = new Promise<A>((r) => (resolve = r))
  return { promise, resolve }
}
