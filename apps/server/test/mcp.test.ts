import { CONTRACT_MCP_TOOLS } from "@abathur/testing"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { describe, expect, it } from "vitest"
import { client, sharedServer } from "./support/server.js"

const { server } = sharedServer({ env: { ABATHUR_TOKEN: "mcp-token" } })

const connect = async (token = "mcp-token") => {
  const mcp = new Client({ name: "abathur-server-test", version: "1.0.0" })
  const transport = new StreamableHTTPClientTransport(new URL("/mcp", server().url), {
    requestInit: { headers: { authorization: `Bearer ${token}` } }
  })
  await mcp.connect(transport)
  return mcp
}

const result = (r: Awaited<ReturnType<Client["callTool"]>>) => {
  const content = r.content as Array<{ type: string; text: string }>
  return JSON.parse(content[0]!.text)
}

describe("MCP over streamable HTTP", () => {
  it("lists the contract's tools", async () => {
    const mcp = await connect()
    try {
      const { tools } = await mcp.listTools()
      expect(tools.map((t) => t.name).sort()).toEqual(CONTRACT_MCP_TOOLS)
      const enqueue = tools.find((t) => t.name === "task_enqueue")!
      expect(enqueue.inputSchema.properties).toHaveProperty("prompt")
    } finally {
      await mcp.close()
    }
  })

  it("enqueue, claim and complete; the HTTP API sees the same queue", async () => {
    const mcp = await connect()
    try {
      const enqueued = await mcp.callTool({ name: "task_enqueue", arguments: { prompt: "via MCP", priority: 9 } })
      expect(enqueued.isError).toBeFalsy()
      const task = result(enqueued)
      expect(task).toMatchObject({ prompt: "via MCP", status: "ready", priority: 9 })
      const claimed = result(await mcp.callTool({ name: "task_claim", arguments: { worker: "agent-1" } }))
      expect(claimed.task.id).toBe(task.id)
      expect(typeof claimed.task.leaseToken).toBe("string")
      const completed = result(
        await mcp.callTool({ name: "task_complete", arguments: { taskId: task.id, leaseToken: claimed.task.leaseToken, result: { ok: 1 } } })
      )
      expect(completed.task.status).toBe("completed")
      expect(completed.unblocked).toEqual([])
      const http = await client(server().url, { authorization: "Bearer mcp-token" }).get(`/v1/tasks/${task.id}`)
      expect(http.body).toMatchObject({ status: "completed", resultData: { ok: 1 } })
      const status = result(await mcp.callTool({ name: "task_queue_status", arguments: {} }))
      expect(status.byStatus.completed).toBeGreaterThanOrEqual(1)
      const empty = result(await mcp.callTool({ name: "task_claim", arguments: {} }))
      expect(empty).toEqual({ task: null })
      const metrics = await client(server().url, { authorization: "Bearer mcp-token" }).get("/metrics")
      expect(metrics.text).toMatch(/^abathur_completions_total [1-9]/m)
    } finally {
      await mcp.close()
    }
  })

  it("a waiting task_claim sleeps on the server's wake-ups and returns the task submitted meanwhile", async () => {
    const http = client(server().url, { authorization: "Bearer mcp-token" })
    const counter = async (pattern: RegExp) => Number(pattern.exec((await http.get("/metrics")).text)?.[1] ?? Number.NaN)
    const empty = () => counter(/^abathur_claims_total\{result="empty"\} (\d+)$/m)
    const waiting = () => counter(/^abathur_claims_waiting (\d+)$/m)
    const mcp = await connect()
    try {
      // Start from an empty queue.
      while (result(await mcp.callTool({ name: "task_claim", arguments: {} })).task !== null) {}
      const call = mcp.callTool({ name: "task_claim", arguments: { worker: "waiting-agent", waitSeconds: 30 } })
      for (let i = 0; i < 500 && (await waiting()) < 1; i++) await new Promise((r) => setTimeout(r, 20))
      expect(await waiting()).toBe(1)
      // While it waits and nothing commits, it does not poll: no more empty claims.
      const before = await empty()
      await new Promise((r) => setTimeout(r, 1_000))
      expect(await empty()).toBe(before)
      const submitted = await http.post("/v1/tasks", { prompt: "for the waiting agent" })
      expect(submitted.status).toBe(201)
      const claimed = await call
      expect(claimed.isError).toBeFalsy()
      expect(result(claimed).task).toMatchObject({ id: submitted.body.id, status: "running" })
      expect(await waiting()).toBe(0)
    } finally {
      await mcp.close()
    }
  })

  it("input errors come back as tool errors carrying the Error JSON", async () => {
    const mcp = await connect()
    try {
      const r = await mcp.callTool({ name: "task_enqueue", arguments: { prompt: "" } })
      expect(r.isError).toBe(true)
      expect(result(r).error._tag).toBe("ValidationError")
      const missing = await mcp.callTool({ name: "task_get", arguments: { taskId: "3f2b8c1e-9d4a-4f6b-8e2a-1c5d7e9f0a2b" } })
      expect(missing.isError).toBe(true)
      expect(result(missing).error._tag).toBe("TaskNotFound")
    } finally {
      await mcp.close()
    }
  })

  it("needs the token like every other route", async () => {
    await expect(connect("wrong")).rejects.toThrow()
  })
})
