/**
 * WAL checkpoints on a background thread.
 *
 * By default SQLite checkpoints the WAL inside the commit that takes it past 1000 pages: that
 * commit copies the pages into the database file and fsyncs it, on the caller's thread, and so
 * sets the tail latency of small write transactions (a claim: ~0.3 ms, but ~12 ms at p99).
 *
 * The background checkpointer does that work on a `worker_threads` worker with a connection of its
 * own to the same file: every `intervalMs` it runs `PRAGMA wal_checkpoint(PASSIVE)`, which never
 * blocks writers or readers. While writes go on without a pause it looks less and less often (up
 * to every 10 intervals, until the WAL reaches half of `maxWalBytes`): on a 2-core machine under
 * load a checkpoint every 100 ms took a sizeable share of the second core from the writers, and a
 * rarer one copies each hot page (an index's head, the statistics row) once for many commits. A passive checkpoint cannot restart the log, though: only a writer
 * that starts after a checkpoint copied every frame does, and writers that follow each other
 * without a pause never give it that moment. So the connection keeps its own automatic
 * checkpoint, at `maxWalBytes` instead of 1000 pages (see `openDatabase`): by then the worker has
 * copied nearly every frame, the writer's checkpoint copies the few left and the next write
 * restarts the log. (A RESTART checkpoint on the worker blocks writers instead, for the
 * checkpoint and then for SQLite's busy-handler sleeps: measured, it was worse.) Once writes
 * pause for about a second, the worker truncates a -wal file larger than `idleTruncateBytes`.
 *
 * The worker is a module of its own, CheckpointWorker.mjs, started by path from the folder of this
 * module (found from V8's stack, not `import.meta`, so that it also works in the CLI's CommonJS
 * bundle); it loads the same better-sqlite3 as this module, resolved from this module's location. It is unref'd (it never keeps a process alive)
 * and sleeps in `Atomics.wait` on a shared flag, so that `stop()` wakes it at once and waits,
 * synchronously and for at most one checkpoint, until its connection is closed.
 */
import { createRequire } from "node:module"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { Worker } from "node:worker_threads"

/** How the background checkpointer works; every field has a default. */
export interface BackgroundCheckpointOptions {
  /** How often the worker runs a passive checkpoint, in milliseconds (default 100). */
  readonly intervalMs?: number
  /**
   * The WAL size at which the writing connection checkpoints (the rest) itself, so that the log
   * restarts, in bytes (default 64 MiB).
   */
  readonly maxWalBytes?: number
  /** The -wal file size past which the worker truncates it once writes pause, in bytes (default 4 MiB). */
  readonly idleTruncateBytes?: number
}

/** What the worker did so far. */
export interface CheckpointStats {
  /** Passive checkpoints that found new frames. */
  readonly checkpoints: number
  /** Frames of the WAL at the last passive checkpoint, and how many of them were in the database file after it. */
  readonly lastLogFrames: number
  readonly lastCheckpointedFrames: number
  /** TRUNCATE checkpoints that succeeded (writes had paused and the -wal file was large). */
  readonly truncations: number
  /** Checkpoints that failed (the worker carries on) or a failure to start. */
  readonly errors: number
}

/** A running background checkpointer. */
export interface BackgroundCheckpointer {
  /** False once stopped, or when the worker failed or exited. */
  readonly running: () => boolean
  readonly stats: () => CheckpointStats
  /**
   * Stops the worker: wakes it and waits until its connection is closed (at most one checkpoint,
   * bounded by `stopTimeoutMs`). Idempotent.
   */
  readonly stop: () => void
  /** Resolves once the worker's thread has exited. */
  readonly exited: Promise<void>
}

/** The default `maxWalBytes`. */
export const DEFAULT_MAX_WAL_BYTES = 64 * 1024 * 1024

// The shared Int32Array: the worker's phase, then its counters.
const PHASE = 0
const CHECKPOINTS = 1
const LAST_LOG = 2
const LAST_CHECKPOINTED = 3
const TRUNCATIONS = 4
const ERRORS = 5
const SLOTS = 6

// Phases: the worker moves STARTING -> RUNNING, stop() moves RUNNING -> STOPPING (or STARTING ->
// STOPPED: the worker then never opens the file), the worker ends in STOPPED.
const STARTING = 0
const RUNNING = 1
const STOPPING = 2
const STOPPED = 3

/** What the worker is given (CheckpointWorker.mjs reads it as `workerData`). */
export interface CheckpointWorkerData {
  /** Marks a checkpointer's worker: the worker module runs only then. */
  readonly abathurCheckpointer: true
  /** Where better-sqlite3 is. */
  readonly modulePath: string
  readonly filename: string
  readonly synchronous: "NORMAL" | "FULL"
  readonly intervalMs: number
  readonly maxWalBytes: number
  readonly idleTruncateBytes: number
  /** The phase and the counters, as Int32 slots. */
  readonly shared: SharedArrayBuffer
  /** Where each value is in `shared`. */
  readonly slots: {
    readonly phase: number
    readonly checkpoints: number
    readonly lastLog: number
    readonly lastCheckpointed: number
    readonly truncations: number
    readonly errors: number
  }
  /** The phase's values the worker sets or waits on. */
  readonly phases: { readonly starting: number; readonly running: number; readonly stopped: number }
}

/**
 * The worker's file, beside this module: src/ and dist/ hold it, and the apps' builds write it
 * beside the bundle that holds this module.
 */
export const WORKER_FILE = "CheckpointWorker.mjs"

/** The worker's path: `WORKER_FILE` in the folder of this module. */
export const checkpointWorkerPath = (): string => {
  const file = thisModuleFile()
  return join(dirname(file.startsWith("file:") ? fileURLToPath(file) : file), WORKER_FILE)
}

/**
 * Where better-sqlite3 is, resolved from this module: through `require` where there is one (a
 * CommonJS bundle such as the CLI's, vitest, bundles that define `require`), else from the file
 * of this module as V8 reports it (an ES module: a file URL). Not `import.meta`, which esbuild
 * empties (with a warning) in a CommonJS bundle.
 */
export const resolveBetterSqlite3 = (): string =>
  typeof require === "function" && typeof require.resolve === "function"
    ? require.resolve("better-sqlite3")
    : createRequire(thisModuleFile()).resolve("better-sqlite3")

/** The file (a path, or a file URL for an ES module) of the module that defines this function. */
export const thisModuleFile = (): string => {
  const { prepareStackTrace, stackTraceLimit } = Error
  try {
    Error.stackTraceLimit = 1
    Error.prepareStackTrace = (_error, callSites) => callSites
    const callSites = new Error().stack as unknown as ReadonlyArray<NodeJS.CallSite>
    const file = callSites[0]?.getFileName()
    if (file === undefined || file === null) throw new Error("cannot tell where @abathur/storage is")
    return file
  } finally {
    Error.prepareStackTrace = prepareStackTrace
    Error.stackTraceLimit = stackTraceLimit
  }
}

/**
 * Starts a background checkpointer on a file database in WAL mode. The caller moves its
 * connection's automatic checkpoints to `maxWalBytes` and stops the checkpointer before closing
 * the connection (`openDatabase` does both).
 */
export const startCheckpointer = (
  filename: string,
  options: BackgroundCheckpointOptions & {
    readonly synchronous?: "NORMAL" | "FULL"
    /** The longest `stop()` waits for the worker to close its connection (default 5000 ms). */
    readonly stopTimeoutMs?: number
    /** Called (on the event loop) if the worker fails or exits before `stop()`. */
    readonly onUnexpectedExit?: () => void
    /** Where better-sqlite3 is (default: resolved from this module). */
    readonly modulePath?: string
    /** The worker's file (default: `checkpointWorkerPath()`). */
    readonly workerPath?: string
  } = {}
): BackgroundCheckpointer => {
  const shared = new SharedArrayBuffer(SLOTS * Int32Array.BYTES_PER_ELEMENT)
  const s = new Int32Array(shared)
  const workerData: CheckpointWorkerData = {
    abathurCheckpointer: true,
    modulePath: options.modulePath ?? resolveBetterSqlite3(),
    filename,
    synchronous: options.synchronous ?? "NORMAL",
    intervalMs: Math.max(1, Math.floor(options.intervalMs ?? 100)),
    maxWalBytes: Math.max(0, options.maxWalBytes ?? DEFAULT_MAX_WAL_BYTES),
    idleTruncateBytes: Math.max(0, options.idleTruncateBytes ?? 4 * 1024 * 1024),
    shared,
    slots: {
      phase: PHASE,
      checkpoints: CHECKPOINTS,
      lastLog: LAST_LOG,
      lastCheckpointed: LAST_CHECKPOINTED,
      truncations: TRUNCATIONS,
      errors: ERRORS
    },
    phases: { starting: STARTING, running: RUNNING, stopped: STOPPED }
  }
  const worker = new Worker(options.workerPath ?? checkpointWorkerPath(), {
    workerData,
    // A small heap: the worker holds one connection and two statements.
    resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 4 }
  })
  worker.unref()
  let stopped = false
  const exited = new Promise<void>((resolve) => {
    worker.once("exit", () => {
      // A failure to start leaves the phase RUNNING or STARTING: stop() must not wait for it.
      Atomics.store(s, PHASE, STOPPED)
      if (!stopped) options.onUnexpectedExit?.()
      resolve()
    })
  })
  // An uncaught error ends the worker; "exit" follows and reports it.
  worker.on("error", () => {
    Atomics.add(s, ERRORS, 1)
  })
  const stop = () => {
    if (stopped) return
    stopped = true
    // Not started yet: it will see STOPPED and never open the file.
    if (Atomics.compareExchange(s, PHASE, STARTING, STOPPED) === STARTING) return
    if (Atomics.compareExchange(s, PHASE, RUNNING, STOPPING) !== RUNNING) return
    Atomics.notify(s, PHASE)
    const deadline = Date.now() + (options.stopTimeoutMs ?? 5000)
    for (let left = deadline - Date.now(); Atomics.load(s, PHASE) === STOPPING && left > 0; left = deadline - Date.now()) {
      Atomics.wait(s, PHASE, STOPPING, left)
    }
    if (Atomics.load(s, PHASE) !== STOPPED) void worker.terminate()
  }
  return {
    running: () => !stopped && Atomics.load(s, PHASE) !== STOPPED,
    stats: () => ({
      checkpoints: Atomics.load(s, CHECKPOINTS),
      lastLogFrames: Atomics.load(s, LAST_LOG),
      lastCheckpointedFrames: Atomics.load(s, LAST_CHECKPOINTED),
      truncations: Atomics.load(s, TRUNCATIONS),
      errors: Atomics.load(s, ERRORS)
    }),
    stop,
    exited
  }
}
