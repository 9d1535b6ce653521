import { type ChildProcess, spawn } from "node:child_process"
import { existsSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { afterAll } from "vitest"

/** The real `abathur-server` (apps/server/dist/main.js, built before this package's tests: a dev dependency). */
export const SERVER = fileURLToPath(new URL("../../../server/dist/main.js", import.meta.url))

const real: Array<ChildProcess> = []
afterAll(() => {
  for (const p of real) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL")
})

/** Starts the real server on a free loopback port and a fresh database; resolves with its URL. */
export const startRealServer = (db: string, env: Record<string, string>): Promise<string> =>
  new Promise((resolve, reject) => {
    if (!existsSync(SERVER)) return reject(new Error(`${SERVER} is missing: build the server first (cd apps/server && node build.mjs)`))
    const clean: Record<string, string> = {}
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith("ABATHUR_")) clean[k] = v
    const child = spawn(process.execPath, [SERVER, "--port", "0", "--db", db], { env: { ...clean, ...env }, stdio: ["ignore", "ignore", "pipe"] })
    real.push(child)
    let err = ""
    const timer = setTimeout(() => reject(new Error(`the server did not start in 60 s:\n${err}`)), 60_000)
    child.stderr!.setEncoding("utf8").on("data", (d: string) => {
      err += d
      const m = /listening on (http:\/\/[^\s"]+)/.exec(err)
      if (m !== null) {
        clearTimeout(timer)
        resolve(m[1]!)
      }
    })
    child.once("exit", (code, signal) => {
      clearTimeout(timer)
      reject(new Error(`the server exited (${code ?? signal}) before listening:\n${err}`))
    })
  })
