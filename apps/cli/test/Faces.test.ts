/**
 * The same queue through its three faces (the CLI, the HTTP server, MCP on stdio), on one database:
 * the same failure gives the same tag and the same message (each face may add its own hint after
 * it), the same plan is adopted under a parent, and MCP advertises the domain's output schemas.
 */
import { PlanResult, TaskDetail } from "@abathur/domain"
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type ErrorDoc, MISSING_ID, Sandbox, type Task } from "./support/Cli.js"
import { connect } from "./support/McpClient.js"
import { startRealServer } from "./support/RealServer.js"

const s = new Sandbox()
let url = ""
let mcp: Awaited<ReturnType<typeof connect>>
beforeAll(async () => {
  await s.submit("the database exists before the server opens it")
  url = await startRealServer(s.db, {})
  mcp = await connect(s)
}, 120_000)
afterAll(async () => {
  await mcp.close()
})

const http = async (method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> => {
  const r = await fetch(`${url}${path}`, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) })
  })
  const text = await r.text()
  return { status: r.status, body: text === "" ? null : JSON.parse(text) }
}

/** The same failure through the three faces: the CLI's, the server's and the MCP tool's Error JSON. */
const everywhere = async (cli: [ReadonlyArray<string>, number], route: [string, string, unknown?], tool: [string, Record<string, unknown>]) => {
  const [args, code] = cli
  const [method, path, body] = route
  const r = await http(method, path, body)
  const fromHttp = (r.body as { error: ErrorDoc }).error
  const fromCli = await s.fails(args, fromHttp._tag, code)
  const fromMcp = await mcp.err(tool[0], tool[1])
  return { cli: fromCli, http: fromHttp, mcp: fromMcp, status: r.status }
}

describe("one error document for the three faces", () => {
  it("a missing task: TaskNotFound with the same message; the CLI and MCP add their own hint, HTTP none", async () => {
    const e = await everywhere([["show", MISSING_ID], 3], ["GET", `/v1/tasks/${MISSING_ID}`], ["task_get", { taskId: MISSING_ID }])
    expect(e.status).toBe(404)
    const core = `task ${MISSING_ID} does not exist`
    expect(e.http).toEqual({ _tag: "TaskNotFound", message: core, taskId: MISSING_ID })
    expect(e.cli).toEqual({ _tag: "TaskNotFound", message: `${core}: check the id with \`abathur list\``, taskId: MISSING_ID })
    expect(e.mcp).toEqual({ _tag: "TaskNotFound", message: `${core}: find task ids with task_list`, taskId: MISSING_ID })
  })

  it("a state that forbids the change (complete a READY task): InvalidTransition, word for word", async () => {
    const t = await s.submit("not claimed")
    const e = await everywhere(
      [["complete", t.id, "--force"], 4],
      ["POST", `/v1/tasks/${t.id}/complete`, { force: true }],
      ["task_complete", { taskId: t.id, force: true }]
    )
    expect(e.status).toBe(409)
    expect(e.http._tag).toBe("InvalidTransition")
    expect(e.cli).toEqual(e.http)
    expect(e.mcp).toEqual(e.http)
  })

  it("bad input: ValidationError, word for word", async () => {
    const e = await everywhere(
      [["submit", "too important", "--priority", "11"], 2],
      ["POST", "/v1/tasks", { prompt: "too important", priority: 11 }],
      ["task_enqueue", { prompt: "too important", priority: 11 }]
    )
    expect(e.status).toBe(400)
    expect(e.http._tag).toBe("ValidationError")
    expect(e.cli.message).toBe(e.http.message)
    expect(e.mcp.message).toBe(e.http.message)
  })
})

describe("the same rules behind every face", () => {
  it("a plan adopted under a parent: CLI --parent, HTTP and MCP parentTaskId give the same tree", async () => {
    const parent = await s.submit("the parent")
    const plan = { tasks: [{ key: "a", prompt: "a", children: [{ key: "a1", prompt: "a1" }] }] }
    writeFileSync(join(s.dir, "plan.json"), JSON.stringify(plan))
    const viaCli = await s.json<{ tasks: Record<string, Task> }>(["submit", "--file", "plan.json", "--parent", parent.id])
    const viaHttp = await http("POST", "/v1/plans", { ...plan, parentTaskId: parent.id })
    expect(viaHttp.status).toBe(201)
    const viaMcp = await mcp.ok("task_plan_submit", { ...plan, parentTaskId: parent.id })
    for (const result of [viaCli, viaHttp.body, viaMcp]) {
      const { tasks } = PlanResult.parse(result)
      expect(tasks["a"]!.parentTaskId).toBe(parent.id)
      expect(tasks["a1"]!.parentTaskId).toBe(tasks["a"]!.id)
    }
    const children = (await s.json<{ children: Array<string> }>(["show", parent.id])).children
    expect(children.sort()).toEqual([viaCli.tasks["a"]!.id, viaHttp.body.tasks["a"].id, viaMcp.tasks["a"].id].sort())
  })

  it("MCP advertises the domain's output schemas, and its answers, the server's and the CLI's follow them", async () => {
    const { tools } = await mcp.client.listTools()
    const get = tools.find((t) => t.name === "task_get")!
    const shown = JSON.stringify(get.outputSchema)
    for (const field of ["priorityExplanation", "priorityBreakdown", "subtree", "prerequisites"]) expect(shown).toContain(`"${field}"`)
    for (const t of tools) expect(t.outputSchema, t.name).toBeDefined()
    const t = await s.submit("explained")
    for (const detail of [await s.json(["show", t.id]), (await http("GET", `/v1/tasks/${t.id}`)).body, await mcp.ok("task_get", { taskId: t.id })]) {
      const parsed = TaskDetail.safeParse(detail)
      expect(parsed.success, JSON.stringify(parsed.error?.issues)).toBe(true)
      expect(detail.priorityExplanation.weights).toEqual({ base: 1, urgency: 2, dependency: 1.5, starvation: 0.5, source: 1 })
    }
  })
})
