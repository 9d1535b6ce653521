// For the tests and scripts that run a program built from the workspace's TypeScript sources in a
// process of its own: bundles `entry` into one ESM file (better-sqlite3 external, resolved from the
// output's folder; `require` defined for the bundled CommonJS), with @abathur/storage's
// checkpointer worker beside it (see checkpoint-worker.mjs) unless told not to.
import { checkpointWorker } from "./checkpoint-worker.mjs"

/**
 * @param {typeof import("esbuild").build} build esbuild's, from the caller (the root has no esbuild)
 * @param {string} entry the program's source
 * @param {string} outfile the bundle
 * @param {{ checkpointWorker?: boolean, nodePaths?: Array<string> }} [options]
 */
export const bundleScript = async (build, entry, outfile, options = {}) => {
  const { metafile } = await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node20",
    conditions: ["@abathur/source"],
    external: ["better-sqlite3"],
    banner: { js: 'import { createRequire as __cr } from "node:module"; const require = __cr(import.meta.url);' },
    ...(options.nodePaths !== undefined && { nodePaths: options.nodePaths }),
    metafile: true,
    logLevel: "warning"
  })
  if (options.checkpointWorker !== false) await checkpointWorker(build, metafile)
}
