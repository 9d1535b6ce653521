/**
 * The SQLite side of the store seam (Store.ts): the repository's synchronous methods as steps
 * that never yield, a driver that runs a rule to its end in one `next()`, and the runner that
 * does so inside the repository's transactions, alone or in group commits.
 */
import { TaskRepository } from "@abathur/storage"
import { Clock, Effect, Layer } from "effect"
import { QueueConfig } from "./QueueConfig.js"
import type { QueueError } from "./QueueError.js"
import { type Repository, type Rule, ruleFailure, type Step, StoreRunner, type StoreRunnerService, type TaskStore } from "./Store.js"

/**
 * The repository's methods as steps that never yield (built once per repository). Written out
 * one by one, not built in a loop: each call site then stays monomorphic (one closure per
 * method) and its arguments are passed as they are, which keeps the SQLite path within a few
 * percent of calling the repository directly.
 */
export const sqliteStore = (repo: Repository): TaskStore => ({
  activitySince: function* (since, maxRows) {
    return repo.activitySince(since, maxRows)
  },
  anyLiveSubtask: function* () {
    return repo.anyLiveSubtask()
  },
  adjustSubtree: function* (fromId, delta) {
    return repo.adjustSubtree(fromId, delta)
  },
  auditOf: function* (taskId) {
    return repo.auditOf(taskId)
  },
  cancelledBy: function* (causeId) {
    return repo.cancelledBy(causeId)
  },
  childIds: function* (parentId) {
    return repo.childIds(parentId)
  },
  childStates: function* (parentId) {
    return repo.childStates(parentId)
  },
  childrenOfMany: function* (ids) {
    return repo.childrenOfMany(ids)
  },
  countChildren: function* (parentId) {
    return repo.countChildren(parentId)
  },
  countOpenDependents: function* (prerequisiteId) {
    return repo.countOpenDependents(prerequisiteId)
  },
  countPrerequisites: function* (dependentId) {
    return repo.countPrerequisites(dependentId)
  },
  countUnresolved: function* (taskId) {
    return repo.countUnresolved(taskId)
  },
  deleteDependency: function* (dependentId, prerequisiteId) {
    return repo.deleteDependency(dependentId, prerequisiteId)
  },
  deleteTasks: function* (ids) {
    return repo.deleteTasks(ids)
  },
  dependentsOf: function* (taskId) {
    return repo.dependentsOf(taskId)
  },
  dependentsOfMany: function* (ids) {
    return repo.dependentsOfMany(ids)
  },
  claimOutlook: function* (at, agentType) {
    return repo.claimOutlook(at, agentType)
  },
  dueForRefresh: function* (at, limit) {
    return repo.dueForRefresh(at, limit)
  },
  crossHorizons: function* (c) {
    return repo.crossHorizons(c)
  },
  edgesAmong: function* (ids) {
    return repo.edgesAmong(ids)
  },
  expiredLeases: function* (now) {
    return repo.expiredLeases(now)
  },
  gateChildren: function* (parentId, gated) {
    return repo.gateChildren(parentId, gated)
  },
  gateFacts: function* (ids) {
    return repo.gateFacts(ids)
  },
  getPlanSubmission: function* (key) {
    return repo.getPlanSubmission(key)
  },
  getTask: function* (id) {
    return repo.getTask(id)
  },
  getTasks: function* (ids) {
    return repo.getTasks(ids)
  },
  hasDependency: function* (dependentId, prerequisiteId) {
    return repo.hasDependency(dependentId, prerequisiteId)
  },
  hasUnresolved: function* (taskId) {
    return repo.hasUnresolved(taskId)
  },
  idempotencyKeysTaken: function* (keys) {
    return repo.idempotencyKeysTaken(keys)
  },
  idsWithPrefix: function* (prefix, limit) {
    return repo.idsWithPrefix(prefix, limit)
  },
  idsWithStatus: function* (status) {
    return repo.idsWithStatus(status)
  },
  insertAudit: function* (entry) {
    return repo.insertAudit(entry)
  },
  insertAudits: function* (entries) {
    return repo.insertAudits(entries)
  },
  insertDependencies: function* (deps) {
    return repo.insertDependencies(deps)
  },
  insertDependency: function* (dep) {
    return repo.insertDependency(dep)
  },
  insertPlanSubmission: function* (key, submission, at) {
    return repo.insertPlanSubmission(key, submission, at)
  },
  insertTask: function* (task) {
    return repo.insertTask(task)
  },
  insertTasks: function* (tasks) {
    return repo.insertTasks(tasks)
  },
  listTasks: function* (filter) {
    return repo.listTasks(filter)
  },
  nextLeaseExpiry: function* () {
    return repo.nextLeaseExpiry()
  },
  nextNotBefore: function* () {
    return repo.nextNotBefore()
  },
  openGraph: function* () {
    return repo.openGraph()
  },
  openTaskIds: function* () {
    return repo.openTaskIds()
  },
  prerequisiteDepths: function* (taskId) {
    return repo.prerequisiteDepths(taskId)
  },
  prerequisitesOf: function* (taskId) {
    return repo.prerequisitesOf(taskId)
  },
  pruneCandidates: function* (statuses, cutoff) {
    return repo.pruneCandidates(statuses, cutoff)
  },
  readyHeads: function* (agentType) {
    return repo.readyHeads(agentType)
  },
  recentFailures: function* (since, limit) {
    return repo.recentFailures(since, limit)
  },
  referencedElsewhere: function* (ids) {
    return repo.referencedElsewhere(ids)
  },
  resolveEdges: function* (prerequisiteId, at, ignoreOnly) {
    return repo.resolveEdges(prerequisiteId, at, ignoreOnly)
  },
  rootIds: function* () {
    return repo.rootIds()
  },
  setEdgeResolved: function* (dependentId, prerequisiteId, resolvedAt) {
    return repo.setEdgeResolved(dependentId, prerequisiteId, resolvedAt)
  },
  setPriority: function* (id, p) {
    return repo.setPriority(id, p)
  },
  statusCounts: function* () {
    return repo.statusCounts()
  },
  taskByIdempotencyKey: function* (key) {
    return repo.taskByIdempotencyKey(key)
  },
  unresolveEdges: function* (prerequisiteId) {
    return repo.unresolveEdges(prerequisiteId)
  },
  updateTask: function* (id, patch) {
    return repo.updateTask(id, patch)
  },
  waitEdgesOf: function* (ids, declared) {
    return repo.waitEdgesOf(ids, declared)
  },
  waitRegion: function* (gateIds, declared) {
    return repo.waitRegion(gateIds, declared)
  }
})

/** Runs a step over a synchronous store to its end. */
export const runSync = <A>(step: Step<A>): A => {
  const r = step.next()
  if (r.done !== true) throw new Error("a synchronous store yielded")
  return r.value
}

/**
 * The runner over the SQLite repository. Each write is one `BEGIN IMMEDIATE` transaction; with
 * `groupCommit`, the writes queued in one turn of the event loop share one, each in a savepoint
 * of its own (rolled back alone when its rule throws).
 */
export const makeSqliteRunner = (repo: Repository, options: { readonly groupCommit?: boolean | undefined } = {}): StoreRunnerService => {
  const store = sqliteStore(repo)

  /**
   * Runs a rule in one write transaction at the current time; hands its result to `committed`.
   * The time is read once the write lock is held: another process may hold it for a while
   * (busy_timeout), and times read before the wait would run behind that process's commits.
   */
  const writeAlone = <A, B>(rule: Rule<A>, committed: (result: A) => Effect.Effect<B, QueueError>): Effect.Effect<B, QueueError> =>
    Effect.clockWith((clock) =>
      // Uninterruptible: a committed change is always published.
      Effect.uninterruptible(
        Effect.suspend(() => {
          let result: A
          try {
            result = repo.transaction(() => runSync(rule(store, clock.unsafeCurrentTimeMillis())))
          } catch (error) {
            return ruleFailure(error)
          }
          return committed(result)
        })
      )
    )

  // Group commit: operations queued in this turn of the event loop, run together at its end.
  interface Pending {
    readonly rule: Rule<unknown>
    readonly committed: (result: unknown) => Effect.Effect<unknown, QueueError>
    readonly clock: Clock.Clock
    readonly resume: (outcome: Effect.Effect<unknown, QueueError>) => void
  }
  let pending: Array<Pending> = []
  const flush = (): void => {
    const ops = pending
    pending = []
    const outcomes: Array<{ ok: true; value: unknown } | { ok: false; error: unknown }> = []
    try {
      repo.transaction(() => {
        for (const op of ops) {
          try {
            // Nested: a savepoint, rolled back alone when the operation throws.
            const value = repo.transaction(() => runSync(op.rule(store, op.clock.unsafeCurrentTimeMillis())))
            outcomes.push({ ok: true, value })
          } catch (error) {
            outcomes.push({ ok: false, error })
          }
        }
      })
    } catch (error) {
      // The lock or the commit failed: nothing of the batch was committed.
      for (const op of ops) op.resume(ruleFailure(error))
      return
    }
    ops.forEach((op, i) => {
      const o = outcomes[i]!
      op.resume(o.ok ? op.committed(o.value) : ruleFailure(o.error))
    })
  }
  const writeGrouped = <A, B>(rule: Rule<A>, committed: (result: A) => Effect.Effect<B, QueueError>): Effect.Effect<B, QueueError> =>
    Effect.clockWith((clock) =>
      Effect.uninterruptible(
        Effect.async<B, QueueError>((resume) => {
          pending.push({ rule, committed: committed as Pending["committed"], clock, resume: resume as Pending["resume"] })
          if (pending.length === 1) setImmediate(flush)
        })
      )
    )

  /** Runs a rule against one read snapshot. */
  const read = <A>(rule: Rule<A>): Effect.Effect<A, QueueError> =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Effect.suspend(() => {
        try {
          return Effect.succeed(repo.read(() => runSync(rule(store, now))))
        } catch (error) {
          return ruleFailure(error)
        }
      })
    )

  return {
    write: options.groupCommit === true ? writeGrouped : writeAlone,
    read,
    dataVersion: () => Effect.sync(() => repo.dataVersion())
  }
}

/** The SQLite runner, over the TaskRepository service (group commit as QueueConfig says). */
export const SqliteRunner: Layer.Layer<StoreRunner, never, TaskRepository | QueueConfig> = Layer.effect(
  StoreRunner,
  Effect.gen(function* () {
    const repo = yield* TaskRepository
    const settings = yield* QueueConfig
    return makeSqliteRunner(repo, { groupCommit: settings.groupCommit })
  })
)
