/**
 * Ranking and freshness: a waiting task's priority, its place in the claim order (its rank) and
 * when they must be recomputed; the due refreshes; the best READY task; a task's public view.
 */
import {
  type ClaimedTask,
  formatTimestamp,
  isWaiting,
  parseTimestamp,
  type PriorityFacts,
  priorityRank,
  rankedScore,
  starvationRate,
  type Task,
  type TaskStatus
} from "@abathur/domain"
import type { DueRefresh, ReadyHead, RefreshFacts, StoredPriority, StoredTask } from "@abathur/storage"
import { type ListedTask, publicTask } from "./Model.js"
import type { Step } from "./Store.js"
import type { Tx } from "./Tx.js"

/**
 * A number in [0, 1) fixed by a task id: its last 32 bits, random in a UUID v4 and in a v7 alike
 * (a v7's first bits are its creation time, the same for a whole plan).
 */
const spreadOf = (id: string): number => {
  const n = Number.parseInt(id.slice(-8), 16)
  return Number.isFinite(n) ? n / 2 ** 32 : 0
}

export const ms = (iso: string | null): number | null => (iso === null ? null : (parseTimestamp(iso) ?? null))

/** What a task's priority depends on, its open dependents counted unless given. */
export function* facts(tx: Tx, task: StoredTask, openDependents?: number): Step<PriorityFacts> {
  return taskFacts(task, openDependents ?? (yield* tx.store.countOpenDependents(task.id)))
}

export const taskFacts = (task: StoredTask, openDependents: number): PriorityFacts => ({
  priority: task.priority,
  source: task.source,
  deadline: ms(task.deadline),
  estimatedDurationSeconds: task.estimatedDurationSeconds,
  openDependents,
  waitingSince: ms(task.submittedAt) ?? 0
})

/** Recomputes a waiting task's stored priority, claim rank and next refresh time. */
export function* refresh(tx: Tx, task: StoredTask, now: number, openDependents?: number): Step<StoredTask> {
  if (!isWaiting(task.status)) return task
  const p = yield* priorityOf(tx, task, now, openDependents)
  if (
    p.calculatedPriority !== task.calculatedPriority ||
    p.priorityRank !== task.priorityRank ||
    p.priorityStarved !== task.priorityStarved ||
    p.priorityRefreshAt !== task.priorityRefreshAt
  ) {
    yield* tx.store.updateTask(task.id, p)
  }
  return { ...task, ...p }
}

/** A waiting task's priority at `now`, its place in the claim order and when to recompute them. */
export function* priorityOf(tx: Tx, task: StoredTask, now: number, openDependents?: number): Step<StoredPriority> {
  return scoreAt(tx, task.status, yield* facts(tx, task, openDependents), now, task.id, task.notBefore)
}

/**
 * The score of a task with these facts at `now`, its claim rank, and when they must next be
 * recomputed. Only READY tasks are refreshed as time passes (claims compare READY tasks
 * only); a BLOCKED task's are recomputed when its facts change and when it becomes READY.
 */
export const scoreAt = (tx: Tx, status: TaskStatus, facts: PriorityFacts, now: number, id: string, notBefore: string | null): StoredPriority => {
  const p = tx.settings.priority
  const rate = starvationRate(p)
  const horizonAt = facts.waitingSince + p.starvationHorizonSeconds * 1000
  // How long before the horizon a task may cross it: starvation's last refresh step.
  const lead = rate > 0 ? p.refreshStep / rate : 0
  // A READY task with a deadline re-ranked within that step crosses now, its starvation at the
  // horizon's value (at most a step above the formula until then, as for a task without one) and
  // its urgency at `now`; so the crossings of a plan's deadline tasks spread like the others'.
  const early = status === "ready" && facts.deadline !== null && rate > 0 && now < horizonAt && now >= horizonAt - lead
  // (Waiting from a millisecond more than the horizon before `now`: starvation is capped, and so
  // the task counts as past the horizon whatever the rounding.)
  const r = priorityRank(early ? { ...facts, waitingSince: facts.waitingSince - (horizonAt - now) - 1 } : facts, now, p)
  const startAt = notBefore === null ? null : ms(notBefore)
  if (status === "ready" && startAt !== null && startAt > now) {
    // Waiting for its instant: out of the claim index (no rank) until the due refresh at that
    // instant ranks it, so claims never scan for startable tasks.
    return { calculatedPriority: r.calculatedPriority, priorityRank: null, priorityStarved: false, priorityRefreshAt: notBefore }
  }
  let refreshAt = r.refreshAt
  if (refreshAt !== null && !r.starved && rate > 0) {
    // Tasks submitted together reach the horizon together: each crosses at an instant of its
    // own within the last refresh step before it (by its id), so that a busy queue spreads a
    // big plan's crossing over many claims instead of stalling one of them. (A task with a
    // deadline keeps an earlier urgency step.)
    const crossAt = Math.max(now, Math.ceil(horizonAt - spreadOf(id) * lead))
    refreshAt = facts.deadline === null ? crossAt : Math.min(refreshAt, crossAt)
  }
  return {
    calculatedPriority: r.calculatedPriority,
    priorityRank: r.rank,
    priorityStarved: r.starved,
    priorityRefreshAt: status === "ready" && refreshAt !== null ? formatTimestamp(refreshAt) : null
  }
}

/**
 * The public model of a task at `now`: a waiting task's score is what its rank stands for
 * now (starvation grows while it waits, without a write); other tasks keep their last score.
 */
export const view = (tx: Tx, t: StoredTask, now: number): Task => publicTask(t, scoreNow(tx, t, now))

/** A task's score at `now`: what a waiting task's rank stands for now, else the stored score. */
export const scoreNow = (tx: Tx, t: StoredTask, now: number): number => {
  if (!isWaiting(t.status) || t.priorityRank === null) return t.calculatedPriority
  const waitingSince = ms(t.submittedAt) ?? 0
  const score = rankedScore({ rank: t.priorityRank, starved: t.priorityStarved, waitingSince }, now, tx.settings.priority)
  return Math.min(100, Math.max(0, score))
}

/** The public model, with the worker and lease end of a RUNNING task (never its lease token). */
export const listed = (tx: Tx, t: StoredTask, now: number): ListedTask => {
  const task = view(tx, t, now)
  return t.status === "running" ? Object.assign(task, { worker: t.workerId, leaseExpiresAt: t.leaseExpiresAt }) : task
}

export const claimed = (tx: Tx, t: StoredTask, now: number): ClaimedTask =>
  Object.assign(view(tx, t, now), { leaseToken: t.leaseToken ?? "", leaseExpiresAt: t.leaseExpiresAt ?? "" })

export function* refreshById(tx: Tx, id: string, now: number): Step<void> {
  const task = yield* tx.store.getTask(id)
  if (task !== null) yield* refresh(tx, task, now)
}

/**
 * Refreshes every stored priority whose time has come (the freshness rule): READY tasks
 * whose urgency has risen by a step, or that have just crossed the starvation horizon.
 */
export function* refreshDue(tx: Tx, now: number): Step<number> {
  // The crossings of the horizon in one statement (after a long idle nearly every READY task
  // crosses at once: one UPDATE per task took seconds); then one query reads the tasks still due
  // (deadlines, instants waited for) and one prepared UPDATE per task writes each back.
  const crossed = yield* crossHorizons(tx, now)
  const due = yield* tx.store.dueForRefresh(formatTimestamp(now))
  for (const f of due) yield* rerank(tx, f, now)
  return crossed + due.length
}

/**
 * Moves READY tasks without a deadline into the starved class once they are within one refresh
 * step of the horizon (their refresh time is set early, see `scoreAt`): a task's score stops
 * growing at its rank's value at the horizon, at most a step above the formula until then, and
 * nothing about it moves with time any more (no need to count its dependents). Every task due
 * for that at `now` moves in one statement (SQL), its rank `rankedScore` at its horizon to the
 * micropoint, as computed here (tested for parity).
 */
function* crossHorizons(tx: Tx, now: number): Step<number> {
  const p = tx.settings.priority
  const rate = starvationRate(p)
  if (rate === 0) return 0
  return yield* tx.store.crossHorizons({
    at: formatTimestamp(now),
    atMs: now,
    rate,
    horizonMs: p.starvationHorizonSeconds * 1000,
    leadMs: p.refreshStep / rate
  })
}

function* rerank(tx: Tx, f: DueRefresh, now: number): Step<void> {
  const facts = refreshFacts({ ...f, openDependents: yield* tx.store.countOpenDependents(f.id) })
  yield* tx.store.setPriority(f.id, scoreAt(tx, f.status, facts, now, f.id, f.notBefore))
}

export const refreshFacts = (f: RefreshFacts): PriorityFacts => ({
  priority: f.priority,
  source: f.source,
  deadline: ms(f.deadline),
  estimatedDurationSeconds: f.estimatedDurationSeconds,
  openDependents: f.openDependents,
  waitingSince: ms(f.submittedAt) ?? 0
})

/**
 * The best READY task at `now` (ties: oldest first): the better head of the two rank classes
 * (`heads` when the caller just read them).
 */
export function* bestReady(tx: Tx, agentType: string | null, now: number, heads: Array<ReadyHead> | null = null): Step<string | null> {
  let best: { id: string; score: number; submittedAt: string } | null = null
  for (const h of heads ?? (yield* tx.store.readyHeads(agentType))) {
    const score = rankedScore({ rank: h.rank, starved: h.starved, waitingSince: ms(h.submittedAt) ?? 0 }, now, tx.settings.priority)
    if (best === null || score > best.score || (score === best.score && h.submittedAt < best.submittedAt)) {
      best = { id: h.id, score, submittedAt: h.submittedAt }
    }
  }
  return best?.id ?? null
}
