/** The MCP server over streamable HTTP. */
import { QueueConfig, TaskQueue } from "@abathur/queue"
import { Database, TaskRepository } from "@abathur/storage"
import { tempDir } from "@abathur/testing/vitest"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js"
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js"
import { Layer, ManagedRuntime } from "effect"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { makeMcpServer } from "../src/index.js"
import { ToolNames } from "./harness.js"

describe("over streamable HTTP", () => {
  it("serves the same tools, one stateless server per request", async () => {
    const layer = TaskQueue.layer.pipe(
      Layer.provideMerge(TaskRepository.layer),
      Layer.provideMerge(Database.layer({ filename: join(tempDir("abathur-mcp-"), "http.db") })),
      Layer.provideMerge(QueueConfig.layer())
    )
    const runtime = ManagedRuntime.make(layer)
    const http = createServer((req, res) => {
      const server = makeMcpServer({ run: (effect) => runtime.runPromiseExit(effect) })
      const transport = new StreamableHTTPServerTransport({ enableJsonResponse: true }) // no sessionIdGenerator: stateless
      res.on("close", () => {
        void transport.close()
        void server.close()
      })
      void server.connect(transport).then(() => transport.handleRequest(req, res))
    })
    await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve))
    const { port } = http.address() as AddressInfo
    const client = new Client({ name: "http-test", version: "1.0.0" })
    try {
      await client.connect(new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/mcp`)))
      const { tools } = await client.listTools()
      expect(tools).toHaveLength(ToolNames.length)
      const r = (await client.callTool({ name: "task_enqueue", arguments: { prompt: "over HTTP" } })) as CallToolResult
      expect(r.isError).not.toBe(true)
      expect((r.structuredContent as { prompt: string }).prompt).toBe("over HTTP")
      const bad = (await client.callTool({ name: "task_get", arguments: { taskId: "x" } })) as CallToolResult
      expect(bad.isError).toBe(true)
      const first = bad.content[0]
      expect(first?.type === "text" && JSON.parse(first.text).error._tag).toBe("ValidationError")
    } finally {
      await client.close()
      await new Promise((resolve) => http.close(resolve))
      await runtime.dispose()
    }
  })
})
