/**
 * abathur's executable (dist/main.js, built by build.mjs): runs the bundled CLI (dist/cli.cjs)
 * through V8's code cache, so that it starts fast. Node's modules only; build.mjs bundles it with
 * `CLI_CACHE_FILE` defined as the cache's file name (it carries a hash of cli.cjs, so that a new
 * build never tries the cache of an old one).
 */
import { accessSync, constants, readFileSync, renameSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { Script } from "node:vm"

declare const CLI_CACHE_FILE: string

const dir = dirname(fileURLToPath(import.meta.url))
const filename = join(dir, "cli.cjs")
const cacheFile = join(dir, CLI_CACHE_FILE)
// esbuild writes ASCII only (charset "ascii"), so latin1 reads the same text, faster.
const source = readFileSync(filename, "latin1")
let cachedData: Buffer | undefined
try {
  cachedData = readFileSync(cacheFile)
} catch {
  // No cache yet: this run writes it.
}
const script = new Script(source, cachedData === undefined ? { filename } : { filename, cachedData })
const writable = () => {
  try {
    accessSync(dir, constants.W_OK)
    return true
  } catch {
    return false
  }
}
if ((cachedData === undefined || script.cachedDataRejected === true) && writable()) {
  // Keep what this run compiled for the next runs.
  process.once("exit", () => {
    try {
      const tmp = `${cacheFile}.${process.pid}.tmp`
      writeFileSync(tmp, script.createCachedData())
      renameSync(tmp, cacheFile)
    } catch {
      // A read-only or full disk: the next run compiles again.
    }
  })
}
const module = { exports: {} }
// The bundle is one function expression (build.mjs wraps it) taking CommonJS's module arguments.
const run = script.runInThisContext() as (
  exports: object,
  require: NodeJS.Require,
  module: { exports: object },
  filename: string,
  dirname: string
) => void
run(module.exports, createRequire(filename), module, filename, dir)
