import { calculatePriority, parseTimestamp, type PriorityFacts } from "@abathur/domain"
import { Database, TaskRepository } from "@abathur/storage"
import { TestDatabase } from "@abathur/testing"
import { Effect, Either, Layer } from "effect"
import { defaultQueueSettings, QueueConfig, type QueueSettings } from "../src/QueueConfig.js"
import { TaskQueue } from "../src/TaskQueue.js"

/** The queue over a fresh database file, with the given settings. */
export const testQueue = (settings: Partial<QueueSettings> = {}) =>
  TaskQueue.layer.pipe(
    Layer.provideMerge(TestDatabase.layer()),
    Layer.provide(QueueConfig.layer({ ...defaultQueueSettings, ...settings }))
  )

/** Runs an effect that must fail and returns its error. */
export const flip = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.flatMap(Effect.either(effect), (e) =>
    Either.isLeft(e) ? Effect.succeed(e.left) : Effect.die(new Error(`expected a failure, got ${JSON.stringify(e.right)}`))
  )

/** Every row of the queue's tables, to prove that a rejected operation changed nothing. */
export const dump = Effect.map(Database, ({ db }) => ({
  tasks: db.prepare("SELECT * FROM tasks ORDER BY id").all(),
  deps: db.prepare("SELECT * FROM task_dependencies ORDER BY id").all(),
  audit: db.prepare("SELECT * FROM task_audit ORDER BY id").all(),
  stats: db.prepare("SELECT * FROM task_stats ORDER BY status").all()
}))

/** The statuses of some tasks, in order. */
export const statuses = (ids: ReadonlyArray<string>) =>
  Effect.map(TaskRepository, (repo) => ids.map((id) => repo.getTask(id)?.status))

/** The formula's value for a stored task at `now` (recomputed from the database's facts). */
export const truePriority = (id: string, now: number) =>
  Effect.map(TaskRepository, (repo) => {
    const t = repo.getTask(id)!
    const facts: PriorityFacts = {
      priority: t.priority,
      source: t.source,
      deadline: t.deadline === null ? null : parseTimestamp(t.deadline),
      estimatedDurationSeconds: t.estimatedDurationSeconds,
      openDependents: repo.countOpenDependents(id),
      waitingSince: parseTimestamp(t.submittedAt)!
    }
    return calculatePriority(facts, now, defaultQueueSettings.priority)
  })
