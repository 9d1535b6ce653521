/**
 * The store a shared suite runs over. The queue's scenario, hierarchy, service and property
 * suites (test/suites) are functions of a `StoreUnderTest`: this package calls them over SQLite
 * (TestQueue.ts), @abathur/postgres over a real PostgreSQL (its test/QueueOnPostgres.ts), so that
 * one copy of each test checks both stores. Beside the queue, a store gives a `StoreProbe`: the
 * rows of its tables read by plain SQL of its own, not through the repository the suites check.
 */
import type { TaskStatus } from "@abathur/domain"
import { it } from "@effect/vitest"
import { Context, Effect, Either, type Layer, type TestServices } from "effect"
import type { TestOptions } from "vitest"
import { defaultQueueSettings, type QueueSettings } from "../src/QueueConfig.js"
import type { TaskQueue } from "../src/TaskQueue.js"
import type { Tables } from "./Invariants.js"

/**
 * The property test's view of the tables, to prove that a rejected operation changed nothing:
 * tasks and edges by id, the audit trail (append-only) as its count, last id and id sum, the
 * counters per status. `json` is the whole of it as text (equal iff nothing changed).
 */
export interface Snapshot {
  readonly tasks: ReadonlyArray<{ readonly id: string; readonly status: TaskStatus; readonly retry_count: number }>
  readonly deps: ReadonlyArray<unknown>
  readonly audit: unknown
  readonly stats: ReadonlyArray<unknown>
  readonly json: string
}

export interface Probe {
  /** What the invariant checks read (Invariants.ts, `Tables`). */
  readonly tables: Effect.Effect<Tables>
  /** Every row of every table of the queue, as one text: two dumps are equal iff nothing changed. */
  readonly dump: Effect.Effect<string>
  readonly snapshot: Effect.Effect<Snapshot>
}

/** The rows of the store under test. */
export class StoreProbe extends Context.Tag("@abathur/queue/test/StoreProbe")<StoreProbe, Probe>() {}

export interface StoreUnderTest {
  /** The store's name, for the suites' titles. */
  readonly name: string
  /**
   * The queue over a fresh, empty database with these settings (a new one per build of the
   * layer), and the probe of its rows. `scratch`: a database nobody else opens (SQLite may keep
   * it in memory; the property test builds one per run).
   */
  readonly queue: (settings: QueueSettings, options?: { readonly scratch?: boolean }) => Layer.Layer<TaskQueue | StoreProbe>
  /** Runs of the property test (fast-check's numRuns; a slower store may run fewer). */
  readonly propertyRuns: number
}

/** What a suite's tests may use: the queue, the probe, and the test services (TestClock). */
export type SuiteServices = TaskQueue | StoreProbe | TestServices.TestServices

/** The helpers a suite builds from its store. */
export const suiteOver = (store: StoreUnderTest) => {
  /** The queue over a fresh database of the store, with the given settings. */
  const testQueue = (settings: Partial<QueueSettings> = {}) => store.queue({ ...defaultQueueSettings, ...settings })
  /** A test (`it.effect`) whose effect runs against the queue over a fresh database of its own. */
  const queueTest = (
    name: string,
    self: () => Effect.Effect<unknown, unknown, SuiteServices>,
    settings: Partial<QueueSettings> = {},
    options?: number | TestOptions
  ) => it.effect(name, () => Effect.provide(self(), testQueue(settings)), options)
  return { testQueue, queueTest }
}

/** `StoreProbe.dump` as an effect (to compare before and after). */
export const dump: Effect.Effect<string, never, StoreProbe> = Effect.flatMap(StoreProbe, (p) => p.dump)

/** The statuses of some tasks, in order (undefined for a task that does not exist). */
export const statuses = (ids: ReadonlyArray<string>) =>
  Effect.map(
    Effect.flatMap(StoreProbe, (p) => p.tables),
    ({ tasks }) => {
      const byId = new Map(tasks.map((t) => [t.id, t.status]))
      return ids.map((id) => byId.get(id))
    }
  )

/** Runs an effect that must fail and returns its error. */
export const flip = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.flatMap(Effect.either(effect), (e) =>
    Either.isLeft(e) ? Effect.succeed(e.left) : Effect.die(new Error(`expected a failure, got ${JSON.stringify(e.right)}`))
  )
