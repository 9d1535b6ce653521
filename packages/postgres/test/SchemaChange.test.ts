/**
 * A running process after another process (a newer version) changed the schema: every statement
 * with parameters is a named prepared statement per connection, and PostgreSQL refuses a cached
 * plan whose result columns changed ("cached plan must not change result type").
 */
import { QueueConfig, StoreRunner, TaskQueue } from "@abathur/queue"
import { Effect, Layer } from "effect"
import pg from "pg"
import { describe, expect, it } from "vitest"
import { makePostgresRunner, migrate } from "../src/index.js"
import { freshDatabase } from "./helpers.js"

const queueOn = (runner: ReturnType<typeof makePostgresRunner>) =>
  TaskQueue.layerWithRunner.pipe(Layer.provide(Layer.succeed(StoreRunner, runner)), Layer.provide(QueueConfig.layer({})))

/**
 * What a server does all day, for one agent type: submit a task and a dependent, claim and
 * complete both, read them back one by one, by list and by status.
 */
const round = (agentType: string) =>
  Effect.gen(function* () {
    const q = yield* TaskQueue
    const first = yield* q.submit({ prompt: `first ${agentType}`, summary: `first of ${agentType}`, agentType })
    const second = yield* q.submit({ prompt: `second ${agentType}`, agentType, dependsOn: [first.id] })
    const claimed: Array<string> = []
    for (let i = 0; i < 2; i++) {
      const c = yield* q.claim({ worker: `w-${agentType}`, agentType })
      if (c === null) break
      claimed.push(c.id)
      yield* q.complete(c.id, { leaseToken: c.leaseToken, result: { i } })
    }
    const got = yield* q.get(first.id)
    const listed = yield* q.list({ text: agentType })
    const status = yield* q.status()
    return {
      claimed,
      first: { summary: got.summary, status: got.status },
      listed: listed.map((t) => t.id).sort(),
      completed: status.byStatus.completed,
      expected: [first.id, second.id]
    }
  })

/** Runs `round` on each agent type at once (so that every connection of the pool prepares the statements). */
const rounds = (layer: Layer.Layer<TaskQueue>, agentTypes: ReadonlyArray<string>) =>
  Promise.all(agentTypes.map((agentType) => Effect.runPromise(Effect.provide(round(agentType), layer))))

const expectWorked = (results: Awaited<ReturnType<typeof rounds>>) => {
  for (const r of results) {
    expect(r.claimed).toEqual(r.expected)
    expect(r.first.status).toBe("completed")
    expect(r.listed).toEqual([...r.expected].sort())
  }
}

describe("a running process after another process migrates the schema", () => {
  it("keeps working when a column is added to tasks while its connections hold prepared statements", async () => {
    const { pool, url } = await freshDatabase({ max: 3 })
    await migrate(pool)
    const reruns: Array<unknown> = []
    const layer = queueOn(makePostgresRunner(pool, { onRetry: (_, error) => void reruns.push(error) }))
    const warm = await rounds(layer, ["kilo-1", "kilo-2", "kilo-3"])
    expectWorked(warm)
    // Another process (a newer version's migration) adds a column, with a default, to tasks.
    const other = new pg.Client({ connectionString: url })
    await other.connect()
    await other.query("ALTER TABLE tasks ADD COLUMN labels TEXT NOT NULL DEFAULT '[]'")
    await other.end()
    const after = await rounds(layer, ["lima-1", "lima-2", "lima-3"])
    expectWorked(after)
    expect(after[0]!.first.summary).toBe("first of lima-1")
    // Not even rerun: the statements name their columns, so their results keep their shape.
    expect(reruns).toEqual([])
    // The new column is left to the version that added it (its default on the rows written here).
    const labels = await pool.query<{ labels: string }>("SELECT DISTINCT labels FROM tasks")
    expect(labels.rows).toEqual([{ labels: "[]" }])
  })

  it("keeps working when a column a statement reads changes type: each stale connection is replaced and its transaction rerun", async () => {
    const { pool, url } = await freshDatabase({ max: 3 })
    await migrate(pool)
    const reruns: Array<string> = []
    const layer = queueOn(makePostgresRunner(pool, { onRetry: (_, error) => void reruns.push((error as { code?: string }).code ?? "?") }))
    expectWorked(await rounds(layer, ["kilo-1", "kilo-2", "kilo-3"]))
    const connections = await pool.query<{ n: number }>("SELECT count(*)::integer AS n FROM pg_stat_activity WHERE datname = current_database()")
    expect(connections.rows[0]!.n).toBeGreaterThanOrEqual(2)
    // A newer version widens a column: every cached plan that returns it has a new result type.
    const other = new pg.Client({ connectionString: url })
    await other.connect()
    await other.query("ALTER TABLE tasks ALTER COLUMN summary TYPE varchar(2000)")
    await other.end()
    const after = await rounds(layer, ["lima-1", "lima-2", "lima-3"])
    expectWorked(after)
    expect(after.map((r) => r.first.summary)).toEqual(["first of lima-1", "first of lima-2", "first of lima-3"])
    // The callers never saw it; the driver reran on fresh connections (at most one per stale one, per statement).
    expect(reruns.length).toBeGreaterThan(0)
    expect(new Set(reruns)).toEqual(new Set(["0A000"]))
    // And afterwards nothing is stale any more.
    reruns.length = 0
    expectWorked(await rounds(layer, ["mike-1", "mike-2", "mike-3"]))
    expect(reruns).toEqual([])
  })
})
