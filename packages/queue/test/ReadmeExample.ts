import { TaskQueue, QueueConfig } from "@abathur/queue"
import { Database, TaskRepository } from "@abathur/storage"
import { Effect, Layer } from "effect"

const QueueLive = TaskQueue.layer.pipe(
  Layer.provide(TaskRepository.layer),
  Layer.provide(Database.layer({ filename: "./.abathur/abathur.db" })),
  Layer.provide(QueueConfig.default)
)

const program = Effect.gen(function* () {
  const queue = yield* TaskQueue
  // Inputs are typed: a misspelt field fails `tsc`, and your editor completes the names.
  const { tasks } = yield* queue.submitPlan({
    tasks: [{ key: "a", prompt: "first" }, { key: "b", prompt: "then", dependsOn: ["a"] }]
  })
  const claimed = yield* queue.claim({ worker: "me" })
  if (claimed) yield* queue.complete(claimed.id, { leaseToken: claimed.leaseToken, result: { ok: true } })
  return tasks
})

const tasks = await Effect.runPromise(Effect.provide(program, QueueLive))
console.log(Object.keys(tasks)) // [ 'a', 'b' ]
