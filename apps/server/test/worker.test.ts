import { describe, expect, it } from "vitest"
import { sharedServer } from "./support/server.js"

const { api } = sharedServer()

/** A deterministic pseudo-random sequence (so that a failure can be replayed). */
const random = (seed: number) => () => {
  seed = (seed * 1103515245 + 12345) % 2147483648
  return seed / 2147483648
}

/** 1,000 tasks in 10 layers of 100; each task past the first layer waits for 1 to 3 of the layer before. */
const makePlan = () => {
  const next = random(42)
  const layers = 10
  const width = 100
  const nodes: Array<{ key: string; prompt: string; priority: number; dependsOn: Array<string> }> = []
  for (let l = 0; l < layers; l++) {
    for (let i = 0; i < width; i++) {
      const deps = new Set<string>()
      if (l > 0) {
        const n = 1 + Math.floor(next() * 3)
        while (deps.size < n) deps.add(`L${l - 1}-${Math.floor(next() * width)}`)
      }
      nodes.push({ key: `L${l}-${i}`, prompt: `layer ${l} task ${i}`, priority: Math.floor(next() * 11), dependsOn: [...deps] })
    }
  }
  return nodes
}

describe("a worker written against the HTTP API only", () => {
  it("8 concurrent claimers drain a 1,000-task plan in dependency order, each task claimed once", async () => {
    const nodes = makePlan()
    const submitted = await api.post("/v1/plans", { tasks: nodes })
    expect(submitted.status, submitted.text.slice(0, 500)).toBe(201)
    const idOf = new Map<string, string>(Object.entries(submitted.body.tasks).map(([k, t]) => [k, (t as { id: string }).id]))
    const prerequisites = new Map<string, Array<string>>(nodes.map((n) => [idOf.get(n.key)!, n.dependsOn.map((k) => idOf.get(k)!)]))
    expect(prerequisites.size).toBe(1000)

    const claimed = new Set<string>()
    const duplicates: Array<string> = []
    const outOfOrder: Array<string> = []
    /** Tasks whose completion was sent: a prerequisite must be here before its dependent is handed out. */
    const completing = new Set<string>()
    let completed = 0
    const perWorker = new Map<string, number>()

    const worker = async (name: string) => {
      while (completed < 1000) {
        const r = await api.post("/v1/claims", { worker: name, waitSeconds: 1 })
        if (r.status === 204) continue
        expect(r.status, r.text).toBe(200)
        const task = r.body as { id: string; leaseToken: string }
        if (claimed.has(task.id)) duplicates.push(task.id)
        claimed.add(task.id)
        for (const p of prerequisites.get(task.id) ?? []) if (!completing.has(p)) outOfOrder.push(`${task.id} before ${p}`)
        completing.add(task.id)
        const done = await api.post(`/v1/tasks/${task.id}/complete`, { leaseToken: task.leaseToken, result: { worker: name } })
        expect(done.status, done.text).toBe(200)
        completed++
        perWorker.set(name, (perWorker.get(name) ?? 0) + 1)
      }
    }
    const started = performance.now()
    await Promise.all(Array.from({ length: 8 }, (_, i) => worker(`worker-${i}`)))
    const seconds = (performance.now() - started) / 1000
    console.log(
      `drained 1,000 tasks with 8 HTTP workers in ${seconds.toFixed(2)} s (${(1000 / seconds).toFixed(0)} claim+complete cycles/s); per worker: ${[...perWorker.values()].join(", ")}`
    )

    expect(duplicates).toEqual([])
    expect(outOfOrder).toEqual([])
    expect(claimed.size).toBe(1000)
    expect(perWorker.size).toBeGreaterThan(1)

    // The server's own record agrees: every task completed, each started after its prerequisites completed.
    const status = await api.get("/v1/status")
    expect(status.body.byStatus.completed).toBe(1000)
    expect(status.body.total).toBe(1000)
    const all = await api.get("/v1/tasks?status=completed&limit=5000")
    const byId = new Map<string, { startedAt: string; completedAt: string }>(all.body.map((t: { id: string }) => [t.id, t]))
    for (const [id, prereqs] of prerequisites) {
      for (const p of prereqs) expect(byId.get(id)!.startedAt >= byId.get(p)!.completedAt, `${id} started before ${p} completed`).toBe(true)
    }
    const plan = await api.get("/v1/plan")
    expect(plan.body).toEqual({ batches: [], totalBatches: 0, maxParallelism: 0 })
  })
})
