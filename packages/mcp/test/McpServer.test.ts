import { QueueConfig, TaskQueue } from "@abathur/queue"
import { Database, TaskRepository } from "@abathur/storage"
import { tempDir } from "@abathur/testing/vitest"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js"
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js"
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js"
import { Effect, Layer, ManagedRuntime } from "effect"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { join } from "node:path"
import { beforeEach, describe, expect, it } from "vitest"
import { makeMcpServer, toolDefinitions, type WaitForWork } from "../src/index.js"

const ToolNames = [
  "task_enqueue",
  "task_plan_submit",
  "task_get",
  "task_list",
  "task_claim",
  "task_complete",
  "task_fail",
  "task_cancel",
  "task_queue_status",
  "task_execution_plan",
  "task_heartbeat",
  "task_release",
  "task_retry",
  "task_dependency_add",
  "task_dependency_remove"
]

/** Every property of every object schema in a JSON Schema document (nested, and under $defs), with its path. */
const propertiesOf = (node: unknown, path = "#"): Array<{ path: string; schema: Record<string, unknown> }> => {
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

interface Harness {
  readonly client: Client
  readonly call: (name: string, args?: Record<string, unknown>) => Promise<CallToolResult>
  readonly ok: (name: string, args?: Record<string, unknown>) => Promise<any>
  readonly err: (name: string, args?: Record<string, unknown>) => Promise<{ _tag: string; message: string; [k: string]: unknown }>
  readonly close: () => Promise<void>
}

let dir: string

const open = async (env: { maxDependencies?: number; waitForWork?: WaitForWork } = {}): Promise<Harness> => {
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

describe("makeMcpServer", () => {
  it("lists the contract's tools with JSON schemas derived from the domain", async () => {
    const h = await open()
    try {
      const { tools } = await h.client.listTools()
      expect(tools.map((t) => t.name).sort()).toEqual([...ToolNames].sort())
      expect(toolDefinitions).toHaveLength(ToolNames.length)
      const enqueue = tools.find((t) => t.name === "task_enqueue")!
      const props = enqueue.inputSchema.properties as Record<string, { type?: string; enum?: Array<string>; maximum?: number }>
      expect(enqueue.inputSchema.required).toEqual(["prompt"])
      expect(props["priority"]?.maximum).toBe(10)
      expect(props["source"]?.enum).toEqual(["human", "agent_requirements", "agent_planner", "agent_implementation"])
      expect((enqueue.inputSchema as Record<string, unknown>)["additionalProperties"]).toBe(false)
      const complete = tools.find((t) => t.name === "task_complete")!
      expect(Object.keys(complete.inputSchema.properties ?? {})).toContain("taskId")
      expect(complete.inputSchema.required).toContain("taskId")
      const list = tools.find((t) => t.name === "task_list")!
      const status = (list.inputSchema.properties as Record<string, { type?: string; items?: { enum?: Array<string> } }>)["status"]
      expect(status?.type).toBe("array")
      expect(status?.items?.enum).toContain("ready")
      const plan = tools.find((t) => t.name === "task_plan_submit")!
      expect(plan.inputSchema.required).toEqual(["tasks"])
      const claim = tools.find((t) => t.name === "task_claim")!
      expect(claim.annotations?.readOnlyHint).toBe(false)
      expect(tools.find((t) => t.name === "task_get")!.annotations?.readOnlyHint).toBe(true)
    } finally {
      await h.close()
    }
  })

  it("submits, claims and completes a plan in dependency order", async () => {
    const h = await open()
    try {
      const root = await h.ok("task_enqueue", { prompt: "Ship the feature", source: "human", priority: 8 })
      expect(root.status).toBe("ready")
      const plan = await h.ok("task_plan_submit", {
        tasks: [
          { key: "design", prompt: "Design it", parentTaskId: root.id, source: "agent_planner" },
          { key: "build", prompt: "Build it", parentTaskId: root.id, dependsOn: ["design"] },
          { key: "test", prompt: "Test it", parentTaskId: root.id, dependsOn: ["build"] }
        ]
      })
      expect(Object.keys(plan.tasks).sort()).toEqual(["build", "design", "test"])
      expect(plan.tasks.build.status).toBe("blocked")
      const execution = await h.ok("task_execution_plan", { taskIds: [plan.tasks.test.id] })
      expect(execution.batches).toEqual([[plan.tasks.design.id], [plan.tasks.build.id], [plan.tasks.test.id]])
      expect(execution.totalBatches).toBe(3)

      // The human's task first (higher priority), then the plan in order.
      const first = await h.ok("task_claim", { worker: "w1" })
      expect(first.task.id).toBe(root.id)
      expect(first.task.leaseToken).toEqual(expect.any(String))
      const order: Array<string> = []
      for (;;) {
        const claimed = await h.ok("task_claim", { worker: "w1", leaseSeconds: 60 })
        if (claimed.task === null) break
        order.push(claimed.task.id)
        const done = await h.ok("task_complete", {
          taskId: claimed.task.id,
          leaseToken: claimed.task.leaseToken,
          result: { ok: true }
        })
        expect(done.task.status).toBe("completed")
        expect(done.task.leaseToken).toBeUndefined()
      }
      expect(order).toEqual([plan.tasks.design.id, plan.tasks.build.id, plan.tasks.test.id])
      const got = await h.ok("task_get", { taskId: plan.tasks.test.id })
      expect(got.resultData).toEqual({ ok: true })
      expect(got.prerequisites).toEqual([expect.objectContaining({ taskId: plan.tasks.build.id, resolvedAt: expect.any(String) })])
      expect(got.priorityBreakdown).toEqual(expect.objectContaining({ base: expect.any(Number), source: expect.any(Number) }))
      const status = await h.ok("task_queue_status")
      expect(status.total).toBe(4)
      expect(status.byStatus.completed).toBe(3)
      expect(status.byStatus.running).toBe(1)
      const list = await h.ok("task_list", { status: ["completed"] })
      expect(list.tasks).toHaveLength(3)
      const parentList = await h.ok("task_list", { parentTaskId: root.id, limit: 2 })
      expect(parentList.tasks).toHaveLength(2)
    } finally {
      await h.close()
    }
  })

  it("claims several tasks with limit, and completes one while claiming the next", async () => {
    const h = await open()
    try {
      const ids: Array<string> = []
      for (const priority of [9, 8, 7, 1]) ids.push((await h.ok("task_enqueue", { prompt: `p${priority}`, priority })).id)
      const two = await h.ok("task_claim", { worker: "w", limit: 2 })
      expect(Object.keys(two)).toEqual(["tasks"])
      expect(two.tasks.map((t: { id: string }) => t.id)).toEqual([ids[0], ids[1]])
      expect(two.tasks[1].leaseToken).toEqual(expect.any(String))
      const done = await h.ok("task_complete", { taskId: ids[0], leaseToken: two.tasks[0].leaseToken, next: { worker: "w" } })
      expect(done.task.status).toBe("completed")
      expect(done.next).toEqual(expect.objectContaining({ id: ids[2], status: "running", leaseToken: expect.any(String) }))
      const last = await h.ok("task_complete", { taskId: ids[2], leaseToken: done.next.leaseToken, next: {} })
      expect(last.next.id).toBe(ids[3])
      const end = await h.ok("task_complete", { taskId: ids[3], leaseToken: last.next.leaseToken, next: {} })
      expect(end.next).toBeNull()
      expect(await h.ok("task_claim", { limit: 3 })).toEqual({ tasks: [] })
      expect((await h.err("task_claim", { limit: 101 }))._tag).toBe("ValidationError")
      const forced = await h.ok("task_complete", { taskId: ids[1], force: true })
      expect(forced.task.status).toBe("completed")
    } finally {
      await h.close()
    }
  })

  it("fails with retries, then cancels dependents; cancel cascades", async () => {
    const h = await open()
    try {
      const a = await h.ok("task_enqueue", { prompt: "a", maxRetries: 1, retryBackoffSeconds: 0 })
      const b = await h.ok("task_enqueue", { prompt: "b", dependsOn: [a.id] })
      let claimed = await h.ok("task_claim", {})
      const first = await h.ok("task_fail", { taskId: a.id, error: "boom", leaseToken: claimed.task.leaseToken })
      expect(first.retried).toBe(true)
      expect(first.task.status).toBe("ready")
      claimed = await h.ok("task_claim", {})
      // Without the token a RUNNING task is refused; an operator's force goes through.
      const refused = await h.err("task_fail", { taskId: a.id, error: "boom again" })
      expect(refused).toEqual(expect.objectContaining({ _tag: "LeaseMismatch", taskId: a.id }))
      expect(refused.message).toContain("force")
      const second = await h.ok("task_fail", { taskId: a.id, error: "boom again", force: true })
      expect(second.retried).toBe(false)
      expect(second.cancelled).toEqual([b.id])
      const c = await h.ok("task_enqueue", { prompt: "c" })
      const d = await h.ok("task_enqueue", { prompt: "d", dependsOn: [c.id] })
      const cancelled = await h.ok("task_cancel", { taskId: c.id })
      expect(cancelled.task.status).toBe("cancelled")
      expect(cancelled.cancelled).toEqual([d.id])
      const none = await h.ok("task_claim", { waitSeconds: 0.3 })
      expect(none).toEqual({ task: null })
    } finally {
      await h.close()
    }
  })

  it("describes every input property of every tool, and names shared schemas readably", async () => {
    const h = await open()
    try {
      const { tools } = await h.client.listTools()
      for (const tool of tools) {
        expect(tool.description?.length, tool.name).toBeGreaterThan(20)
        const props = propertiesOf(tool.inputSchema)
        if (tool.name !== "task_queue_status") expect(props.length, tool.name).toBeGreaterThan(0)
        for (const p of props) {
          const d = p.schema["description"]
          expect(typeof d === "string" && d.length > 10 ? "described" : `${tool.name} ${p.path} has no description`).toBe("described")
        }
        expect(JSON.stringify(tool.inputSchema), tool.name).not.toMatch(/__schema\d/)
      }
      const plan = tools.find((t) => t.name === "task_plan_submit")!
      const defs = (plan.inputSchema as { $defs?: Record<string, { properties?: Record<string, { description?: string }> }> }).$defs ?? {}
      expect(Object.keys(defs).sort()).toEqual(["JsonValue", "PlanNode"])
      expect(defs["PlanNode"]?.properties?.["dependsOn"]?.description).toContain("by key")
      const claim = tools.find((t) => t.name === "task_claim")!
      expect((claim.inputSchema.properties as Record<string, { description?: string }>)["agentType"]?.description).toBe(
        "Only claim tasks for this kind of agent."
      )
    } finally {
      await h.close()
    }
  })

  it("an unknown argument is a ValidationError that lists the accepted ones, and changes nothing", async () => {
    const h = await open()
    try {
      const e = await h.err("task_claim", { wroker: "me" })
      expect(e._tag).toBe("ValidationError")
      expect(e.message).toBe(
        'unknown argument "wroker" for task_claim: remove it or fix the spelling (accepted: worker, leaseSeconds, agentType, waitSeconds, limit)'
      )
      const t = await h.ok("task_enqueue", { prompt: "x" })
      const two = await h.err("task_get", { taskId: t.id, verbose: true, depth: 2 })
      expect(two.message).toContain('unknown arguments "verbose", "depth" for task_get')
      expect(two.message).toContain("(accepted: taskId)")
      expect((await h.err("task_queue_status", { all: true })).message).toContain("(accepted: none)")
      expect((await h.err("task_cancel", { taskId: t.id, reason: "why" })).message).toContain("accepted: taskId")
      expect((await h.err("task_plan_submit", { tasks: [{ key: "a", prompt: "a" }], parent: t.id })).message).toContain("accepted: tasks")
      // Nothing was claimed or cancelled.
      expect((await h.ok("task_get", { taskId: t.id })).status).toBe("ready")
      expect((await h.ok("task_queue_status")).total).toBe(1)
    } finally {
      await h.close()
    }
  })

  it("task_heartbeat renews a lease, task_release gives the task back, task_retry revives a failed task", async () => {
    const h = await open()
    try {
      const a = await h.ok("task_enqueue", { prompt: "flaky", maxRetries: 0 })
      const b = await h.ok("task_enqueue", { prompt: "after flaky", dependsOn: [a.id] })
      const { task } = await h.ok("task_claim", { worker: "agent", leaseSeconds: 30 })
      expect(task.id).toBe(a.id)
      const renewed = await h.ok("task_heartbeat", { taskId: a.id, leaseToken: task.leaseToken, leaseSeconds: 600 })
      expect(renewed.leaseToken).toBe(task.leaseToken)
      expect(Date.parse(renewed.leaseExpiresAt)).toBeGreaterThan(Date.parse(task.leaseExpiresAt))
      expect((await h.err("task_heartbeat", { taskId: a.id, leaseToken: "stale" }))._tag).toBe("LeaseMismatch")
      const released = await h.ok("task_release", { taskId: a.id, leaseToken: task.leaseToken })
      expect(released).toEqual(expect.objectContaining({ id: a.id, status: "ready", retryCount: 0 }))
      expect(released).not.toHaveProperty("leaseToken")
      expect((await h.err("task_release", { taskId: a.id }))._tag).toBe("InvalidTransition")
      const again = await h.ok("task_claim", {})
      const failed = await h.ok("task_fail", { taskId: a.id, leaseToken: again.task.leaseToken, error: "boom" })
      expect(failed.cancelled).toEqual([b.id])
      const retried = await h.ok("task_retry", { taskId: a.id })
      expect(retried).toEqual({ task: expect.objectContaining({ id: a.id, status: "ready", errorMessage: null }), revived: [b.id] })
      expect((await h.err("task_retry", { taskId: a.id }))._tag).toBe("InvalidTransition")
    } finally {
      await h.close()
    }
  })

  it("answers bad input with tool errors carrying the contract's error document", async () => {
    const h = await open({ maxDependencies: 1 })
    try {
      expect((await h.err("task_enqueue", { prompt: "x", priority: 11 }))._tag).toBe("ValidationError")
      expect((await h.err("task_enqueue", {}))._tag).toBe("ValidationError")
      expect((await h.err("task_enqueue", { prompt: "x", bogus: 1 })).message).toContain("bogus")
      expect((await h.err("task_enqueue", { prompt: "x", source: "robot" })).message).toContain("robot")
      expect((await h.err("task_get", { taskId: "nope" }))._tag).toBe("ValidationError")
      expect((await h.err("task_get", {}))._tag).toBe("ValidationError")
      const missing = "3f2b8c1e-9d4a-4f6b-8e2a-1c5d7e9f0a2b"
      const notFound = await h.err("task_get", { taskId: missing })
      expect(notFound).toEqual(expect.objectContaining({ _tag: "TaskNotFound", taskId: missing }))
      expect((await h.err("task_list", { status: ["bogus"] }))._tag).toBe("ValidationError")
      const cycle = await h.err("task_plan_submit", {
        tasks: [
          { key: "a", prompt: "a", dependsOn: ["b"] },
          { key: "b", prompt: "b", dependsOn: ["a"] }
        ]
      })
      expect(cycle._tag).toBe("DependencyCycle")
      expect(cycle["cycle"]).toEqual(expect.arrayContaining(["a", "b"]))
      const x = await h.ok("task_enqueue", { prompt: "x" })
      const y = await h.ok("task_enqueue", { prompt: "y" })
      const limit = await h.err("task_enqueue", { prompt: "z", dependsOn: [x.id, y.id] })
      expect(limit).toEqual(expect.objectContaining({ _tag: "LimitExceeded", limit: "dependencies", max: 1, actual: 2 }))
      const blocked = await h.ok("task_enqueue", { prompt: "w", dependsOn: [x.id] })
      expect((await h.err("task_complete", { taskId: blocked.id }))._tag).toBe("InvalidTransition")
      const claimed = await h.ok("task_claim", {})
      const stale = await h.err("task_complete", { taskId: claimed.task.id, leaseToken: "not-the-token" })
      expect(stale._tag).toBe("LeaseMismatch")
      expect((await h.err("task_fail", { taskId: claimed.task.id }))._tag).toBe("ValidationError")
      expect((await h.err("task_cancel", { taskId: claimed.task.id, extra: true }))._tag).toBe("ValidationError")
      expect((await h.err("task_claim", { waitSeconds: 100 }))._tag).toBe("ValidationError")
      // Nothing of the rejected calls was stored.
      const status = await h.ok("task_queue_status")
      expect(status.total).toBe(3)
    } finally {
      await h.close()
    }
  })
})

describe("task_claim with waitSeconds and a host's work signal", () => {
  /** A signal the test fires by hand: records how often it was taken and what each wait was given. */
  const manualSignal = () => {
    const state = { taken: 0, waits: [] as Array<number>, fire: undefined as ((go: boolean) => void) | undefined, scopes: 0, closed: 0 }
    const waitForWork: WaitForWork = Effect.acquireRelease(
      Effect.sync(() => {
        state.scopes++
      }),
      () =>
        Effect.sync(() => {
          state.closed++
        })
    ).pipe(
      Effect.as({
        next: Effect.sync(() => {
          state.taken++
          return (millis: number) =>
            Effect.async<boolean>((resume) => {
              state.waits.push(millis)
              state.fire = (go) => resume(Effect.succeed(go))
            })
        })
      })
    )
    return { state, waitForWork }
  }

  const until = async (ok: () => boolean) => {
    for (let i = 0; i < 1_000 && !ok(); i++) await new Promise((r) => setTimeout(r, 5))
    expect(ok()).toBe(true)
  }

  it("waits on the signal (taken before each attempt) and returns the task made ready meanwhile", async () => {
    const { state, waitForWork } = manualSignal()
    const h = await open({ waitForWork })
    try {
      const pending = h.ok("task_claim", { worker: "agent", waitSeconds: 30 })
      await until(() => state.fire !== undefined)
      expect(state).toMatchObject({ taken: 1, scopes: 1, closed: 0 })
      expect(state.waits[0]).toBeGreaterThan(0)
      expect(state.waits[0]).toBeLessThanOrEqual(30_000)
      const task = await h.ok("task_enqueue", { prompt: "wake the agent" })
      state.fire!(true)
      const claimed = await pending
      expect(claimed.task).toMatchObject({ id: task.id, status: "running" })
      expect(typeof claimed.task.leaseToken).toBe("string")
      expect(state).toMatchObject({ taken: 2, scopes: 1, closed: 1 })
      // Without waitSeconds the signal is not used.
      expect(await h.ok("task_claim", {})).toEqual({ task: null })
      expect(state.scopes).toBe(1)
    } finally {
      await h.close()
    }
  })

  it("a wait that answers false ends the claim with no task; a ready task is claimed without waiting", async () => {
    const { state, waitForWork } = manualSignal()
    const h = await open({ waitForWork })
    try {
      const pending = h.ok("task_claim", { waitSeconds: 30 })
      await until(() => state.fire !== undefined)
      state.fire!(false)
      expect(await pending).toEqual({ task: null })
      expect(state.closed).toBe(1)
      const task = await h.ok("task_enqueue", { prompt: "already there" })
      expect((await h.ok("task_claim", { waitSeconds: 30 })).task.id).toBe(task.id)
      expect(state.waits).toHaveLength(1)
    } finally {
      await h.close()
    }
  })

  it("without a signal (stdio) it polls, and still finds a task submitted while it waits", async () => {
    const h = await open()
    try {
      const pending = h.ok("task_claim", { waitSeconds: 20 })
      await new Promise((r) => setTimeout(r, 300))
      const task = await h.ok("task_enqueue", { prompt: "found by polling" })
      expect((await pending).task.id).toBe(task.id)
    } finally {
      await h.close()
    }
  })
})

describe("over streamable HTTP", () => {
  it("serves the same tools, one stateless server per request", async () => {
    const layer = TaskQueue.layer.pipe(
      Layer.provideMerge(TaskRepository.layer),
      Layer.provideMerge(Database.layer({ filename: join(dir, "http.db") })),
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

describe("hierarchy tools (December 2026)", () => {
  it("describes every new input property, and dependsOn items as ids or edge objects", async () => {
    const h = await open()
    try {
      const { tools } = await h.client.listTools()
      const props = (name: string) => tools.find((t) => t.name === name)!.inputSchema.properties as Record<string, Record<string, unknown>>
      for (const name of ["notBefore", "idempotencyKey", "retryBackoffSeconds", "dependsOn"]) {
        expect(typeof props("task_enqueue")[name]?.["description"], name).toBe("string")
      }
      const items = props("task_enqueue")["dependsOn"]!["items"] as { anyOf: Array<Record<string, unknown>> }
      expect(items.anyOf.map((i) => i["type"])).toEqual(["string", "object"])
      expect(Object.keys(items.anyOf[1]!["properties"] as object).sort()).toEqual(["dependencyType", "id", "onFailure"])
      expect(typeof props("task_plan_submit")["idempotencyKey"]?.["description"]).toBe("string")
      for (const tool of ["task_dependency_add", "task_dependency_remove"]) {
        for (const [name, p] of Object.entries(props(tool))) expect(typeof p["description"], `${tool}.${name}`).toBe("string")
      }
      expect(Object.keys(props("task_dependency_add")).sort()).toEqual(["dependencyType", "onFailure", "prerequisiteId", "taskId"])
      const plan = JSON.stringify(tools.find((t) => t.name === "task_plan_submit")!.inputSchema)
      // The plan's nodes (a recursive definition) describe their fields too.
      expect(plan).toContain("Nodes (by key) or existing tasks (by id) this one waits for, each with all of its subtasks")
    } finally {
      await h.close()
    }
  })

  it("adds an edge with onFailure and removes it; the dependent becomes ready; a missing edge is TaskNotFound", async () => {
    const h = await open()
    try {
      const a = await h.ok("task_enqueue", { prompt: "a" })
      const b = await h.ok("task_enqueue", { prompt: "b" })
      const added = await h.ok("task_dependency_add", { taskId: b.id, prerequisiteId: a.id, onFailure: "ignore" })
      expect(added.status).toBe("blocked")
      expect(added.prerequisites).toEqual([expect.objectContaining({ taskId: a.id, onFailure: "ignore", resolvedAt: null })])
      const removed = await h.ok("task_dependency_remove", { taskId: b.id, prerequisiteId: a.id })
      expect(removed.status).toBe("ready")
      expect(removed.prerequisites).toEqual([])
      expect((await h.err("task_dependency_remove", { taskId: b.id, prerequisiteId: a.id }))._tag).toBe("TaskNotFound")
      expect((await h.err("task_dependency_remove", { taskId: b.id, prerequisiteId: a.id, force: true })).message).toContain("force")
      expect((await h.err("task_dependency_add", { taskId: b.id, prerequisiteId: a.id, onFailure: "maybe" }))._tag).toBe("ValidationError")
    } finally {
      await h.close()
    }
  })

  it("defaults source to agent_planner for MCP submits; an idempotent retry returns the same task", async () => {
    const h = await open()
    try {
      const t = await h.ok("task_enqueue", { prompt: "from an agent", idempotencyKey: "k-1" })
      expect(t.source).toBe("agent_planner")
      expect((await h.ok("task_enqueue", { prompt: "from an agent", source: "human" })).source).toBe("human")
      const again = await h.ok("task_enqueue", { prompt: "from an agent", idempotencyKey: "k-1" })
      expect(again.id).toBe(t.id)
      const conflict = await h.err("task_enqueue", { prompt: "something else", idempotencyKey: "k-1" })
      expect(conflict).toMatchObject({ _tag: "IdempotencyConflict", taskId: t.id })
      const plan = await h.ok("task_plan_submit", { idempotencyKey: "p-1", tasks: [{ key: "x", prompt: "X" }] })
      expect(plan.tasks.x.source).toBe("agent_planner")
      expect((await h.ok("task_plan_submit", { idempotencyKey: "p-1", tasks: [{ key: "x", prompt: "X" }] })).tasks.x.id).toBe(plan.tasks.x.id)
      expect((await h.ok("task_list", {})).tasks).toHaveLength(3)
    } finally {
      await h.close()
    }
  })
})
