/**
 * The server's background refresh: a queue left idle past the starvation horizon is re-ranked by
 * the server as tasks fall due, so the first claim after a quiet night finds nothing left to do.
 * In process, with the test clock (no waiting).
 */
import { defaultQueueSettings, QueueConfig, TaskQueue } from "@abathur/queue"
import { Database } from "@abathur/storage"
import { TestDatabase } from "@abathur/testing"
import { Duration, Effect, Layer, TestClock, TestContext } from "effect"
import { describe, expect, it } from "vitest"
import { Refresher } from "../src/Refresher.js"

const queue = TaskQueue.layer.pipe(Layer.provideMerge(TestDatabase.layer()), Layer.provide(QueueConfig.layer(defaultQueueSettings)))

/** Submits 200 tasks, lets 2 hours pass without a claim, and counts what is still due and what crossed the horizon. */
const quietNight = (withRefresher: boolean) =>
  Effect.gen(function* () {
    const q = yield* TaskQueue
    const { db } = yield* Database
    yield* q.submitPlan({ tasks: Array.from({ length: 200 }, (_, i) => ({ key: `t${i}`, prompt: `t${i}`, priority: i % 11 })) })
    // Steps of 5 minutes (the refresh runs every 30 seconds within each).
    for (let m = 0; m < 2 * 60; m += 5) yield* TestClock.adjust(Duration.minutes(5))
    const now = new Date(yield* TestClock.currentTimeMillis).toISOString()
    const count = (sql: string, ...args: Array<unknown>) => (db.prepare(sql).get(...args) as { n: number }).n
    return {
      due: count("SELECT count(*) AS n FROM tasks WHERE priority_refresh_at <= ?", now),
      starved: count("SELECT count(*) AS n FROM tasks WHERE priority_starved = 1")
    }
  }).pipe(
    Effect.provide(withRefresher ? Refresher.layer().pipe(Layer.provideMerge(queue)) : queue),
    Effect.provide(TestContext.TestContext),
    Effect.scoped
  )

describe("the background priority refresh", () => {
  it("re-ranks an idle queue as its tasks fall due: after a quiet night nothing is left for the first claim", async () => {
    expect(await Effect.runPromise(quietNight(true))).toEqual({ due: 0, starved: 200 })
  })

  it("without it, the whole night's crossings wait for the first claim", async () => {
    expect(await Effect.runPromise(quietNight(false))).toEqual({ due: 200, starved: 0 })
  })
})
