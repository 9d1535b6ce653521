// For the apps' esbuild builds: writes @abathur/storage's checkpointer worker
// (packages/storage/src/CheckpointWorker.mjs) beside the output file that holds Checkpointer.ts,
// which starts the worker by path from its own folder (see Checkpointer.ts).
import { dirname, join, resolve } from "node:path"

/**
 * @param {typeof import("esbuild").build} build esbuild's, from the app (the root has no esbuild)
 * @param {import("esbuild").Metafile} metafile the bundle's metafile (paths relative to the cwd)
 * @param {{ minify?: boolean }} [options]
 */
export const checkpointWorker = async (build, metafile, options = {}) => {
  const holders = Object.entries(metafile.outputs).flatMap(([output, { inputs }]) => {
    const source = Object.keys(inputs)
      .map((input) => resolve(input))
      .find((input) => /[\\/]storage[\\/]src[\\/]Checkpointer\.ts$/.test(input))
    return source === undefined ? [] : [{ output: resolve(output), source }]
  })
  if (holders.length !== 1) {
    throw new Error(`expected one output holding Checkpointer.ts, found ${holders.length}`)
  }
  const [{ output, source }] = holders
  await build({
    entryPoints: [join(dirname(source), "CheckpointWorker.mjs")],
    outfile: join(dirname(output), "CheckpointWorker.mjs"),
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node20",
    minify: options.minify ?? true,
    legalComments: "none",
    logLevel: "warning"
  })
}
