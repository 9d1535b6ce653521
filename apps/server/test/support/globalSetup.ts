import { build } from "esbuild"
import { execFileSync } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import type { TestProject } from "vitest/node"

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
  const dir = mkdtempSync(join(tmpdir(), "abathur-server-fixtures-"))
  const queueScript = join(dir, "queueScript.mjs")
  await build({
    entryPoints: [join(root, "test/fixtures/queueScript.ts")],
    outfile: queueScript,
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node20",
    conditions: ["@abathur/source"],
    external: ["better-sqlite3"],
    // better-sqlite3 is resolved from this package's node_modules.
    nodePaths: [join(root, "node_modules")],
    banner: { js: 'import { createRequire as __cr } from "node:module"; const require = __cr(' + JSON.stringify(join(root, "package.json")) + ");" },
    logLevel: "warning"
  })
  project.provide("serverMain", join(root, "dist", "main.js"))
  project.provide("queueScript", queueScript)
  return () => rmSync(dir, { recursive: true, force: true })
}
