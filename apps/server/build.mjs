// Builds `abathur-server` into dist/: src/main.ts bundled by esbuild as ES modules for Node 20;
// dist/main.js is the executable (`#!/usr/bin/env node`). Workspace packages are bundled from their
// TypeScript sources (the "@abathur/source" export condition); better-sqlite3 (a native addon) and
// pg (the PostgreSQL driver, loaded only for a postgres:// --db) stay external. Some bundled dependencies are CommonJS and call `require` for Node's built-ins:
// the banner gives each module a `require` of its own.
//
// Start-up: main.js only reads the command line; the server is a chunk imported once the command
// line is valid, and the MCP SDK another chunk loaded by the first /mcp request. @effect/platform-node
// imports `undici` (its HTTP client) and `ws` (WebSockets) at the top of modules the server uses,
// but the server never calls either: they are replaced by stubs that throw if ever used.
import { build } from "esbuild"
import { checkpointWorker } from "../../scripts/checkpoint-worker.mjs"
import { chmodSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"

const here = dirname(fileURLToPath(import.meta.url))
// `--outdir DIR` builds elsewhere (the benchmark harness profiles an unminified build); DIR must be
// inside this package for the bundle to find better-sqlite3 in its node_modules.
const outdirAt = process.argv.indexOf("--outdir")
const outdir = outdirAt > 0 && process.argv[outdirAt + 1] !== undefined ? resolve(process.argv[outdirAt + 1]) : join(here, "dist")
rmSync(outdir, { recursive: true, force: true })

/** Modules bundled as stubs: present for imports, never used by the server. */
const unused = {
  undici: ["Agent", "getGlobalDispatcher", "setGlobalDispatcher", "Dispatcher"],
  ws: ["WebSocket", "WebSocketServer"]
}

const stubs = {
  name: "abathur-server-stubs",
  setup(b) {
    const filter = new RegExp(`^(${Object.keys(unused).join("|")})$`)
    b.onResolve({ filter }, (args) => ({ path: args.path, namespace: "abathur-unused" }))
    b.onLoad({ filter: /.*/, namespace: "abathur-unused" }, (args) => {
      const names = unused[args.path]
      return {
        contents: `const unused = () => { throw new Error(${JSON.stringify(`${args.path} is not bundled with abathur-server`)}) }
const stub = new Proxy(unused, { get: unused, construct: unused })
export default stub
${names.map((n) => `export const ${n} = stub`).join("\n")}`,
        loader: "js"
      }
    })
  }
}

/**
 * The dashboard's browser script: src/dashboard/client.ts (and the modules it imports: views/, Dom.ts,
 * Fetch.ts, ...) with its layout library (dagre), bundled
 * for browsers and handed to the server's bundle as the text of `abathur:dashboard-client`.
 */
const dashboardClient = {
  name: "abathur-dashboard-client",
  setup(b) {
    b.onResolve({ filter: /^abathur:dashboard-client$/ }, (args) => ({ path: args.path, namespace: "abathur-dashboard" }))
    b.onLoad({ filter: /.*/, namespace: "abathur-dashboard" }, async () => {
      const client = await build({
        entryPoints: [join(here, "src/dashboard/client.ts")],
        bundle: true,
        write: false,
        minify: !process.argv.includes("--no-minify"),
        format: "iife",
        platform: "browser",
        target: ["chrome110", "firefox110", "safari16"],
        legalComments: "none",
        metafile: true,
        logLevel: "warning"
      })
      // Inside a <script> element, "</script" must not appear.
      const code = client.outputFiles[0].text.replace(/<\/(script)/gi, "<\\/$1")
      return {
        contents: `export default ${JSON.stringify(code)}`,
        loader: "js",
        watchFiles: Object.keys(client.metafile.inputs).map((f) => resolve(f))
      }
    })
  }
}

const result = await build({
  entryPoints: [join(here, "src/main.ts")],
  outdir,
  entryNames: "[name]",
  chunkNames: "chunks/[name]-[hash]",
  splitting: true,
  bundle: true,
  minify: !process.argv.includes("--no-minify"),
  format: "esm",
  platform: "node",
  target: "node20",
  conditions: ["@abathur/source"],
  external: ["better-sqlite3", "pg"],
  sourcemap: "linked",
  legalComments: "none",
  metafile: true,
  banner: {
    js: ['import { createRequire as __abathurCreateRequire } from "node:module";', "const require = __abathurCreateRequire(import.meta.url);"].join(
      "\n"
    )
  },
  plugins: [stubs, dashboardClient],
  logLevel: "warning"
})

// The background checkpointer's worker, beside the chunk that holds Checkpointer.ts (which starts
// it by path from its own folder).
await checkpointWorker(build, result.metafile, { minify: !process.argv.includes("--no-minify") })

if (process.argv.includes("--metafile")) {
  const { analyzeMetafile } = await import("esbuild")
  console.log(await analyzeMetafile(result.metafile))
}

// The shebang goes on the entry only (a banner would put it on every chunk).
const main = join(outdir, "main.js")
writeFileSync(main, `#!/usr/bin/env node\n${readFileSync(main, "utf8")}`)
chmodSync(main, 0o755)
