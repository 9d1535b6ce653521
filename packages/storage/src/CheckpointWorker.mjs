// @ts-check
/**
 * The background checkpointer's worker thread (see Checkpointer.ts, which starts it by path).
 *
 * Plain JavaScript, type-checked by tsc (`checkJs`), so that one file runs as it is wherever the
 * package runs: from `src` under vitest (whose transforms never reach a worker thread), from
 * `dist` (tsc copies it), and beside the apps' esbuild bundles (their build scripts write it next
 * to the bundle that holds Checkpointer.ts). `.mjs`, so that it is an ES module whatever the
 * nearest package.json says. It imports Node's built-ins only and loads better-sqlite3 from
 * `workerData.modulePath`: the same copy as the module that started it.
 *
 * The layout of the shared counters and the phases' values come in `workerData` (one definition,
 * in Checkpointer.ts). It runs only as a worker's entry started with `workerData.abathurCheckpointer`.
 */
import { statSync } from "node:fs"
import { createRequire } from "node:module"
import { isMainThread, workerData } from "node:worker_threads"

/** @typedef {import("./Checkpointer.js").CheckpointWorkerData} CheckpointWorkerData */

/**
 * Runs passive checkpoints until stop() moves the phase away from RUNNING.
 * @param {CheckpointWorkerData} data
 * @returns {void}
 */
const run = (data) => {
  const { modulePath, filename, synchronous, intervalMs, maxWalBytes, idleTruncateBytes, shared } = data
  const { phase: PHASE, checkpoints: CHECKPOINTS, lastLog: LAST_LOG, lastCheckpointed: LAST_CHECKPOINTED } = data.slots
  const { truncations: TRUNCATIONS, errors: ERRORS } = data.slots
  const { starting: STARTING, running: RUNNING, stopped: STOPPED } = data.phases
  const s = new Int32Array(shared)
  if (Atomics.compareExchange(s, PHASE, STARTING, RUNNING) !== STARTING) return
  // Writes paused for this many ticks (about a second): the moment to truncate a large -wal file.
  const idleTicksToTruncate = Math.max(2, Math.ceil(1000 / intervalMs))
  const walSize = () => {
    try {
      return statSync(`${filename}-wal`).size
    } catch {
      return 0
    }
  }
  /** @type {import("better-sqlite3").Database | undefined} */
  let db
  try {
    /** @type {typeof import("better-sqlite3")} */
    const Database = createRequire(import.meta.url)(modulePath)
    db = new Database(filename, { fileMustExist: true })
    // PASSIVE never waits. TRUNCATE holds the write lock while it waits for readers of old
    // snapshots: only briefly, it is tried again later.
    db.pragma("busy_timeout = 20")
    db.pragma(`synchronous = ${synchronous}`)
    const frameBytes = /** @type {number} */ (db.pragma("page_size", { simple: true })) + 24
    const passive = db.prepare("PRAGMA wal_checkpoint(PASSIVE)").raw()
    const truncate = db.prepare("PRAGMA wal_checkpoint(TRUNCATE)").raw()
    let last = [0, 0]
    let idleTicks = 0
    let busyTicks = 0
    let wait = intervalMs
    for (;;) {
      Atomics.wait(s, PHASE, RUNNING, wait)
      if (Atomics.load(s, PHASE) !== RUNNING) break
      try {
        const [, log, done] = /** @type {[number, number, number]} */ (passive.get())
        const idle = log === last[0] && done === last[1] && log === done
        last = [log, done]
        idleTicks = idle ? idleTicks + 1 : 0
        wait = intervalMs
        if (idle) busyTicks = 0
        if (log <= 0 || idle) {
          if (idleTicks === idleTicksToTruncate && walSize() > idleTruncateBytes) {
            // Writes paused: give the disk space of a large -wal file back.
            if (/** @type {[number]} */ (truncate.get())[0] === 0) Atomics.add(s, TRUNCATIONS, 1)
          }
          // Paused for a while: look less often.
          if (idleTicks >= idleTicksToTruncate) wait = Math.max(intervalMs, 1000)
          continue
        }
        Atomics.add(s, CHECKPOINTS, 1)
        Atomics.store(s, LAST_LOG, log)
        Atomics.store(s, LAST_CHECKPOINTED, done)
        if (log * frameBytes >= maxWalBytes / 2) {
          // Close to the size where the connection checkpoints the WAL itself (and so restarts
          // it): keep up closely, so that it has few frames left to copy.
          wait = Math.max(1, Math.floor(intervalMs / 10))
          busyTicks = 0
        } else {
          // Writes go on: look less often (up to 10 intervals), so that one checkpoint copies a
          // hot page once for many commits and the thread leaves the cores to the writers.
          busyTicks++
          wait = intervalMs * Math.min(10, 2 ** Math.min(busyTicks, 4))
        }
      } catch {
        Atomics.add(s, ERRORS, 1)
      }
    }
  } catch {
    Atomics.add(s, ERRORS, 1)
  } finally {
    try {
      if (db !== undefined) db.close()
    } catch {
      // Closing after a failure: the phase below is what stop() waits for.
    }
    Atomics.store(s, PHASE, STOPPED)
    Atomics.notify(s, PHASE)
  }
}

if (!isMainThread && workerData !== null && typeof workerData === "object" && workerData.abathurCheckpointer === true) {
  run(/** @type {CheckpointWorkerData} */ (workerData))
}
