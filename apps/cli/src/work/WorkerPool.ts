import type { ClaimedTask, JsonValue } from "@abathur/domain"
import { Effect, Either, Fiber, Queue, Runtime } from "effect"
import { type ClaimRequest, isLost, type WorkBackend, type WorkError } from "./Backend.js"
import { watchChanges } from "./ChangeWatch.js"
import { type ChildExit, resultOf } from "./Child.js"
import { makeGroupCommit } from "./GroupCommit.js"
import { describe, guard, makeLeaseKeeper, short, transient } from "./LeaseKeeper.js"
import { makeSpawner } from "./Spawner.js"
import type { StatusSnapshot } from "./StatusLine.js"
import { childSpec, type Entry, endingOf, failureOf, newEntry, seconds } from "./TaskRun.js"

/**
 * The worker pool behind `abathur work`: claims ready tasks, runs the command once per task (at
 * most `concurrency` at a time), renews leases while children run, and reports each outcome. The
 * queue decides what a report means (retries, cascades); the pool only calls it. One task's run
 * (what the child is given, what its exit means) is in TaskRun.ts, the leases in LeaseKeeper.ts,
 * the watch on other processes' commits in ChangeWatch.ts.
 */

export interface PoolOptions {
  /** The program's path. */
  readonly file: string
  /** The program and its arguments, run per task (`/bin/sh -c CMD` with --shell). */
  readonly argv: ReadonlyArray<string>
  /** The command as typed, for messages and logs. */
  readonly command: string
  readonly concurrency: number
  readonly worker: string
  readonly agentType?: string | undefined
  /** Lease length; default each task's maxExecutionTimeoutSeconds. */
  readonly leaseSeconds?: number | undefined
  readonly untilEmpty: boolean
  readonly maxTasks?: number | undefined
  /** The children's base environment (the worker's own). */
  readonly env: Readonly<Record<string, string | undefined>>
  readonly cwd: string
  /** Where the per-task log files go (the folder exists), or null for none. */
  readonly logPath: ((taskId: string) => string) | null
  /** Between SIGTERM and SIGKILL (default 5 s). */
  readonly killGraceMs?: number
  /** How often the idle worker looks for changes from other processes (default 50 ms). */
  readonly pollMs?: number
  /** Idle rescan, e.g. for leases that expire without anyone writing (default 2 s). */
  readonly rescanMs?: number
  /** Long-poll wait per claim for backends that long-poll (default 2 s: also how long a stop may wait). */
  readonly longPollSeconds?: number
}

export type LogLevel = "debug" | "info" | "warning" | "error"

export interface PoolIo {
  readonly log: (level: LogLevel, message: string) => Effect.Effect<void>
  /** Installs the handler for SIGINT/SIGTERM; returns its removal. */
  readonly onSignal: (handler: (signal: string) => void) => () => void
  /** Called once at the start with the way to read the live status. */
  readonly attach: (snapshot: () => StatusSnapshot) => void
  /** Called whenever the live status changes. */
  readonly changed: () => void
}

export interface WorkSummary {
  readonly completed: number
  readonly failed: number
  readonly retried: number
  readonly timedOut: number
}

/** How long a completion waits at most for others to share its transaction (while other children run). */
const GROUP_COMMIT_MS = 3

export const runPool = (backend: WorkBackend, options: PoolOptions, io: PoolIo): Effect.Effect<WorkSummary, WorkError> =>
  Effect.gen(function* () {
    const graceMs = options.killGraceMs ?? 5000
    const pollMs = options.pollMs ?? 50
    const rescanMs = options.rescanMs ?? 2000
    const longPollSeconds = options.longPollSeconds ?? 2
    const wake = yield* Queue.sliding<void>(1)
    const notify = () => {
      Queue.unsafeOffer(wake, undefined)
    }
    const running = new Map<string, Entry>()
    /** Tasks claimed by a completion (complete and claim next), waiting for the loop to start them. */
    const handoff: Array<ClaimedTask> = []
    const counts = { completed: 0, failed: 0, retried: 0, timedOut: 0 }
    let claimed = 0
    /** Set once the loop stops taking work: completions then claim nothing more. */
    let draining = false
    /** A long-poll claim is on its way: a completion then claims nothing, so slots are never overfilled. */
    let polling = false
    let stopping: string | null = null
    let signals = 0
    let fatal: WorkError | null = null
    const request: ClaimRequest = { worker: options.worker, leaseSeconds: options.leaseSeconds, agentType: options.agentType }

    const changed = () => io.changed()
    const runtime = yield* Effect.runtime<never>()
    const logNow = (level: LogLevel, message: string) => {
      Runtime.runFork(runtime)(io.log(level, message))
    }
    io.attach(() => ({
      running: [...running.values()].map((e) => ({ id: e.task.id, summary: e.task.summary, startedAt: e.startedAt })),
      ...counts,
      stopping
    }))

    const { lose, heartbeats, persist } = makeLeaseKeeper(backend, io.log, graceMs)
    /** How many of `wanted` next tasks may be claimed now: none once stopping, draining or polling, none past --max-tasks. */
    const claimable = (wanted: number): number =>
      stopping !== null || draining || polling
        ? 0
        : Math.min(wanted, options.maxTasks === undefined ? wanted : Math.max(0, options.maxTasks - claimed))
    /** Completions of children that finish close together go in one transaction (in-process stores). */
    const complete = makeGroupCommit(backend, {
      windowMs: GROUP_COMMIT_MS,
      others: (gathered) => running.size - gathered,
      // Checked again when the batch commits: a signal or --max-tasks may have come meanwhile.
      nextLimit: claimable,
      request,
      log: io.log
    })

    // ---- one task ------------------------------------------------------------------------

    const report = (entry: Entry, exit: ChildExit) =>
      Effect.gen(function* () {
        const { task } = entry
        const id = short(task.id)
        if (entry.forced) {
          const done = yield* persist(
            "return it to the queue",
            entry,
            backend.release(task.id, task.leaseToken, `worker ${options.worker} stopped by a second signal`)
          )
          if (Either.isRight(done)) yield* io.log("info", `task ${id} returned to the queue (its command was killed)`)
          return
        }
        if (entry.lost !== null) {
          yield* io.log("info", `task ${id}: its command stopped; the task ${entry.lost}, so nothing is reported`)
          return
        }
        let error = failureOf(entry, exit, options.command, graceMs)
        if (error === null) {
          const result = resultOf(exit.stdout) as JsonValue
          // Complete and claim this slot's next task in one transaction, while there is work to take.
          const more = claimable(1) > 0
          const done = yield* persist("complete it", entry, complete({ id: task.id, leaseToken: task.leaseToken, result }, more))
          if (Either.isRight(done)) {
            const next = done.right
            if (next !== undefined && next !== null) {
              claimed++
              handoff.push(next)
            }
            counts.completed++
            yield* io.log("debug", `task ${id} completed in ${seconds(exit.durationMs)}: ${task.summary}`)
            return
          }
          if (isLost(done.left) || transient(done.left)) return
          // The queue refused the result (e.g. a ValidationError): the attempt fails rather than
          // leaving the task running until its lease lapses.
          error = `the command succeeded but its result was refused: ${describe(done.left)}`
        }
        const failed = yield* persist("fail it", entry, backend.fail(task.id, task.leaseToken, error))
        if (Either.isLeft(failed)) return
        const r = failed.right
        if (entry.timedOut) counts.timedOut++
        if (r.retried) counts.retried++
        else counts.failed++
        const lastLine = error.trim().split("\n").pop() ?? ""
        const what = endingOf(entry, exit)
        yield* io.log(
          r.retried ? "warning" : "error",
          `task ${id} failed (${what}) after ${seconds(exit.durationMs)}${r.retried ? `, will be retried (${task.retryCount + 1} of ${task.maxRetries})` : ", no retries left"}: ${lastLine.slice(0, 200)}`
        )
      })

    const runTask = (entry: Entry) =>
      Effect.gen(function* () {
        const { task } = entry
        const leaseSeconds = options.leaseSeconds ?? task.maxExecutionTimeoutSeconds
        const child = spawner.start(childSpec(entry, options, leaseSeconds))
        entry.child = child
        changed()
        yield* io.log("debug", `task ${short(task.id)} started: ${task.summary}`)
        const beats = yield* Effect.fork(heartbeats(entry, leaseSeconds))
        const deadline = yield* Effect.fork(
          Effect.sleep(task.maxExecutionTimeoutSeconds * 1000).pipe(
            Effect.zipRight(
              Effect.suspend(() => {
                if (entry.exited || entry.forced) return Effect.void
                entry.timedOut = true
                child.terminate(graceMs)
                return io.log("warning", `task ${short(task.id)} timed out after ${task.maxExecutionTimeoutSeconds} s: SIGTERM to its process group`)
              })
            )
          )
        )
        const exit = yield* child.exited
        entry.exited = true
        yield* Fiber.interrupt(beats)
        yield* Fiber.interrupt(deadline)
        yield* report(entry, exit)
      }).pipe(
        Effect.ensuring(
          Effect.sync(() => {
            running.delete(entry.task.id)
            changed()
            notify()
          })
        )
      )

    const start = (task: ClaimedTask, counted = false) =>
      Effect.gen(function* () {
        if (!counted) claimed++
        const entry = newEntry(task)
        running.set(task.id, entry)
        yield* Effect.fork(runTask(entry))
      })

    // ---- signals -------------------------------------------------------------------------

    const onSignal = (signal: string) => {
      signals++
      if (signals === 1) {
        stopping = `${signal}: finishing ${running.size} running`
        const message =
          running.size === 0
            ? `${signal}: stopping`
            : `${signal}: taking no new tasks; waiting for ${running.size} running (send the signal again to kill them and return their tasks to the queue)`
        logNow("warning", message)
      } else {
        stopping = `${signal} again: killing ${running.size} running`
        logNow("warning", `${signal} again: killing ${running.size} running command(s); their tasks go back to the queue`)
        for (const entry of running.values()) {
          if (entry.exited) continue
          entry.forced = true
          entry.child?.kill()
        }
      }
      changed()
      notify()
    }

    // ---- watching other processes --------------------------------------------------------

    /** Cancelled tasks: a task no longer RUNNING while its command runs is not ours any more. */
    const checkRunning = Effect.gen(function* () {
      for (const entry of [...running.values()]) {
        if (entry.exited || entry.lost !== null) continue
        const status = yield* Effect.either(guard(backend.statusOf(entry.task.id)))
        if (Either.isLeft(status)) continue
        if (status.right !== "running" && !entry.exited) yield* lose(entry, status.right === null ? "was deleted" : `is ${status.right} now`)
      }
    })

    // ---- the loop ------------------------------------------------------------------------

    /**
     * How long an idle worker sleeps when no commit wakes it: until the next delayed task's
     * `notBefore` (1 ms past it), at most `rescanMs`. An instant that already woke the worker once
     * (say a task for another agent type) is not waited on again: no busy loop.
     */
    let firedNotBefore: string | null = null
    const idleWait = Effect.gen(function* () {
      if (backend.nextNotBefore === undefined) return rescanMs
      const r = yield* Effect.either(guard(backend.nextNotBefore()))
      const at = Either.isRight(r) ? r.right : null
      const due = at === null ? Number.NaN : Date.parse(at)
      if (Number.isNaN(due)) return rescanMs
      const left = due - Date.now()
      if (left > 0) return Math.min(rescanMs, left + 1)
      // Due already and still not claimed by us: look once more, then wait for news.
      if (at === firedNotBefore) return rescanMs
      firedNotBefore = at
      return 1
    })

    /** Handles a claim's outcome; false when the loop must stop. */
    const took = (r: Either.Either<ReadonlyArray<ClaimedTask>, WorkError>, streak: { errors: number }) =>
      Effect.gen(function* () {
        if (Either.isLeft(r)) {
          if (!transient(r.left)) {
            fatal = r.left
            stopping = "error"
            return "stop" as const
          }
          if (streak.errors++ % 10 === 0) yield* io.log("warning", `cannot claim from ${backend.label}: ${describe(r.left)}; trying again`)
          yield* Effect.raceFirst(Queue.take(wake), Effect.sleep(Math.min(5000, 200 * 2 ** Math.min(streak.errors, 5))))
          return "again" as const
        }
        streak.errors = 0
        const tasks = r.right
        if (tasks.length === 0) return "none" as const
        if (stopping !== null) {
          // A signal came while the claim was on its way: give the tasks back.
          for (const task of tasks) yield* Effect.ignore(guard(backend.release(task.id, task.leaseToken, `worker ${options.worker} is stopping`)))
          return "stop" as const
        }
        for (const task of tasks) yield* start(task)
        return "started" as const
      })

    const spawner = makeSpawner({ ...options.env, ...backend.childEnv })
    spawner.warm()
    const remove = io.onSignal(onSignal)
    const unwatch =
      backend.version === null
        ? null
        : watchChanges({
            backend,
            version: backend.version,
            pollMs,
            runtime,
            changed: notify,
            busy: () => running.size > 0,
            check: checkRunning
          })

    /** Claims for the free slots: up to that many tasks in one transaction (within --max-tasks). */
    const claimFree = (waitSeconds: number) => {
      const free = options.concurrency - running.size - handoff.length
      const limit = Math.max(1, Math.min(free, 100, options.maxTasks === undefined ? free : options.maxTasks - claimed))
      const claim: Effect.Effect<ReadonlyArray<ClaimedTask>, WorkError> = limit > 1
        ? backend.claimMany(request, limit, waitSeconds)
        : Effect.map(backend.claim(request, waitSeconds), (t) => (t === null ? [] : [t]))
      return Effect.either(guard(claim))
    }

    /** Gives back the tasks that completions claimed but the loop did not start (a signal came). */
    const releaseHandoff = Effect.suspend(() =>
      Effect.forEach(
        handoff.splice(0),
        (task) => Effect.ignore(guard(backend.release(task.id, task.leaseToken, `worker ${options.worker} is stopping`))),
        {
          discard: true
        }
      )
    )

    const loop = Effect.gen(function* () {
      const streak = { errors: 0 }
      while (stopping === null) {
        const handed = handoff.shift()
        if (handed !== undefined) {
          yield* start(handed, true)
          continue
        }
        if (options.maxTasks !== undefined && claimed >= options.maxTasks) break
        if (running.size >= options.concurrency) {
          yield* Queue.take(wake)
          continue
        }
        const now = yield* took(yield* claimFree(0), streak)
        if (now === "stop") break
        if (now !== "none") continue
        if (options.untilEmpty && running.size === 0) {
          const open = yield* Effect.either(guard(backend.openCounts()))
          if (Either.isRight(open) && open.right.running === 0 && (open.right.ready === 0 || options.agentType !== undefined)) break
        }
        if (backend.longPoll) {
          polling = true
          const later = yield* took(
            yield* Effect.ensuring(
              claimFree(longPollSeconds),
              Effect.sync(() => (polling = false))
            ),
            streak
          )
          if (later === "stop") break
        } else {
          yield* Effect.raceFirst(Queue.take(wake), Effect.sleep(yield* idleWait))
        }
      }
      draining = true
      while (running.size > 0) yield* Queue.take(wake)
      // What completions claimed after the loop stopped starting work goes back to the queue.
      yield* releaseHandoff
    })

    yield* loop.pipe(
      Effect.ensuring(
        Effect.sync(() => {
          remove()
          unwatch?.()
          spawner.close()
        })
      )
    )
    if (fatal !== null) return yield* Effect.fail<WorkError>(fatal)
    return { ...counts }
  })
