import { afterAll, describe, expect, it } from "vitest"
import { FakeServer } from "./support/FakeServer.js"
import { summaryOf, WorkSandbox } from "./support/Work.js"

/** `abathur work --server URL`: the worker over the HTTP API (against a stand-in server). */

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
    const late = await new Promise<ReturnType<FakeServer["add"]>>((resolve) =>
      setTimeout(() => resolve(server.add("late")), 1500)
    )
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
    // Long polls, not a busy loop: a handful of claims over the idle seconds.
    expect(claims.length).toBeLessThan(20)
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
})
