// What the measuring scripts of this folder share: the real TaskQueue on one SQLite file (the
// layers `abathur` itself composes), loaded from this worktree's build or from the root of another
// build (a folder holding packages/<name>/dist, such as a copy of a clean build), so that two
// builds can take turns in one process; READY tasks seeded by plans; CPU time of a piece of work.
import { mkdtempSync, realpathSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"

/** The root of this worktree. */
export const here = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..")

/**
 * The packages of one build (default: this worktree's `dist` folders), with the instance of effect
 * that they use themselves (resolved through the queue's dependencies): layers of two instances
 * of effect do not compose.
 */
export const loadBuild = async (root = here) => {
  const load = (pkg) => import(pathToFileURL(join(root, "packages", pkg, "dist", "index.js")).href)
  const { defaultQueueSettings, QueueConfig, TaskQueue } = await load("queue")
  const { Database, TaskRepository } = await load("storage")
  const { migrate } = await load("schema")
  const effectDir = realpathSync(join(root, "packages", "queue", "node_modules", "effect"))
  const { Effect, Layer, ManagedRuntime } = await import(pathToFileURL(join(effectDir, "dist", "esm", "index.js")).href)
  return { root, defaultQueueSettings, QueueConfig, TaskQueue, Database, TaskRepository, migrate, Effect, Layer, ManagedRuntime }
}

/**
 * A TaskQueue on `filename` with the default limits; `database` adds options of `Database.layer`
 * (e.g. `{ backgroundCheckpoint: false }`). Answers the runtime, the queue and the connection.
 */
export const openQueue = (build, filename, database = {}) => {
  const { Layer } = build
  const layer = build.TaskQueue.layer.pipe(
    Layer.provideMerge(build.TaskRepository.layer),
    Layer.provideMerge(build.Database.layer({ filename, ...database })),
    Layer.provide(build.QueueConfig.layer({ limits: build.defaultQueueSettings.limits })),
    Layer.orDie
  )
  const rt = build.ManagedRuntime.make(layer)
  const { q, db } = rt.runSync(build.Effect.all({ q: build.TaskQueue, db: build.Database }))
  return { rt, q, db: db.db }
}

/** Runs `f(dir)` with a fresh temporary folder, removed afterwards. */
export const withTempDir = async (prefix, f) => {
  const dir = mkdtempSync(join(tmpdir(), `abathur-${prefix}-`))
  try {
    return await f(dir)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** A plan of `n` independent tasks numbered from `from`; `agentTypeOf(i)` names a task's agent type. */
export const planOf = (n, from, agentTypeOf = () => undefined) => ({
  tasks: Array.from({ length: n }, (_, j) => {
    const agentType = agentTypeOf(from + j)
    return {
      key: `k${j}`,
      prompt: `task ${from + j} with a prompt of some length`,
      priority: (from + j) % 11,
      ...(agentType === undefined ? {} : { agentType })
    }
  })
})

/** Submits `total` independent READY tasks in plans of 5,000. */
export const seedReady = ({ rt, q }, total, agentTypeOf) => {
  for (let i = 0; i < total; i += 5000) rt.runSync(q.submitPlan(planOf(Math.min(5000, total - i), i, agentTypeOf)))
}

/** CPU time (µs, user + system of every thread) and wall time (ms) of `f()`. */
export const measure = (f) => {
  const c0 = process.cpuUsage()
  const t0 = performance.now()
  f()
  const c = process.cpuUsage(c0)
  return { cpu: c.user + c.system, wall: performance.now() - t0 }
}

export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
