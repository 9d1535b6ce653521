/**
 * Leases: claims (best READY task first, after recovering expired leases and refreshing due
 * priorities), heartbeats, and the ends of an attempt (complete, fail with retries, release).
 */
import { type ClaimedTask, formatTimestamp, type JsonValue, MAX_DURATION_SECONDS, retryBackoffMs, type Task } from "@abathur/domain"
import type { StoredTask } from "@abathur/storage"
import { drain, requeued } from "./Cascade.js"
import { InvalidTransition, LeaseMismatch } from "./QueueError.js"
import { bestReady, claimed, refreshDue, view } from "./Ranking.js"
import { setStatus, transition } from "./Status.js"
import type { Step } from "./Store.js"
import { load, type Tx } from "./Tx.js"

/** A stored timeout within the contract's bound (a row from an older version may hold any number). */
const boundedTimeout = (seconds: number): number =>
  Number.isFinite(seconds) && seconds >= 1 ? Math.min(Math.round(seconds), MAX_DURATION_SECONDS) : MAX_DURATION_SECONDS

/**
 * A RUNNING task is its worker's: a token that is not the current one is refused, and so is no
 * token at all when `tokenRequired` (complete and fail, unless an operator forces them).
 */
const checkLease = (task: StoredTask, leaseToken: string | undefined, action: string, tokenRequired = false): void => {
  if (task.status !== "running") {
    throw new InvalidTransition({
      message: `cannot ${action} task ${task.id}: it is ${task.status}, not running`,
      taskId: task.id,
      status: task.status
    })
  }
  if (leaseToken === undefined && tokenRequired) {
    const holder = task.workerId === null ? "a worker" : `worker ${JSON.stringify(task.workerId)}`
    throw new LeaseMismatch({
      message:
        `task ${task.id} is running under the lease of ${holder} (claimed at ${task.startedAt ?? "?"}, lease until ` +
        `${task.leaseExpiresAt ?? "?"}), and no lease token was given, so this ${action} was refused and nothing changed: ` +
        `pass the lease token its claim returned (--lease-token, "leaseToken"), or --force (HTTP/MCP "force": true) ` +
        `to ${action} it as an operator overriding that worker`,
      taskId: task.id
    })
  }
  if (leaseToken !== undefined && leaseToken !== task.leaseToken) {
    throw new LeaseMismatch({
      message: `task ${task.id} is running under another lease: it was reclaimed, so this worker's result is refused`,
      taskId: task.id
    })
  }
}

/**
 * Puts expired leases back to READY without spending a retry (stallCount + 1), or, past the
 * stall bound, FAILED with its dependents cancelled.
 */
export function* recover(tx: Tx, now: number): Step<Array<string>> {
  const expired = yield* tx.store.expiredLeases(formatTimestamp(now))
  const max = tx.settings.scheduling.maxStalls
  for (const id of expired) {
    const task = yield* load(tx, id)
    const stalls = task.stallCount + 1
    const cleared = { leaseToken: null, leaseExpiresAt: null, workerId: null, stallCount: stalls }
    if (stalls > max) {
      const error =
        `its workers kept stopping: the lease expired ${stalls} times without a report (lease expired at ${task.leaseExpiresAt}; ` +
        `ABATHUR_MAX_STALLS=${max})`
      yield* setStatus(tx, task, "failed", now, { ...cleared, errorMessage: error }, "lease-recovery", `failed: ${error}`)
    } else {
      const error = `lease expired at ${task.leaseExpiresAt}: the worker stopped reporting (stall ${stalls} of ${max})`
      const next = yield* transition(tx, task, "ready", now, { ...cleared, errorMessage: error }, "lease-recovery", error)
      yield* requeued(tx, next, now, "lease-recovery")
    }
  }
  yield* drain(tx, now, "lease-recovery")
  return expired
}

export interface ClaimOptions {
  readonly worker?: string | undefined
  readonly leaseSeconds?: number | undefined
  readonly agentType?: string | undefined
}

/** Claims the most important READY task whose `notBefore` has passed, or returns null. */
export function* claim(tx: Tx, options: ClaimOptions, now: number): Step<ClaimedTask | null> {
  yield* beforeClaims(tx, now)
  return yield* claimBest(tx, options, now)
}

/**
 * What claims at `now` need first: expired leases recovered, due priorities refreshed. Once per
 * instant is enough: a claim leaves no lease expired at `now` and no priority due at `now`.
 */
function* beforeClaims(tx: Tx, now: number): Step<void> {
  yield* recover(tx, now)
  yield* refreshDue(tx, now)
}

/** Claims the best READY task, leases and priorities being up to date at `now` (`beforeClaims`). */
function* claimBest(tx: Tx, options: ClaimOptions, now: number): Step<ClaimedTask | null> {
  const id = yield* bestReady(tx, options.agentType ?? null, now)
  if (id === null) return null
  const task = yield* load(tx, id)
  // Inputs are bounded (7 days), but a row written by an older version may hold any timeout:
  // it is brought within the bound here, so that no row can make every claim fail.
  const timeout = boundedTimeout(task.maxExecutionTimeoutSeconds)
  const leaseSeconds = options.leaseSeconds ?? timeout
  const next = yield* transition(
    tx,
    task,
    "running",
    now,
    {
      startedAt: formatTimestamp(now),
      leaseToken: crypto.randomUUID(),
      leaseExpiresAt: formatTimestamp(now + leaseSeconds * 1000),
      workerId: options.worker ?? null,
      ...(timeout !== task.maxExecutionTimeoutSeconds && { maxExecutionTimeoutSeconds: timeout })
    },
    options.worker ?? null,
    "claimed"
  )
  return claimed(tx, next, now)
}

/** Claims up to `limit` tasks at `now`, best first (recovery and refreshes run once, before the first). */
export function* claimUpTo(tx: Tx, options: ClaimOptions, limit: number, now: number): Step<Array<ClaimedTask>> {
  const out: Array<ClaimedTask> = []
  yield* beforeClaims(tx, now)
  while (out.length < limit) {
    const task = yield* claimBest(tx, options, now)
    if (task === null) break
    out.push(task)
  }
  return out
}

/** Extends a RUNNING task's lease. */
export function* heartbeat(
  tx: Tx,
  id: string,
  options: { leaseToken?: string | undefined; leaseSeconds?: number | undefined },
  now: number
): Step<ClaimedTask> {
  const task = yield* load(tx, id)
  checkLease(task, options.leaseToken, "heartbeat")
  const leaseExpiresAt = formatTimestamp(now + (options.leaseSeconds ?? boundedTimeout(task.maxExecutionTimeoutSeconds)) * 1000)
  const at = formatTimestamp(now)
  yield* tx.store.updateTask(id, { leaseExpiresAt, lastUpdatedAt: at })
  return claimed(tx, { ...task, leaseExpiresAt, lastUpdatedAt: at }, now)
}

/**
 * Completes a RUNNING task. Edges on it (and on each ancestor whose subtree it completes)
 * resolve; `unblocked` lists every task that became READY (dependents and their subtasks) by
 * this completion (not by earlier ones of the same transaction: `completeMany`).
 */
export function* complete(
  tx: Tx,
  id: string,
  options: { result?: JsonValue | undefined; leaseToken?: string | undefined; force?: boolean | undefined },
  now: number,
  actor: string | null
): Step<{ task: Task; unblocked: Array<string> }> {
  const task = yield* load(tx, id)
  checkLease(task, options.leaseToken, "complete", options.force !== true)
  const readiedBefore = tx.readied.length
  const at = formatTimestamp(now)
  const who = actor ?? task.workerId
  const done = yield* setStatus(
    tx,
    task,
    "completed",
    now,
    { completedAt: at, resultData: options.result ?? null, errorMessage: null, leaseToken: null, leaseExpiresAt: null },
    who,
    "completed"
  )
  yield* drain(tx, now, who)
  return { task: view(tx, done, now), unblocked: tx.readied.slice(readiedBefore) }
}

/** One failed attempt: back to READY (after the backoff) while retries remain, else FAILED with its cascade. */
function* failAttempt(
  tx: Tx,
  task: StoredTask,
  error: string,
  now: number,
  actor: string | null
): Step<{ task: StoredTask; retried: boolean; cancelled: Array<string> }> {
  const cleared = { leaseToken: null, leaseExpiresAt: null, workerId: null, errorMessage: error }
  if (task.retryCount < task.maxRetries) {
    const retryCount = task.retryCount + 1
    const s = tx.settings.scheduling
    const wait = retryBackoffMs(task.retryBackoffSeconds ?? s.retryBackoffSeconds, s.retryBackoffMaxSeconds, retryCount, (s.random ?? Math.random)())
    const notBefore = wait > 0 ? formatTimestamp(now + wait) : null
    const next = yield* transition(
      tx,
      task,
      "ready",
      now,
      { ...cleared, retryCount, notBefore },
      actor,
      `attempt failed, retry ${retryCount} of ${task.maxRetries}${notBefore === null ? "" : ` not before ${notBefore}`}: ${error}`
    )
    const r = yield* requeued(tx, next, now, actor)
    yield* drain(tx, now, actor)
    return { task: r.task, retried: true, cancelled: [...tx.cancelledNow] }
  }
  const failed = yield* setStatus(tx, task, "failed", now, cleared, actor, `failed: ${error}`)
  yield* drain(tx, now, actor)
  return { task: failed, retried: false, cancelled: [...tx.cancelledNow] }
}

/** Fails a RUNNING task's attempt. */
export function* fail(
  tx: Tx,
  id: string,
  options: { error: string; leaseToken?: string | undefined; force?: boolean | undefined },
  now: number,
  actor: string | null
): Step<{ task: Task; retried: boolean; cancelled: Array<string> }> {
  const task = yield* load(tx, id)
  checkLease(task, options.leaseToken, "fail", options.force !== true)
  const r = yield* failAttempt(tx, task, options.error, now, actor ?? task.workerId)
  return { task: view(tx, r.task, now), retried: r.retried, cancelled: r.cancelled }
}

/** Gives a RUNNING task back to the queue without spending a retry (a worker shutting down). */
export function* release(
  tx: Tx,
  id: string,
  options: { leaseToken?: string | undefined; reason?: string | undefined },
  now: number,
  actor: string | null
): Step<Task> {
  const task = yield* load(tx, id)
  checkLease(task, options.leaseToken, "release")
  const next = yield* transition(
    tx,
    task,
    "ready",
    now,
    { leaseToken: null, leaseExpiresAt: null, workerId: null },
    actor ?? task.workerId,
    options.reason ?? "released by its worker"
  )
  const r = yield* requeued(tx, next, now, actor ?? task.workerId)
  yield* drain(tx, now, actor ?? task.workerId)
  return view(tx, yield* load(tx, r.task.id), now)
}
