import { causeErrorBody, type FaceHints, type TaskQueue } from "@abathur/queue"
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js"
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js"
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js"
import { type Effect, Exit } from "effect"
import {
  advertisedOutput,
  advertisedSchema,
  callTool,
  pollForWork,
  type ToolArguments,
  type ToolContext,
  toolDefinitions,
  type WaitForWork
} from "./McpTools.js"
import { VERSION } from "./Version.js"

/**
 * How the server runs an operation: the app decides (a ManagedRuntime, a Runtime taken inside a
 * scope, ...). The library never runs an Effect on its own layers. The error channel may also carry
 * the runtime's own failures (e.g. opening the database), reported like the operation's errors.
 */
export type RunEffect = <A, E>(effect: Effect.Effect<A, E, TaskQueue>) => Promise<Exit.Exit<A, E | unknown>>

export interface McpServerOptions {
  readonly run: RunEffect
  /** Reported to clients (default "abathur"). */
  readonly name?: string
  /** Reported to clients (default: this package's version). */
  readonly version?: string
  /**
   * How `task_claim` with `waitSeconds` waits between attempts. Default: `pollForWork()`, every
   * 250 ms. The HTTP server passes one that wakes on its own commits, other processes' commits
   * and lease expiries.
   */
  readonly waitForWork?: WaitForWork
}

const text = (value: unknown): string => JSON.stringify(value, null, 2)

/** The contract's error document of any failure (the queue's mapping, shared by every face). */
export { toErrorBody } from "@abathur/queue"

/** What MCP adds to the queue's messages: the tool that helps. */
const McpHints: FaceHints = {
  TaskNotFound: "find task ids with task_list"
}

/** A tool result for a finished operation: the document, or a tool error carrying the Error JSON. */
export const toToolResult = (exit: Exit.Exit<object, unknown>): CallToolResult =>
  Exit.isSuccess(exit)
    ? { content: [{ type: "text", text: text(exit.value) }], structuredContent: exit.value as Record<string, unknown> }
    : { content: [{ type: "text", text: text(causeErrorBody(exit.cause, McpHints)) }], isError: true }

/**
 * An MCP server with the contract's tools (`toolDefinitions`: `task_enqueue`, `task_plan_submit`,
 * `task_get`, `task_list`, `task_claim`, `task_heartbeat`, `task_complete`, `task_fail`,
 * `task_release`, `task_cancel`, `task_retry`, `task_queue_status`, `task_execution_plan`, ...).
 * Connect it to any transport: stdio (`serveStdio`) or streamable HTTP.
 */
export const makeMcpServer = (options: McpServerOptions): McpServer => {
  const server = new McpServer(
    { name: options.name ?? "abathur", version: options.version ?? VERSION },
    {
      capabilities: { tools: {} },
      instructions:
        "Abathur is a task queue for swarms of agents. Submit work with task_enqueue or task_plan_submit, " +
        "claim it with task_claim, and report with task_complete or task_fail (passing the claim's leaseToken). " +
        'Errors come back as {"error": {"_tag", "message"}}.'
    }
  )
  const context: ToolContext = { waitForWork: options.waitForWork ?? pollForWork() }
  for (const tool of toolDefinitions) {
    server.registerTool(
      tool.name,
      {
        title: tool.title,
        description: tool.description,
        inputSchema: advertisedSchema(tool.schema, tool.schemaName),
        outputSchema: advertisedOutput(tool.output),
        annotations: { title: tool.title, readOnlyHint: tool.readOnly, openWorldHint: false }
      },
      async (args: ToolArguments) => toToolResult(await options.run(callTool(tool, args, context)))
    )
  }
  return server
}

export interface StdioOptions {
  readonly stdin?: NodeJS.ReadableStream & { pause(): unknown }
  readonly stdout?: NodeJS.WritableStream
}

/**
 * Serves `server` over stdio until the client closes stdin (or the transport closes);
 * resolves once the server is closed.
 */
export const serveStdio = async (server: McpServer, options: StdioOptions = {}): Promise<void> => {
  const stdin = options.stdin ?? process.stdin
  const transport = new StdioServerTransport(
    stdin as ConstructorParameters<typeof StdioServerTransport>[0],
    (options.stdout ?? process.stdout) as ConstructorParameters<typeof StdioServerTransport>[1]
  )
  const closed = new Promise<void>((resolve) => {
    transport.onclose = () => resolve()
    stdin.once("end", () => resolve())
    stdin.once("close", () => resolve())
  })
  await server.connect(transport)
  await closed
  await server.close()
}
