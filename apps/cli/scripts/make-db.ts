/**
 * Builds a large database through the queue, for start-up measurements:
 *   node scripts/make-db.mjs OUT.db [TASKS=100000]
 * (bundle first: see BENCHMARKS.md). Tasks come in plans of 1,000: chains of up to 8 tasks,
 * some subtasks, mixed sources and priorities; then a fifth of them are claimed and completed,
 * a few failed, so that every status occurs.
 */
import { QueueConfig, TaskQueue } from "@abathur/queue"
import { Database, TaskRepository } from "@abathur/storage"
import { Effect, Layer } from "effect"

const [file, countText] = process.argv.slice(2)
if (file === undefined) throw new Error("usage: make-db OUT.db [TASKS]")
const total = Number(countText ?? 100_000)
const sources = ["human", "agent_requirements", "agent_planner", "agent_implementation"] as const

const program = Effect.gen(function* () {
  const q = yield* TaskQueue
  let made = 0
  let batch = 0
  while (made < total) {
    const size = Math.min(1000, total - made)
    const tasks = []
    for (let i = 0; i < size; i++) {
      const n = made + i
      const chainPos = n % 8
      tasks.push({
        key: `t${n}`,
        prompt: `Task ${n}: do part ${chainPos} of job ${Math.floor(n / 8)}`,
        priority: n % 11,
        source: sources[n % 4],
        dependsOn: chainPos > 0 && i > 0 ? [`t${n - 1}`] : [],
        ...(n % 97 === 0 && { deadline: new Date(Date.now() + (n % 5) * 3600_000).toISOString(), estimatedDurationSeconds: 600 })
      })
    }
    yield* q.submitPlan({ tasks })
    made += size
    batch++
    if (batch % 10 === 0) process.stderr.write(`submitted ${made}\n`)
  }
  // Finish a fifth of the work, fail a little.
  for (let i = 0; i < total / 5; i++) {
    const t = yield* q.claim({ worker: "maker" })
    if (t === null) break
    if (i % 50 === 49) yield* q.fail(t.id, { error: "synthetic failure" })
    else yield* q.complete(t.id, { result: { ok: i } })
  }
  for (let i = 0; i < 20; i++) yield* q.claim({ worker: "maker", leaseSeconds: 3600 })
  return yield* q.status()
})

const layer = TaskQueue.layer.pipe(
  Layer.provideMerge(TaskRepository.layer),
  Layer.provideMerge(Database.layer({ filename: file })),
  Layer.provide(QueueConfig.layer())
)
Effect.runPromise(Effect.provide(program, layer)).then((s) => console.log(JSON.stringify(s)))
