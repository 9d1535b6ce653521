import { build } from "esbuild"
import { execFileSync } from "node:child_process"
import { mkdirSync, mkdtempSync, rmSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import type { TestProject } from "vitest/node"
import { bundleScript } from "../../../../scripts/bundle-script.mjs"

declare module "vitest" {
  export interface ProvidedContext {
    /** dist/main.js of this package, freshly built. */
    serverMain: string
    /** A plain Node script over @abathur/queue (test/fixtures/queueScript.ts, bundled). */
    queueScript: string
  }
}

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..")

export default async function setup(project: TestProject) {
  execFileSync(process.execPath, [join(root, "build.mjs")], { cwd: root, stdio: "inherit" })
  // Inside this package, so that the bundle finds better-sqlite3 in its node_modules.
  const cache = join(root, "node_modules", ".cache")
  mkdirSync(cache, { recursive: true })
  const dir = mkdtempSync(join(cache, "abathur-server-fixtures-"))
  const queueScript = join(dir, "queueScript.mjs")
  // The background checkpointer's worker goes beside the bundle (as build.mjs does).
  await bundleScript(build, join(root, "test/fixtures/queueScript.ts"), queueScript)
  project.provide("serverMain", join(root, "dist", "main.js"))
  project.provide("queueScript", queueScript)
  return () => rmSync(dir, { recursive: true, force: true })
}
