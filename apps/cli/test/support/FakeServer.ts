import { randomUUID } from "node:crypto"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"

/**
 * A stand-in for abathur-server's worker routes (claims with long-poll, heartbeat, complete,
 * fail, status, show), enough to drive `abathur work --server URL` the way the contract says the
 * real server answers. It keeps tasks in memory and records every request.
 */

export interface FakeTask {
  id: string
  prompt: string
  summary: string
  status: string
  retryCount: number
  maxRetries: number
  maxExecutionTimeoutSeconds: number
  resultData: unknown
  errorMessage: string | null
  leaseToken: string | null
}

export interface Seen {
  readonly method: string
  readonly path: string
  readonly authorization: string | undefined
  readonly body: any
}

export class FakeServer {
  readonly tasks = new Map<string, FakeTask>()
  readonly seen: Array<Seen> = []
  private readonly server = createServer((req, res) => void this.handle(req, res))
  constructor(private readonly token: string | null) {}

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve))
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`
  }

  close(): Promise<void> {
    this.server.closeAllConnections()
    return new Promise((resolve) => this.server.close(() => resolve()))
  }

  add(prompt: string, maxRetries = 3): FakeTask {
    const t: FakeTask = {
      id: randomUUID(),
      prompt,
      summary: prompt,
      status: "ready",
      retryCount: 0,
      maxRetries,
      maxExecutionTimeoutSeconds: 60,
      resultData: null,
      errorMessage: null,
      leaseToken: null
    }
    this.tasks.set(t.id, t)
    return t
  }

  /** Claims the first READY task: the claimed task with its lease, or null. */
  private claimOne(): Record<string, unknown> | null {
    const t = [...this.tasks.values()].find((x) => x.status === "ready")
    if (t === undefined) return null
    t.status = "running"
    t.leaseToken = randomUUID()
    return { ...this.publicTask(t), leaseToken: t.leaseToken, leaseExpiresAt: new Date(Date.now() + 60_000).toISOString() }
  }

  private publicTask(t: FakeTask) {
    const { leaseToken: _, ...rest } = t
    return rest
  }

  private async handle(req: IncomingMessage, res: ServerResponse) {
    const chunks: Array<Buffer> = []
    for await (const c of req) chunks.push(c as Buffer)
    const text = Buffer.concat(chunks).toString("utf8")
    const body = text === "" ? undefined : JSON.parse(text)
    const path = new URL(req.url ?? "/", "http://x").pathname
    this.seen.push({ method: req.method ?? "", path, authorization: req.headers.authorization, body })
    const send = (status: number, doc?: unknown) => {
      res.writeHead(status, doc === undefined ? {} : { "content-type": "application/json" })
      res.end(doc === undefined ? undefined : JSON.stringify(doc))
    }
    const error = (status: number, tag: string, message: string) => send(status, { error: { _tag: tag, message } })
    if (this.token !== null && req.headers.authorization !== `Bearer ${this.token}`)
      return error(401, "Unauthorized", "missing or wrong bearer token")

    if (req.method === "POST" && path === "/v1/claims") {
      const until = Date.now() + Math.min(60, Number(body?.waitSeconds ?? 0)) * 1000
      // With `limit`: up to that many at once, answered as {"tasks": [...]}.
      const limit = body?.limit === undefined ? null : Number(body.limit)
      for (;;) {
        const claimed: Array<unknown> = []
        for (let t = this.claimOne(); t !== null; t = claimed.length + 1 < (limit ?? 1) ? this.claimOne() : null) claimed.push(t)
        if (claimed.length > 0) return send(200, limit === null ? claimed[0] : { tasks: claimed })
        if (Date.now() >= until || res.destroyed) return send(204)
        await new Promise((r) => setTimeout(r, 20))
      }
    }
    if (req.method === "GET" && path === "/v1/status") {
      const byStatus: Record<string, number> = { pending: 0, blocked: 0, ready: 0, running: 0, completed: 0, failed: 0, cancelled: 0 }
      for (const t of this.tasks.values()) byStatus[t.status] = (byStatus[t.status] ?? 0) + 1
      return send(200, { total: this.tasks.size, byStatus })
    }
    const m = /^\/v1\/tasks\/([^/]+)(?:\/(\w+))?$/.exec(path)
    const t = m === null ? undefined : this.tasks.get(decodeURIComponent(m[1]!))
    if (m === null) return error(404, "NotFound", "no such route")
    if (t === undefined) return error(404, "TaskNotFound", "no such task")
    const action = m[2]
    if (req.method === "GET" && action === undefined) return send(200, this.publicTask(t))
    if (req.method !== "POST") return error(404, "NotFound", "no such route")
    if (action === "release") return error(404, "NotFound", "no such route") // not in the contract (yet)
    if (t.status !== "running") return error(409, "InvalidTransition", `task is ${t.status}`)
    if (body?.leaseToken !== undefined && body.leaseToken !== t.leaseToken) return error(409, "LeaseMismatch", "reclaimed")
    if ((action === "complete" || action === "fail") && body?.leaseToken === undefined && body?.force !== true) {
      return error(409, "LeaseMismatch", "no lease token and no force")
    }
    switch (action) {
      case "heartbeat":
        return send(200, { ...this.publicTask(t), leaseToken: t.leaseToken })
      case "complete":
        t.status = "completed"
        t.resultData = body?.result ?? null
        // `next`: the worker's next task claimed with the completion.
        return send(200, { task: this.publicTask(t), unblocked: [], ...(body?.next !== undefined && { next: this.claimOne() }) })
      case "fail": {
        const retried = t.retryCount < t.maxRetries
        t.errorMessage = body?.error
        if (retried) t.retryCount++
        t.status = retried ? "ready" : "failed"
        return send(200, { task: this.publicTask(t), retried, cancelled: [] })
      }
    }
    return error(404, "NotFound", "no such route")
  }
}
