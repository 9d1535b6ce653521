import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js"
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js"
import { expect } from "vitest"
import { CLI, type Sandbox } from "./Cli.js"

/** `abathur --db DB mcp` on stdio, with an MCP client: `ok` expects a result, `err` a tool error (its Error JSON). */
export const connect = async (s: Sandbox) => {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [CLI, "--db", s.db, "mcp"],
    env: { PATH: process.env["PATH"] ?? "" },
    stderr: "pipe"
  })
  let stderr = ""
  transport.stderr?.on("data", (d: Buffer) => (stderr += d.toString("utf8")))
  const client = new Client({ name: "abathur-cli-test", version: "1.0.0" })
  await client.connect(transport)
  const call = async (name: string, args: Record<string, unknown> = {}) => (await client.callTool({ name, arguments: args })) as CallToolResult
  const text = (r: CallToolResult) => {
    const first = r.content[0]
    if (first?.type !== "text") throw new Error("expected text content")
    return first.text
  }
  const ok = async (name: string, args: Record<string, unknown> = {}): Promise<any> => {
    const r = await call(name, args)
    if (r.isError === true) throw new Error(`${name}: ${text(r)}`)
    const doc = JSON.parse(text(r))
    expect(r.structuredContent).toEqual(doc)
    return doc
  }
  const err = async (name: string, args: Record<string, unknown> = {}) => {
    const r = await call(name, args)
    expect(r.isError).toBe(true)
    return (JSON.parse(text(r)) as { error: { _tag: string; message: string; [k: string]: unknown } }).error
  }
  return { client, ok, err, stderr: () => stderr, close: () => client.close() }
}
