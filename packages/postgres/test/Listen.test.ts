import { Task } from "@abathur/domain"
import type { StoredTask } from "@abathur/storage"
import type pg from "pg"
import { beforeAll, describe, expect, it } from "vitest"
import { listenReady, migrate, runTransaction } from "../src/index.js"
import { freshDatabase } from "./helpers.js"

const task = (status: string, agentType = "general"): StoredTask => ({
  ...Task.parse({ prompt: "p", status, agentType, submittedAt: "2026-01-01T00:00:00.000Z", lastUpdatedAt: "2026-01-01T00:00:00.000Z" }),
  leaseToken: null,
  leaseExpiresAt: null,
  workerId: null,
  priorityRefreshAt: null,
  priorityRank: 1,
  priorityStarved: false,
  cancelledBy: null,
  idempotencyFingerprint: null,
  subtree: { open: 0, completed: 0, failed: 0, cancelled: 0 },
  ancestorGated: false
})

/** Resolves with what arrived once `n` notifications did, or after 5 s with what arrived by then. */
const collect = (into: Array<string | null>, n: number) =>
  new Promise<Array<string | null>>((resolve) => {
    const started = Date.now()
    const check = () => (into.length >= n || Date.now() - started > 5000 ? resolve([...into]) : setTimeout(check, 10))
    check()
  })

let pool: pg.Pool
let url: string

describe("wake-ups across servers", () => {
  beforeAll(async () => {
    ;({ pool, url } = await freshDatabase())
    await migrate(pool)
  })

  it("announce a task that became READY at commit, once per agent type, and nothing for a claim or a rollback", async () => {
    const heard: Array<string | null> = []
    const listener = await listenReady({ url, onReady: (agentType) => void heard.push(agentType) })
    try {
      const blocked = task("blocked", "coder")
      await runTransaction(pool, (s) => s.insertTasks([task("ready"), task("ready"), blocked]))
      expect(await collect(heard, 1)).toEqual(["general"])
      // Rolled back: nothing. Claimed (READY -> RUNNING): nothing.
      await expect(
        runTransaction(pool, function* (s) {
          yield* s.updateTask(blocked.id, { status: "ready" })
          throw new Error("changed its mind")
        })
      ).rejects.toThrow("changed its mind")
      await runTransaction(pool, function* (s) {
        const [head] = yield* s.readyHeads(null)
        yield* s.updateTask(head!.id, { status: "running" })
      })
      await runTransaction(pool, (s) => s.updateTask(blocked.id, { status: "ready" }))
      expect(await collect(heard, 2)).toEqual(["general", "coder"])
    } finally {
      await listener.close()
    }
  })

  it("with onLease, announce a task that entered RUNNING (a new lease) at commit, once per transaction, and nothing for a heartbeat or a rollback", async () => {
    const ready: Array<string | null> = []
    const leases: Array<string> = []
    const listener = await listenReady({ url, onReady: (agentType) => void ready.push(agentType), onLease: () => void leases.push("lease") })
    try {
      const [first, second, third] = [task("ready", "leased"), task("ready", "leased"), task("ready", "leased")]
      await runTransaction(pool, (s) => s.insertTasks([first, second, third]))
      expect(await collect(ready, 1)).toEqual(["leased"])
      const lease = (id: string, expires: string) => ({ status: "running" as const, leaseToken: `t-${id}`, leaseExpiresAt: expires })
      // Two claims in one transaction: one announcement.
      await runTransaction(pool, function* (s) {
        yield* s.updateTask(first.id, lease(first.id, "2026-01-01T00:01:00.000Z"))
        yield* s.updateTask(second.id, lease(second.id, "2026-01-01T00:02:00.000Z"))
      })
      expect(await collect(leases, 1)).toEqual(["lease"])
      // A heartbeat (RUNNING stays RUNNING, a later expiry) and a rolled-back claim: nothing.
      await runTransaction(pool, (s) => s.updateTask(first.id, { status: "running", leaseExpiresAt: "2026-01-01T00:05:00.000Z" }))
      await expect(
        runTransaction(pool, function* (s) {
          yield* s.updateTask(third.id, lease(third.id, "2026-01-01T00:03:00.000Z"))
          throw new Error("changed its mind")
        })
      ).rejects.toThrow("changed its mind")
      // Then a claim that commits: the second announcement, and the only other one.
      await runTransaction(pool, (s) => s.updateTask(third.id, lease(third.id, "2026-01-01T00:04:00.000Z")))
      expect(await collect(leases, 2)).toEqual(["lease", "lease"])
      await new Promise((resolve) => setTimeout(resolve, 200))
      expect(leases).toEqual(["lease", "lease"])
      expect(ready).toEqual(["leased"])
    } finally {
      await listener.close()
    }
  })

  it("without onLease, hear nothing of leases", async () => {
    const heard: Array<string | null> = []
    const listener = await listenReady({ url, onReady: (agentType) => void heard.push(agentType) })
    try {
      const claimed = task("ready", "quiet")
      await runTransaction(pool, (s) => s.insertTask(claimed))
      expect(await collect(heard, 1)).toEqual(["quiet"])
      await runTransaction(pool, (s) => s.updateTask(claimed.id, { status: "running", leaseToken: "t", leaseExpiresAt: "2026-01-01T00:01:00.000Z" }))
      const channels = await pool.query<{ n: number }>("SELECT count(*)::integer AS n FROM pg_stat_activity WHERE query = 'LISTEN abathur_ready'")
      expect(channels.rows[0]!.n).toBe(1)
      expect(heard).toEqual(["quiet"])
    } finally {
      await listener.close()
    }
  })

  it("reconnect after the connection is lost, and say so (notifications may have been missed)", async () => {
    const heard: Array<string | null> = []
    const listener = await listenReady({ url, reconnectMs: 20, onReady: (agentType) => void heard.push(agentType) })
    try {
      await pool.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN abathur_%' AND pid <> pg_backend_pid()")
      expect(await collect(heard, 1)).toEqual([null])
      await runTransaction(pool, (s) => s.insertTask(task("ready", "reviewer")))
      expect(await collect(heard, 2)).toEqual([null, "reviewer"])
    } finally {
      await listener.close()
    }
  })
})
