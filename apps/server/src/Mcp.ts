import { makeMcpServer, type RunEffect } from "@abathur/mcp"
import type { TaskQueue } from "@abathur/queue"
import { HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js"
import { Effect, Runtime } from "effect"
import { readJson } from "./Body.js"
import { waitForWork } from "./Wakeup.js"

/** Request headers that describe the body the server already read, not the message. */
const dropped = new Set(["content-length", "transfer-encoding", "connection", "keep-alive", "expect"])

/**
 * `/mcp`: the MCP tools over streamable HTTP, stateless. Every request gets its own MCP server
 * and transport (the SDK's pattern for stateless servers) with JSON answers; the tools run on
 * this server's queue service. The body was read (and size-checked) by the server already.
 */
export const handleMcp = (version: string) =>
  Effect.gen(function* () {
    const request = yield* HttpServerRequest.HttpServerRequest
    const runtime = yield* Effect.runtime<TaskQueue>()
    const body = request.method === "POST" ? yield* readJson : undefined
    const run: RunEffect = (effect) => Runtime.runPromiseExit(runtime)(effect)
    const server = makeMcpServer({ run, name: "abathur", version, waitForWork: yield* waitForWork })
    const transport = new WebStandardStreamableHTTPServerTransport({ enableJsonResponse: true }) // no sessionIdGenerator: stateless
    const headers = new Headers()
    for (const [k, v] of Object.entries(request.headers)) if (!dropped.has(k)) headers.set(k, v)
    // The Host header was checked before any route, but the SDK needs no host: never parse one here.
    const webRequest = new Request(new URL(request.url, "http://localhost"), {
      method: request.method,
      headers
    })
    return yield* Effect.acquireUseRelease(
      Effect.promise(() => server.connect(transport)),
      () =>
        Effect.promise(async () => {
          const response = await transport.handleRequest(webRequest, body === undefined ? {} : { parsedBody: body })
          const text = response.body === null ? "" : await response.text()
          const out: Record<string, string> = {}
          response.headers.forEach((v, k) => {
            if (k !== "content-length") out[k] = v
          })
          return text === ""
            ? HttpServerResponse.empty({ status: response.status, headers: out })
            : HttpServerResponse.text(text, {
                status: response.status,
                headers: out,
                contentType: response.headers.get("content-type") ?? "application/json"
              })
        }),
      () => Effect.promise(() => server.close())
    )
  })
