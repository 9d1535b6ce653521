import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { FakeServer } from "./support/FakeServer.js"
import { startRealServer } from "./support/RealServer.js"
import { summaryOf, WorkSandbox } from "./support/Work.js"

/**
 * `abathur work --server URL`: the worker over the HTTP API, against a stand-in server (which
 * records every request) and against the real `abathur-server` (apps/server/dist/main.js, built
 * before this package's tests: it is a dev dependency).
 */

const servers: Array<FakeServer> = []
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()))
})

const serve = async (token: string | null) => {
  const server = new FakeServer(token)
  servers.push(server)
  return { server, url: await server.start() }
}

describe("abathur work --server", () => {
  it.concurrent("claims by long poll with the bearer token, and reports outcomes over HTTP", async () => {
    const { server, url } = await serve("s3cret")
    const ok = server.add("say hi")
    const bad = server.add("break", 0)
    const s = new WorkSandbox()
    s.file(
      "child.mjs",
      `
const e = process.env
if (e.ABATHUR_TASK_PROMPT === "break") { process.stderr.write("it broke\\n"); process.exit(1) }
console.log(JSON.stringify({ server: e.ABATHUR_SERVER, id: e.ABATHUR_TASK_ID, db: e.ABATHUR_DB ?? null }))
`
    )
    const worker = s.start(["work", "--server", url, "-n", "2", "--exec", "node child.mjs", "--json"], { ABATHUR_TOKEN: "s3cret" })
    // An idle worker waits in a long poll; a task added meanwhile is claimed at once.
    const late = await new Promise<ReturnType<FakeServer["add"]>>((resolve) => setTimeout(() => resolve(server.add("late")), 1500))
    const until = Date.now() + 20_000
    while ([ok, bad, late].some((t) => t.status === "ready" || t.status === "running") && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 50))
    }
    worker.signal("SIGTERM")
    expect(summaryOf(await worker.done)).toEqual({ completed: 2, failed: 1, retried: 0, timedOut: 0 })
    expect(ok.resultData).toEqual({ server: url, id: ok.id, db: null })
    expect(late.status).toBe("completed")
    expect(bad.status).toBe("failed")
    expect(bad.errorMessage).toBe("it broke\n")
    expect(server.seen.every((r) => r.authorization === "Bearer s3cret")).toBe(true)
    const claims = server.seen.filter((r) => r.path === "/v1/claims")
    expect(claims.some((r) => r.body.waitSeconds > 0)).toBe(true)
    // Long polls, not a busy loop: a handful of claims over the idle seconds (a busy loop would
    // make hundreds; the bound leaves room for a slow machine).
    expect(claims.length).toBeLessThan(40)
  })

  it.concurrent("exits once the server has nothing ready or running with --until-empty", async () => {
    const { server, url } = await serve(null)
    for (let i = 0; i < 5; i++) server.add(`task ${i}`)
    const s = new WorkSandbox()
    const summary = summaryOf(await s.run(["work", "--server", url, "-n", "3", "--until-empty", "--exec", "true", "--json"]))
    expect(summary).toEqual({ completed: 5, failed: 0, retried: 0, timedOut: 0 })
    // Three free slots: one claim of up to three; each completion asks for the slot's next task.
    const claims = server.seen.filter((r) => r.path === "/v1/claims")
    expect(claims[0]!.body.limit).toBe(3)
    const completes = server.seen.filter((r) => r.path.endsWith("/complete"))
    expect(completes.filter((r) => r.body.next !== undefined).length).toBeGreaterThanOrEqual(2)
    expect(completes.every((r) => typeof r.body.leaseToken === "string")).toBe(true)
  })

  it.concurrent("stops with an error when the server refuses the token", async () => {
    const { url } = await serve("right")
    // Several at once: the worker exits while its spawner helper may still be starting, and that
    // helper once crashed on the closed channel (an EPIPE stack after the Error document).
    const runs = await Promise.all(
      Array.from({ length: 6 }, () => new WorkSandbox().run(["work", "--server", url, "--exec", "true", "--json"], { ABATHUR_TOKEN: "wrong" }))
    )
    for (const r of runs) {
      expect(r.code).toBe(1)
      expect(r.stdout).toBe("")
      const lines = r.stderr.trim().split("\n")
      expect(lines).toHaveLength(1)
      expect(JSON.parse(lines[0]!).error.message).toMatch(/ABATHUR_TOKEN/)
    }
  })

  it.concurrent("works for the real abathur-server: token, dependencies, results and failures over HTTP", async () => {
    const s = new WorkSandbox()
    const url = await startRealServer(join(s.dir, "server.db"), { ABATHUR_TOKEN: "s3cret" })
    const api = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(new URL(path, url), {
        method,
        headers: { authorization: "Bearer s3cret", ...(body === undefined ? {} : { "content-type": "application/json" }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) })
      })
      return { status: res.status, body: (await res.json()) as any }
    }
    const tasks = [
      { key: "first", prompt: "first" },
      { key: "second", prompt: "second", dependsOn: ["first"] },
      { key: "break", prompt: "break", maxRetries: 1 },
      ...Array.from({ length: 5 }, (_, i) => ({ key: `free${i}`, prompt: `free ${i}` }))
    ]
    const plan = await api("POST", "/v1/plans", { tasks })
    expect(plan.status).toBe(201)
    const id = (key: string): string => plan.body.tasks[key].id
    s.file(
      "child.mjs",
      `
import { appendFileSync, readFileSync } from "node:fs"
const task = JSON.parse(readFileSync(0, "utf8"))
const e = process.env
appendFileSync("events.log", "start " + task.id + "\\n")
if (task.prompt === "break") { process.stderr.write("it broke\\n"); process.exit(1) }
await new Promise((r) => setTimeout(r, 100))
appendFileSync("events.log", "end " + task.id + "\\n")
console.log(JSON.stringify({ server: e.ABATHUR_SERVER, id: e.ABATHUR_TASK_ID, db: e.ABATHUR_DB ?? null }))
`
    )
    const r = await s.run(["work", "--server", url, "-n", "3", "--until-empty", "--exec", "node child.mjs", "--json"], { ABATHUR_TOKEN: "s3cret" })
    expect(summaryOf(r)).toEqual({ completed: 7, failed: 1, retried: 1, timedOut: 0 })
    const all = await Promise.all(tasks.map((t) => api("GET", `/v1/tasks/${id(t.key)}`)))
    for (const [i, t] of tasks.entries()) {
      const task = all[i]!.body.task ?? all[i]!.body
      if (t.key === "break") {
        expect(task.status).toBe("failed")
        expect(task.errorMessage).toBe("it broke\n")
        expect(task.retryCount).toBe(1)
      } else {
        expect(task.status).toBe("completed")
        expect(task.resultData).toEqual({ server: url, id: id(t.key), db: null })
      }
    }
    // The dependent ran after its prerequisite had ended.
    const events = s.lines("events.log").map(([kind, taskId]) => `${kind} ${taskId}`)
    expect(events.indexOf(`start ${id("second")}`)).toBeGreaterThan(events.indexOf(`end ${id("first")}`))
    expect(events.filter((e) => e.startsWith("start"))).toHaveLength(9)
    // Without the token the server refuses the worker, which stops with the server's error.
    const refused = await s.run(["work", "--server", url, "--exec", "true", "--json"])
    expect(refused.code).toBe(1)
    expect(JSON.parse(refused.stderr.trim().split("\n")[0]!).error.message).toMatch(/ABATHUR_TOKEN/)
  })
})
