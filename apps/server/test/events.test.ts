import { describe, expect, it } from "vitest"
import { runQueueScript, sharedServer, sleep } from "./support/server.js"

const { server, api } = sharedServer()

interface SseMessage {
  readonly event?: string
  readonly data?: string
  readonly comment?: string
}

/** Reads a text/event-stream; `next(predicate)` waits for a matching message. */
const subscribe = async (path: string) => {
  const controller = new AbortController()
  const res = await fetch(new URL(path, server().url), { signal: controller.signal, headers: { accept: "text/event-stream" } })
  const messages: Array<SseMessage> = []
  const waiters: Array<() => void> = []
  let buffer = ""
  const pump = (async () => {
    const decoder = new TextDecoder()
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true })
        let i: number
        while ((i = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, i)
          buffer = buffer.slice(i + 2)
          const msg: { event?: string; data?: string; comment?: string } = {}
          for (const line of block.split("\n")) {
            if (line.startsWith(":")) msg.comment = line.slice(1).trim()
            else if (line.startsWith("event:")) msg.event = line.slice(6).trim()
            else if (line.startsWith("data:")) msg.data = (msg.data === undefined ? "" : `${msg.data}\n`) + line.slice(5).trim()
          }
          messages.push(msg)
          for (const w of waiters.splice(0)) w()
        }
      }
    } catch {
      // aborted
    }
    for (const w of waiters.splice(0)) w()
  })()
  const next = async (predicate: (m: SseMessage) => boolean, timeoutMs = 5_000): Promise<SseMessage> => {
    const deadline = Date.now() + timeoutMs
    let seen = 0
    for (;;) {
      for (; seen < messages.length; seen++) if (predicate(messages[seen]!)) return messages.splice(seen, 1)[0]!
      if (Date.now() > deadline) throw new Error(`no matching event within ${timeoutMs} ms; got ${JSON.stringify(messages)}`)
      await Promise.race([new Promise<void>((r) => waiters.push(r)), sleep(100)])
    }
  }
  return {
    res,
    messages,
    next,
    close: async () => {
      controller.abort()
      await pump
    }
  }
}

const taskEvent = (id: string, to: string) => (m: SseMessage) =>
  m.event === "task" && m.data !== undefined && JSON.parse(m.data).taskId === id && JSON.parse(m.data).to === to

describe("GET /v1/events", () => {
  it("streams task state changes as server-sent events", async () => {
    const stream = await subscribe("/v1/events")
    try {
      expect(stream.res.status).toBe(200)
      expect(stream.res.headers.get("content-type")).toContain("text/event-stream")
      expect(stream.res.headers.get("cache-control")).toBe("no-cache")
      await stream.next((m) => m.comment === "connected")
      const a = (await api.post("/v1/tasks", { prompt: "event a" })).body
      const b = (await api.post("/v1/tasks", { prompt: "event b", dependsOn: [a.id] })).body
      const submitted = await stream.next(taskEvent(a.id, "ready"))
      const data = JSON.parse(submitted.data!)
      expect(Object.keys(data).sort()).toEqual(["at", "from", "taskId", "to"])
      expect(data.from).toBeNull()
      expect(Number.isNaN(Date.parse(data.at))).toBe(false)
      await stream.next(taskEvent(b.id, "blocked"))
      const claim = await api.post("/v1/claims", {})
      expect(claim.body.id).toBe(a.id)
      const running = await stream.next(taskEvent(a.id, "running"))
      expect(JSON.parse(running.data!).from).toBe("ready")
      await api.post(`/v1/tasks/${a.id}/complete`, { leaseToken: claim.body.leaseToken })
      await stream.next(taskEvent(a.id, "completed"))
      const unblocked = await stream.next(taskEvent(b.id, "ready"))
      expect(JSON.parse(unblocked.data!).from).toBe("blocked")
      await api.post(`/v1/tasks/${b.id}/cancel`)
      await stream.next(taskEvent(b.id, "cancelled"))
    } finally {
      await stream.close()
    }
  })

  it("sends heartbeat comments and a sync event when another process commits", async () => {
    const stream = await subscribe("/v1/events?heartbeatSeconds=1")
    try {
      await stream.next((m) => m.comment === "connected")
      const beat = await stream.next((m) => m.comment?.startsWith("heartbeat") === true, 3_000)
      expect(beat.comment).toMatch(/^heartbeat /)
      const script = await runQueueScript([server().db, "submit", "outside"])
      expect(script.code, script.stderr).toBe(0)
      const sync = await stream.next((m) => m.event === "sync")
      expect(JSON.parse(sync.data!)).toHaveProperty("dataVersion")
    } finally {
      await stream.close()
    }
  })

  it("counts open streams and forgets a client that went away", async () => {
    const count = async () => Number(/^abathur_event_streams (\d+)$/m.exec((await api.get("/metrics")).text)?.[1])
    const s1 = await subscribe("/v1/events")
    const s2 = await subscribe("/v1/events")
    await s1.next((m) => m.comment === "connected")
    await s2.next((m) => m.comment === "connected")
    expect(await count()).toBe(2)
    await s1.close()
    await s2.close()
    for (let i = 0; i < 250 && (await count()) > 0; i++) await sleep(20)
    expect(await count()).toBe(0)
    expect((await api.get("/v1/events?heartbeatSeconds=0")).status).toBe(400)
    expect((await api.get("/v1/events?colour=red")).status).toBe(400)
  })
})
