import { DependencyCycle, type QueueError, type TaskQueueService, type TaskSummary } from "@abathur/queue"
import { Effect } from "effect"

/**
 * The queue as the CLI's commands see it:
 * - every task id they pass may be a unique prefix of the id (at least 4 hex digits), resolved by
 *   `TaskQueue.resolveId` before the operation (an ambiguous prefix is a ValidationError listing
 *   the candidates, an unknown one TaskNotFound);
 * - for people (not `--json`), the ids a result lists (cancelled, unblocked, revived) and the ids
 *   of a dependency cycle come with the tasks' summaries.
 */

/** The summaries of the tasks a result lists, kept beside it (a symbol key: JSON leaves it out). */
const Names: unique symbol = Symbol.for("@abathur/cli/Names")

type Named<A> = A & { readonly [Names]?: ReadonlyMap<string, TaskSummary> }

/** The summaries that came with a result (empty for `--json`). */
export const namesOf = (result: object): ReadonlyMap<string, TaskSummary> => (result as Named<object>)[Names] ?? new Map<string, TaskSummary>()

const isRecord = (u: unknown): u is Readonly<Record<string, unknown>> => typeof u === "object" && u !== null && !Array.isArray(u)

export const makeCliQueue = (q: TaskQueueService, options: { readonly forPeople: boolean }): TaskQueueService => {
  const one = (raw: string) => q.resolveId(raw)
  const optionalOne = (raw: string | undefined) => (raw === undefined ? Effect.succeed(undefined) : one(raw))
  /** A field of an input that holds a task id: resolved when it is a string (else the schema says what is wrong). */
  const field = (input: unknown, key: string): Effect.Effect<unknown, QueueError> => {
    if (!isRecord(input)) return Effect.succeed(input)
    const value = input[key]
    return typeof value === "string" ? Effect.map(one(value), (id) => ({ ...input, [key]: id })) : Effect.succeed(input)
  }
  /** A field that holds a list of ids (or of `{id, ...}` edges). */
  const listField = (input: unknown, key: string): Effect.Effect<unknown, QueueError> => {
    if (!isRecord(input)) return Effect.succeed(input)
    const value = input[key]
    if (!Array.isArray(value)) return Effect.succeed(input)
    return Effect.map(
      Effect.forEach(value, (item: unknown) =>
        typeof item === "string"
          ? one(item)
          : isRecord(item) && typeof item["id"] === "string"
            ? Effect.map(one(item["id"]), (id) => ({ ...item, id }))
            : Effect.succeed(item)
      ),
      (resolved) => ({ ...input, [key]: resolved })
    )
  }
  /** For people: the result with the summaries of the ids it lists. */
  const named = <A extends object>(result: A, ids: ReadonlyArray<string>): Effect.Effect<A, QueueError> =>
    !options.forPeople || ids.length === 0
      ? Effect.succeed(result)
      : Effect.map(q.summaries(ids.slice(0, MAX_NAMED)), (found) => ({ ...result, [Names]: new Map(found.map((t) => [t.id, t])) }) as A)
  /** For people: a cycle's path with the summaries of its tasks. */
  const namedCycle = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    !options.forPeople
      ? effect
      : Effect.catchIf(
          effect,
          (e): e is E & DependencyCycle => e instanceof DependencyCycle,
          (e) =>
            Effect.flatMap(
              Effect.orElseSucceed(q.summaries(e.cycle), () => []),
              (found) => {
                if (found.length === 0) return Effect.fail(e)
                const byId = new Map(found.map((t) => [t.id, t]))
                const path = e.cycle.map((id) => nameOf(id, byId.get(id))).join("\n  -> ")
                return Effect.fail(new DependencyCycle({ message: `${e.message.split(":")[0]}:\n  ${path}`, cycle: e.cycle }) as E & DependencyCycle)
              }
            )
        )

  /** A submit's parent and prerequisites, by prefix. */
  const submitIds = (input: unknown) => Effect.flatMap(field(input, "parentTaskId"), (i) => listField(i, "dependsOn"))
  /**
   * `--parent` (or a top-level node's parentTaskId) names an existing task; keys and ids inside
   * the plan's dependsOn stay as written (a key wins over an id).
   */
  const planIds = (plan: unknown): Effect.Effect<unknown, QueueError> =>
    isRecord(plan) && Array.isArray(plan["tasks"])
      ? Effect.map(
          Effect.forEach(plan["tasks"], (node: unknown) => field(node, "parentTaskId")),
          (tasks) => ({ ...plan, tasks })
        )
      : Effect.succeed<unknown>(plan)

  return {
    ...q,
    submit: (input, options) => Effect.flatMap(submitIds(input), (i) => q.submit(i, options)),
    submitWithOutcome: (input, options) => Effect.flatMap(submitIds(input), (i) => q.submitWithOutcome(i, options)),
    submitPlan: (plan, options) => Effect.flatMap(planIds(plan), (p) => q.submitPlan(p, options)),
    submitPlanWithOutcome: (plan, options) => Effect.flatMap(planIds(plan), (p) => q.submitPlanWithOutcome(p, options)),
    addDependency: (dependentId, input, options) =>
      namedCycle(Effect.flatMap(Effect.zip(one(dependentId), field(input, "prerequisiteId")), ([id, i]) => q.addDependency(id, i, options))),
    removeDependency: (dependentId, prerequisiteId, options) =>
      Effect.flatMap(Effect.zip(one(dependentId), one(prerequisiteId)), ([d, p]) => q.removeDependency(d, p, options)),
    heartbeat: (id, input) => Effect.flatMap(one(id), (i) => q.heartbeat(i, input)),
    complete: (id, input, options) =>
      Effect.flatMap(
        Effect.flatMap(one(id), (i) => q.complete(i, input, options)),
        (r) => named(r, r.unblocked)
      ),
    fail: (id, input, options) =>
      Effect.flatMap(
        Effect.flatMap(one(id), (i) => q.fail(i, input, options)),
        (r) => named(r, r.cancelled)
      ),
    release: (id, input, options) => Effect.flatMap(one(id), (i) => q.release(i, input, options)),
    cancel: (id, options) =>
      Effect.flatMap(
        Effect.flatMap(one(id), (i) => q.cancel(i, options)),
        (r) => named(r, r.cancelled)
      ),
    retry: (id, options) =>
      Effect.flatMap(
        Effect.flatMap(one(id), (i) => q.retry(i, options)),
        (r) => named(r, r.revived)
      ),
    get: (id) => Effect.flatMap(one(id), q.get),
    audit: (id) => Effect.flatMap(one(id), q.audit),
    list: (input) => Effect.flatMap(field(input, "parentTaskId"), (i) => q.list(i)),
    executionPlan: (input) => Effect.flatMap(listField(input, "taskIds"), (i) => q.executionPlan(i)),
    tree: (id) => Effect.flatMap(optionalOne(id), q.tree),
    graph: (id, format) => Effect.flatMap(optionalOne(id), (i) => q.graph(i, format))
  }
}

/** How many tasks of a result are named (the rest are listed by id). */
const MAX_NAMED = 200

/** `3f2b8c1e "Write the spec"`: a short id and the summary, for people. */
export const nameOf = (id: string, task: TaskSummary | undefined): string =>
  task === undefined ? id : `${id.slice(0, 8)} ${JSON.stringify(task.summary.length > 60 ? `${task.summary.slice(0, 59)}…` : task.summary)}`
