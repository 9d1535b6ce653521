import { existsSync } from "node:fs"
import * as Http from "node:http"
import { describe, expect, it } from "vitest"
import { client, type RunningServer, sleep, startServer } from "./support/server.js"

/** A POST whose body is sent in two parts: the request is in flight between them. */
const slowPost = (server: RunningServer, path: string, body: string) => {
  const half = Math.floor(body.length / 2)
  const req = Http.request(new URL(path, server.url), {
    method: "POST",
    headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) }
  })
  const answer = new Promise<{ status: number; text: string }>((resolve, reject) => {
    req.on("response", (res) => {
      let text = ""
      res.setEncoding("utf8").on("data", (d: string) => (text += d))
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text }))
    })
    req.on("error", reject)
  })
  req.write(body.slice(0, half))
  return { finish: () => req.end(body.slice(half)), abort: () => req.destroy(), answer }
}

const waiting = async (server: RunningServer) => {
  const api = client(server.url)
  for (let i = 0; i < 200; i++) {
    if (/^abathur_claims_waiting 1$/m.test((await api.get("/metrics")).text)) return
    await sleep(20)
  }
  throw new Error("the claim never waited")
}

describe("graceful shutdown", () => {
  it("SIGTERM ends a waiting long-poll claim with 204, closes the database and exits 0 within 2 s", async () => {
    const server = await startServer()
    try {
      const api = client(server.url)
      await api.post("/v1/tasks", { prompt: "to keep the WAL busy" })
      const claim = api.post("/v1/claims", { waitSeconds: 0 }).then(() => api.post("/v1/claims", { waitSeconds: 30 }))
      await waiting(server)
      const stopping = server.stop("SIGTERM")
      const r = await claim
      expect(r.status).toBe(204)
      const stopped = await stopping
      expect(stopped.code).toBe(0)
      expect(stopped.millis).toBeLessThan(2_000)
      expect(server.stderr()).toMatch(/shutting down/)
      // the database was closed: its write-ahead log was checkpointed and removed
      expect(existsSync(`${server.db}-wal`)).toBe(false)
    } finally {
      await server.dispose()
    }
  })

  it("finishes a request in flight: its body arrives after the signal and it is still answered and committed", async () => {
    const server = await startServer()
    try {
      const body = JSON.stringify({ prompt: "sent while the server stops", inputData: { pad: "x".repeat(50_000) } })
      const slow = slowPost(server, "/v1/tasks", body)
      await sleep(300)
      const stopping = server.stop("SIGTERM")
      await sleep(200)
      slow.finish()
      const r = await slow.answer
      expect(r.status, r.text).toBe(201)
      const stopped = await stopping
      expect(stopped.code).toBe(0)
      expect(stopped.millis).toBeLessThan(2_000)
      // the task is in the database
      const again = await startServer({ db: server.db })
      try {
        const got = await client(again.url).get(`/v1/tasks/${JSON.parse(r.text).id}`)
        expect(got.status).toBe(200)
      } finally {
        await again.dispose()
      }
    } finally {
      await server.dispose()
    }
  })

  it("SIGINT stops too; an event stream ends; a request that never completes is cut after the grace period", async () => {
    const server = await startServer()
    try {
      const events = await fetch(new URL("/v1/events", server.url))
      const reader = events.body!.getReader()
      await reader.read()
      const stuck = slowPost(server, "/v1/tasks", JSON.stringify({ prompt: "never finished" }))
      stuck.answer.catch(() => undefined)
      await sleep(200)
      const stopped = await server.stop("SIGINT")
      expect(stopped.code).toBe(0)
      expect(stopped.millis).toBeLessThan(2_000)
      // the stream ended (cleanly or cut)
      const end = await reader.read().then(
        (r) => r.done,
        () => true
      )
      expect(end).toBe(true)
      stuck.abort()
    } finally {
      await server.dispose()
    }
  })
})
