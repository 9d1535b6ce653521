// Builds the `abathur` command into dist/:
// - dist/cli.cjs: src/main.ts bundled by esbuild (platform node, target node20, minified). Workspace
//   packages are bundled from their TypeScript sources (the "@abathur/source" export condition);
//   better-sqlite3 (a native addon) and pg (the PostgreSQL driver, required only for a postgres://
//   --db: the SQLite path never loads it) stay external.
// - dist/spawner.cjs: src/work/SpawnerHelper.ts bundled alone (Node's modules only): the helper
//   process that `abathur work` forks by path to start its commands (see src/work/Spawner.ts).
// - dist/CheckpointWorker.mjs: @abathur/storage's background checkpointer's worker, which
//   Checkpointer.ts starts by path from the folder of the file that holds it (here cli.cjs).
// - dist/main.js: the executable (ESM, `#!/usr/bin/env node`), src/Launcher.ts. It runs cli.cjs
//   through V8's code cache (dist/cli-<hash>.cache, written by a warm-up run below, rewritten when
//   V8 rejects it).
//
// Why not run an ESM bundle directly: start-up time matters (`abathur status --json` within 300 ms
// on a 100,000-task database), and Node 20 has no code cache for ES modules: compiling the ~600 KB
// bundle on every start costs more than the query. A CommonJS bundle compiled with cached data
// starts about a third faster here (see BENCHMARKS.md). The MCP SDK is bundled too but evaluated
// lazily, only by `abathur mcp`.
import { build } from "esbuild"
import { checkpointWorker } from "../../scripts/checkpoint-worker.mjs"
import { execFileSync } from "node:child_process"
import { createHash } from "node:crypto"
import { chmodSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const here = dirname(fileURLToPath(import.meta.url))
const dist = join(here, "dist")
// Built beside dist/ and swapped in at the end, so that a build while the CLI runs (another
// test run, a worker) leaves it a working dist/ at every moment but the two renames.
const outdir = join(here, `dist.building-${process.pid}`)
rmSync(outdir, { recursive: true, force: true })

/**
 * Parsing the bundle is most of the start-up, so it leaves out what the CLI never runs:
 * @effect/cli's config-file parsers (ini, toml, yaml) serve `Options.fileParse` only.
 * (Our sources import zod as `import * as z from "zod"`, never `import { z }`, which makes
 * bundlers keep the whole `z` namespace: every locale, the JSON Schema converters. The linter
 * enforces it, see biome.json.)
 */
const lean = {
  name: "abathur-lean",
  setup(b) {
    b.onResolve({ filter: /^(ini|toml|yaml)$/ }, (args) => ({ path: args.path, namespace: "abathur-unused" }))
    b.onLoad({ filter: /.*/, namespace: "abathur-unused" }, (args) => ({
      contents: `const unused = () => { throw new Error(${JSON.stringify(`${args.path} is not bundled with abathur`)}) }
export const parse = unused, stringify = unused, decode = unused, encode = unused, parseDocument = unused
export default { parse, stringify, decode, encode, parseDocument }`,
      loader: "js"
    }))
  }
}

const result = await build({
  entryPoints: [join(here, "src/main.ts")],
  outfile: join(outdir, "cli.cjs"),
  bundle: true,
  format: "cjs",
  platform: "node",
  target: "node20",
  conditions: ["@abathur/source"],
  external: ["better-sqlite3", "pg"],
  minify: true,
  sourcemap: "external",
  legalComments: "none",
  metafile: true,
  plugins: [lean],
  // The bundle is one function expression that the launcher compiles as is (no copy of the source).
  banner: { js: "(function (exports, require, module, __filename, __dirname) {" },
  footer: { js: "\n})" },
  logLevel: "warning"
})

// The spawner helper: a small program of its own, forked by path (it must start fast and small).
await build({
  entryPoints: [join(here, "src/work/SpawnerHelper.ts")],
  outfile: join(outdir, "spawner.cjs"),
  bundle: true,
  format: "cjs",
  platform: "node",
  target: "node20",
  minify: true,
  legalComments: "none",
  logLevel: "warning"
})

await checkpointWorker(build, result.metafile)

if (process.argv.includes("--metafile")) {
  const { analyzeMetafile } = await import("esbuild")
  console.log(await analyzeMetafile(result.metafile))
}

const hash = createHash("sha256")
  .update(readFileSync(join(outdir, "cli.cjs")))
  .digest("hex")
  .slice(0, 16)
await build({
  entryPoints: [join(here, "src/Launcher.ts")],
  outfile: join(outdir, "main.js"),
  bundle: true,
  format: "esm",
  platform: "node",
  target: "node20",
  define: { CLI_CACHE_FILE: JSON.stringify(`cli-${hash}.cache`) },
  banner: { js: "#!/usr/bin/env node" },
  legalComments: "none",
  logLevel: "warning"
})
chmodSync(join(outdir, "main.js"), 0o755)

const old = join(here, `dist.old-${process.pid}`)
if (existsSync(dist)) renameSync(dist, old)
renameSync(outdir, dist)
rmSync(old, { recursive: true, force: true })

// Warm-up: one run writes the code cache.
const warm = mkdtempSync(join(tmpdir(), "abathur-build-"))
try {
  execFileSync(process.execPath, [join(dist, "main.js"), "--db", join(warm, "warm.db"), "status", "--json"], { stdio: "ignore" })
} finally {
  rmSync(warm, { recursive: true, force: true })
}
