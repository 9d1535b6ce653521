/** Types of scripts/bundle-script.mjs, for the tests that bundle a program of the workspace. */
import type { build } from "esbuild"
export declare const bundleScript: (
  esbuild: typeof build,
  entry: string,
  outfile: string,
  options?: { checkpointWorker?: boolean; nodePaths?: Array<string> }
) => Promise<void>
