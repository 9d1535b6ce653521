import { Effect, Runtime } from "effect"
import type { WorkBackend } from "./Backend.js"

/**
 * Wakes the worker pool's loop when another process commits. The backend's change events (a file
 * watch on the WAL) cost nothing while nothing happens; without them the version is polled every
 * `pollMs`. A change also runs `check` (the pool looks for cancelled tasks among the running ones),
 * at most every 250 ms and only while `busy()`. Plain callbacks rather than a fiber loop: an idle
 * worker must cost next to nothing. Returns the way to stop watching.
 */
export const watchChanges = (options: {
  readonly backend: WorkBackend
  readonly version: () => Effect.Effect<number>
  readonly pollMs: number
  readonly runtime: Runtime.Runtime<never>
  /** Called on every change seen. */
  readonly changed: () => void
  readonly busy: () => boolean
  readonly check: Effect.Effect<void>
}): (() => void) => {
  const { backend, version, pollMs, runtime } = options
  const read = () => Effect.runSync(Effect.orElseSucceed(version(), () => Number.NaN))
  let last = read()
  let dirty = false
  let checking = false
  let checkedAt = 0
  let checkTimer: NodeJS.Timeout | null = null
  let pending: NodeJS.Timeout | null = null
  const maybeCheck = () => {
    if (!dirty || checking || !options.busy()) return
    const wait = 250 - (Date.now() - checkedAt)
    if (wait > 0) {
      checkTimer ??= setTimeout(() => {
        checkTimer = null
        maybeCheck()
      }, wait)
      return
    }
    dirty = false
    checking = true
    checkedAt = Date.now()
    Runtime.runFork(runtime)(
      options.check.pipe(
        Effect.ensuring(
          Effect.sync(() => {
            checking = false
            maybeCheck()
          })
        )
      )
    )
  }
  const look = () => {
    pending = null
    const v = read()
    if (v === last) return
    last = v
    dirty = true
    options.changed()
    maybeCheck()
  }
  // A commit writes several pages: one look per burst of events.
  const event = () => {
    pending ??= setTimeout(look, 5)
  }
  let poll: NodeJS.Timeout | null = null
  const polling = () => {
    poll ??= setInterval(look, pollMs)
  }
  const unwatch = backend.watch?.(event, polling) ?? null
  if (unwatch === null) polling()
  return () => {
    unwatch?.()
    if (poll !== null) clearInterval(poll)
    if (pending !== null) clearTimeout(pending)
    if (checkTimer !== null) clearTimeout(checkTimer)
  }
}
