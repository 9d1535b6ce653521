import { randomUUID } from "node:crypto"
import pg from "pg"
import { afterAll, inject } from "vitest"

const created: Array<{ pool: pg.Pool; name: string }> = []

// Registered when a test file imports this module, so it runs after that file's tests.
afterAll(async () => {
  const admin = new pg.Client({ connectionString: inject("postgresUrl") })
  await admin.connect()
  try {
    for (const { pool, name } of created.splice(0)) {
      await pool.end()
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
    }
  } finally {
    await admin.end()
  }
})

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
  created.push({ pool, name })
  return { pool, url: url.toString() }
}

/** A promise with its resolver (to hold a transaction open at a chosen point). */
export const deferred = <A = void>() => {
  let resolve!: (a: A) => void
  const promise = new Promise<A>((r) => (resolve = r))
  return { promise, resolve }
}
