/**
 * `show` prints the priority the way the queue explains it: with the weights the queue is
 * configured with (a library user may configure them), never re-derived from the defaults.
 */
import { PrioritySettings } from "@abathur/domain"
import { defaultQueueSettings, QueueConfig, TaskQueue } from "@abathur/queue"
import { TaskRepository } from "@abathur/storage"
import { TestDatabase } from "@abathur/testing"
import { Effect, Layer } from "effect"
import { describe, expect, it } from "vitest"
import { detail } from "../src/Render.js"
import { colorsFor } from "../src/Terminal.js"

const queueWith = (priority: PrioritySettings) =>
  TaskQueue.layer.pipe(
    Layer.provideMerge(TaskRepository.layer),
    Layer.provideMerge(TestDatabase.layer()),
    Layer.provide(QueueConfig.layer({ ...defaultQueueSettings, priority }))
  )

describe("show: the priority factor by factor", () => {
  it("uses the queue's configured weights and horizon", async () => {
    const settings = PrioritySettings.parse({
      weights: { base: 3, urgency: 0, dependency: 0, starvation: 1, source: 0 },
      starvationHorizonSeconds: 7200
    })
    const task = await Effect.runPromise(
      Effect.gen(function* () {
        const q = yield* TaskQueue
        const t = yield* q.submit({ prompt: "weigh me", priority: 8 })
        return yield* q.get(t.id)
      }).pipe(Effect.provide(queueWith(settings)), Effect.scoped)
    )
    const text = detail(colorsFor({ isTTY: false }, {}), task, Date.parse(task.submittedAt))
    const row = (factor: string) =>
      text
        .split("\n")
        .find((l) => new RegExp(`^\\s+${factor}\\s+\\d`).test(l))!
        .trim()
        .split(/\s+/)
    // FACTOR SCORE WEIGHT CONTRIBUTION: base 80 x3 of a weight sum of 4 adds 60; source weighs nothing.
    expect(row("base").slice(0, 4)).toEqual(["base", "80.0", "×3.0", "60.0"])
    expect(row("source").slice(0, 4)).toEqual(["source", "100.0", "×0.0", "0.0"])
    expect(row("urgency").slice(0, 4)).toEqual(["urgency", "0.0", "×0.0", "0.0"])
    expect(text).toContain("of the 2h horizon")
    expect(text).toContain("sum of contributions: 60.0")
  })
})
