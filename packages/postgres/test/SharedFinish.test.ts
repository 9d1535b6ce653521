/**
 * Completions and heartbeats run beside claims (the write lock held shared) when they decide only
 * on the worker's own task; one that reaches further (an edge to resolve, a parent's counters)
 * waits for the exclusive lock, like every other write. Observed as a user would: while another
 * connection holds the lock shared (a claim in flight), a root task's completion commits, and a
 * completion that unblocks a dependent is seen waiting in `pg_locks` until the holder commits.
 */
import { QueueConfig, StoreRunner, TaskQueue } from "@abathur/queue"
import { Effect, Layer, ManagedRuntime } from "effect"
import type pg from "pg"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { makePostgresRunner, migrate, WRITE_LOCK } from "../src/index.js"
import { freshDatabase } from "./helpers.js"

let pool: pg.Pool
let runtime: ManagedRuntime.ManagedRuntime<TaskQueue, never>
const run = <A, E>(f: (q: TaskQueue["Type"]) => Effect.Effect<A, E>) => runtime.runPromise(Effect.flatMap(TaskQueue, f))

/** Another connection holding the write lock shared (as a claim in flight does) until `release`. */
const holdShared = async () => {
  const client = await pool.connect()
  await client.query(`BEGIN; SELECT pg_advisory_xact_lock_shared(${WRITE_LOCK})`)
  return {
    release: async () => {
      await client.query("COMMIT")
      client.release()
    }
  }
}

/** Resolves once some backend waits for the write lock (an ungranted advisory lock request). */
const someoneWaits = async () => {
  for (let i = 0; i < 500; i++) {
    const { rows } = await pool.query("SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND objid = $1 AND NOT granted", [
      WRITE_LOCK
    ])
    if (rows[0].n > 0) return
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  throw new Error("no write waited for the lock within 10 s")
}

/** Whether `promise` has settled (after the microtasks now queued ran). */
const settled = async (promise: Promise<unknown>) => {
  let done = false
  promise.then(
    () => (done = true),
    () => (done = true)
  )
  await new Promise((resolve) => setImmediate(resolve))
  return done
}

describe("finishing work under the shared write lock", () => {
  beforeAll(async () => {
    ;({ pool } = await freshDatabase({ max: 6 }))
    await migrate(pool)
    runtime = ManagedRuntime.make(
      TaskQueue.layerWithRunner.pipe(
        Layer.provide(Layer.succeed(StoreRunner, makePostgresRunner(pool))),
        Layer.provide(QueueConfig.layer({})),
        Layer.orDie
      )
    )
  })
  afterAll(() => runtime.dispose())

  it("completes and heartbeats a task without parent or dependents beside a claim in flight", async () => {
    const task = await run((q) => q.submit({ prompt: "alone" }))
    const claimed = await run((q) => q.claim({ worker: "w" }))
    expect(claimed?.id).toBe(task.id)
    const holder = await holdShared()
    try {
      const beat = await run((q) => q.heartbeat(task.id, { leaseToken: claimed!.leaseToken, leaseSeconds: 7200 }))
      expect(beat.leaseExpiresAt > claimed!.leaseExpiresAt).toBe(true)
      const done = await run((q) => q.complete(task.id, { leaseToken: claimed!.leaseToken, result: { ok: true } }))
      expect(done.task.status).toBe("completed")
    } finally {
      await holder.release()
    }
    const audit = await run((q) => q.audit(task.id))
    expect(audit.map((a) => a.toStatus)).toEqual(["ready", "running", "completed"])
  })

  it("a completion that unblocks a dependent waits for the exclusive lock, then unblocks it once", async () => {
    const { tasks } = await run((q) =>
      q.submitPlan({
        tasks: [
          { key: "a", prompt: "first" },
          { key: "b", prompt: "then", dependsOn: ["a"] }
        ]
      })
    )
    const { a, b } = tasks
    const claimed = await run((q) => q.claim({ worker: "w" }))
    expect(claimed?.id).toBe(a!.id)
    const holder = await holdShared()
    const completing = run((q) => q.complete(a!.id, { leaseToken: claimed!.leaseToken }))
    try {
      await someoneWaits()
      expect(await settled(completing)).toBe(false)
    } finally {
      await holder.release()
    }
    expect((await completing).unblocked).toEqual([b!.id])
    expect((await run((q) => q.get(b!.id))).status).toBe("ready")
    const audit = await run((q) => q.audit(b!.id))
    expect(audit.filter((e) => e.toStatus === "ready")).toHaveLength(1)
  })

  it("a subtask's completion (its parent's counters change) waits for the exclusive lock", async () => {
    const { tasks } = await run((q) =>
      q.submitPlan({ tasks: [{ key: "p", prompt: "parent", children: [{ key: "c", prompt: "child", agentType: "coder" }] }] })
    )
    const { p: parent, c: child } = tasks
    const claimed = await run((q) => q.claim({ worker: "w", agentType: "coder" }))
    expect(claimed?.id).toBe(child!.id)
    const holder = await holdShared()
    const completing = run((q) => q.complete(child!.id, { leaseToken: claimed!.leaseToken }))
    try {
      await someoneWaits()
      expect(await settled(completing)).toBe(false)
    } finally {
      await holder.release()
    }
    expect((await completing).task.status).toBe("completed")
    expect((await run((q) => q.list({ parentTaskId: parent!.id }))).map((t) => t.status)).toEqual(["completed"])
  })
})
