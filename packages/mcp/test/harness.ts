/** The MCP server under test: a client over an in-memory transport to a server over a fresh queue file; the contract's tool names. */
import { QueueConfig, TaskQueue } from "@abathur/queue"
import { Database, TaskRepository } from "@abathur/storage"
import { CONTRACT_MCP_TOOLS } from "@abathur/testing"
import { tempDir } from "@abathur/testing/vitest"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js"
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js"
import { Layer, ManagedRuntime } from "effect"
import { join } from "node:path"
import { beforeEach, expect } from "vitest"
import { makeMcpServer, type WaitForWork } from "../src/index.js"

/** The contract's tool names (@abathur/testing). */
export const ToolNames = CONTRACT_MCP_TOOLS

/** Every property of every object schema in a JSON Schema document (nested, and under $defs), with its path. */
export const propertiesOf = (node: unknown, path = "#"): Array<{ path: string; schema: Record<string, unknown> }> => {
  if (Array.isArray(node)) return node.flatMap((n, i) => propertiesOf(n, `${path}/${i}`))
  if (typeof node !== "object" || node === null) return []
  const out: Array<{ path: string; schema: Record<string, unknown> }> = []
  for (const [k, v] of Object.entries(node)) {
    if (k === "properties" && typeof v === "object" && v !== null) {
      for (const [field, schema] of Object.entries(v)) out.push({ path: `${path}/properties/${field}`, schema: schema as Record<string, unknown> })
    }
    out.push(...propertiesOf(v, `${path}/${k}`))
  }
  return out
}

export interface Harness {
  readonly client: Client
  readonly call: (name: string, args?: Record<string, unknown>) => Promise<CallToolResult>
  readonly ok: (name: string, args?: Record<string, unknown>) => Promise<any>
  readonly err: (name: string, args?: Record<string, unknown>) => Promise<{ _tag: string; message: string; [k: string]: unknown }>
  readonly close: () => Promise<void>
}

/** The folder of the current test (fresh for each test). */
let dir: string

/** An MCP client over an in-memory transport to a server over a fresh queue file. */
export const open = async (env: { maxDependencies?: number; waitForWork?: WaitForWork } = {}): Promise<Harness> => {
  const layer = TaskQueue.layer.pipe(
    Layer.provideMerge(TaskRepository.layer),
    Layer.provideMerge(Database.layer({ filename: join(dir, "q.db") })),
    Layer.provideMerge(QueueConfig.layer({ limits: { maxDependencies: env.maxDependencies ?? 50, maxDepth: 10, maxSubtasks: 50 } }))
  )
  const runtime = ManagedRuntime.make(layer)
  const server = makeMcpServer({
    run: (effect) => runtime.runPromiseExit(effect),
    ...(env.waitForWork !== undefined && { waitForWork: env.waitForWork })
  })
  const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair()
  await server.connect(serverTransport)
  const client = new Client({ name: "test", version: "1.0.0" })
  await client.connect(clientTransport)
  const call = async (name: string, args: Record<string, unknown> = {}) => (await client.callTool({ name, arguments: args })) as CallToolResult
  const textOf = (r: CallToolResult) => {
    const first = r.content[0]
    if (first?.type !== "text") throw new Error("expected text content")
    return first.text
  }
  return {
    client,
    call,
    ok: async (name, args) => {
      const r = await call(name, args)
      if (r.isError === true) throw new Error(`${name} failed: ${textOf(r)}`)
      const doc = JSON.parse(textOf(r))
      expect(r.structuredContent).toEqual(doc)
      return doc
    },
    err: async (name, args) => {
      const r = await call(name, args)
      expect(r.isError).toBe(true)
      const doc = JSON.parse(textOf(r)) as { error: { _tag: string; message: string } }
      expect(Object.keys(doc)).toEqual(["error"])
      return doc.error
    },
    close: async () => {
      await client.close()
      await server.close()
      await runtime.dispose()
    }
  }
}

beforeEach(() => {
  dir = tempDir("abathur-mcp-")
})
