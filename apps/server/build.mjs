// Builds `abathur-server` into dist/main.js: src/main.ts bundled by esbuild as one ES module for
// Node 20, executable (`#!/usr/bin/env node`). Workspace packages are bundled from their TypeScript
// sources (the "@abathur/source" export condition); better-sqlite3 stays external (a native addon).
// Some bundled dependencies are CommonJS and call `require` (node built-ins, e.g. `ws` through
// @effect/platform-node): the banner gives the module a `require` of its own.
import { build } from "esbuild"
import { chmodSync, rmSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const here = dirname(fileURLToPath(import.meta.url))
const outdir = join(here, "dist")
rmSync(outdir, { recursive: true, force: true })

const result = await build({
  entryPoints: [join(here, "src/main.ts")],
  outfile: join(outdir, "main.js"),
  bundle: true,
  format: "esm",
  platform: "node",
  target: "node20",
  conditions: ["@abathur/source"],
  external: ["better-sqlite3"],
  sourcemap: "linked",
  legalComments: "none",
  metafile: process.argv.includes("--metafile"),
  banner: {
    js: [
      "#!/usr/bin/env node",
      'import { createRequire as __abathurCreateRequire } from "node:module";',
      "const require = __abathurCreateRequire(import.meta.url);"
    ].join("\n")
  },
  logLevel: "warning"
})

if (result.metafile) {
  const { analyzeMetafile } = await import("esbuild")
  console.log(await analyzeMetafile(result.metafile))
}

chmodSync(join(outdir, "main.js"), 0o755)
