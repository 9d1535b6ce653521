import { calculatePriority, parseTimestamp, type PriorityFacts } from "@abathur/domain"
import { type Database, TaskRepository } from "@abathur/storage"
import { TestDatabase } from "@abathur/testing"
import { it } from "@effect/vitest"
import { Effect, Either, Layer, type TestServices } from "effect"
import type { TestOptions } from "vitest"
import { defaultQueueSettings, QueueConfig, type QueueSettings } from "../src/QueueConfig.js"
import { TaskQueue } from "../src/TaskQueue.js"

/** The queue over a fresh database file, with the given settings. */
export const testQueue = (settings: Partial<QueueSettings> = {}) =>
  TaskQueue.layer.pipe(Layer.provideMerge(TestDatabase.layer()), Layer.provide(QueueConfig.layer({ ...defaultQueueSettings, ...settings })))

/**
 * A test (`it.effect`) whose effect runs against the queue over a fresh database file of its own
 * (one per test), with the given settings.
 */
export const queueTest = (
  name: string,
  self: () => Effect.Effect<unknown, unknown, TaskQueue | Database | TaskRepository | TestServices.TestServices>,
  settings: Partial<QueueSettings> = {},
  options?: number | TestOptions
) => it.effect(name, () => Effect.provide(self(), testQueue(settings)), options)

/** Runs an effect that must fail and returns its error. */
export const flip = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.flatMap(Effect.either(effect), (e) =>
    Either.isLeft(e) ? Effect.succeed(e.left) : Effect.die(new Error(`expected a failure, got ${JSON.stringify(e.right)}`))
  )

/** The statuses of some tasks, in order. */
export const statuses = (ids: ReadonlyArray<string>) => Effect.map(TaskRepository, (repo) => ids.map((id) => repo.getTask(id)?.status))

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
