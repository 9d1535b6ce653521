/** Types of scripts/checkpoint-worker.mjs, for the tests that bundle the queue. */
import type { build, Metafile } from "esbuild"
export declare const checkpointWorker: (esbuild: typeof build, metafile: Metafile, options?: { minify?: boolean }) => Promise<void>
