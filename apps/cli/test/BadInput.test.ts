import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { beforeAll, describe, expect, it } from "vitest"
import { MISSING_ID, Sandbox, type Task } from "./support/Cli.js"

/**
 * Bad input of every kind: each gets the contract's tag and exit code, the Error JSON on stderr
 * (nothing on stdout) with --json, one line on stderr without it, and leaves the database unchanged.
 *
 * It stays whole (issue 12): most of it is one table of cases over one fixture, and the check that
 * the database reads the same after all of them belongs with that table. Unicode storage and
 * unusable database files are in DatabaseFiles.test.ts.
 */

interface Fixture {
  readonly s: Sandbox
  /** ready */
  readonly a: Task
  /** blocked on a */
  readonly b: Task
  /** running, claimed with `token` */
  readonly r: Task
  readonly token: string
  /** failed for good */
  readonly f: Task
  /** completed */
  readonly d: Task
  /** a parent with one subtask */
  readonly p: Task
  readonly baseline: { dump: string; status: string; list: string }
  readonly planFile: (name: string, content: unknown) => string
}

let fx: Fixture

beforeAll(async () => {
  const s = new Sandbox()
  const f = await s.submit("Fails for good", "--priority", "10", "--max-retries", "0")
  expect((await s.json<Task>(["next"])).id).toBe(f.id)
  await s.json(["fail", f.id, "--error", "broken", "--force"])
  const d = await s.submit("Done", "--priority", "10")
  expect((await s.json<Task>(["next"])).id).toBe(d.id)
  await s.json(["complete", d.id, "--force"])
  const r = await s.submit("Running", "--priority", "10")
  const claimed = await s.json<Task>(["next", "--worker", "w1"])
  expect(claimed.id).toBe(r.id)
  const a = await s.submit("Ready")
  const b = await s.submit("Blocked", "--depends-on", a.id)
  const p = await s.submit("Parent")
  await s.submit("Only child", "--parent", p.id)
  const status = (await s.run(["status", "--json"])).stdout
  const list = (await s.run(["list", "--json"])).stdout
  const planFile = (name: string, content: unknown) => {
    const file = join(s.dir, name)
    writeFileSync(file, typeof content === "string" ? content : JSON.stringify(content))
    return file
  }
  fx = { s, a, b, r, token: claimed.leaseToken!, f, d, p, baseline: { dump: s.dump()!, status, list }, planFile }
})

interface Case {
  readonly name: string
  readonly args: (fx: Fixture) => Array<string>
  readonly tag: string
  readonly code: number
  readonly env?: Readonly<Record<string, string>>
  readonly input?: string
  readonly check?: (error: Record<string, unknown>, fx: Fixture) => void
}

const cases: ReadonlyArray<Case> = [
  // submit
  {
    name: "priority 11",
    args: () => ["submit", "x", "--priority", "11"],
    tag: "ValidationError",
    code: 2,
    check: (e) => expect(e["message"]).toContain("0 to 10")
  },
  { name: "negative priority", args: () => ["submit", "x", "--priority", "-1"], tag: "ValidationError", code: 2 },
  { name: "priority that is not a number", args: () => ["submit", "x", "--priority", "high"], tag: "ValidationError", code: 2 },
  { name: "fractional priority", args: () => ["submit", "x", "--priority", "2.5"], tag: "ValidationError", code: 2 },
  { name: "empty prompt", args: () => ["submit", "  "], tag: "ValidationError", code: 2, check: (e) => expect(e["message"]).toContain("prompt") },
  { name: "no prompt at all", args: () => ["submit"], tag: "ValidationError", code: 2 },
  {
    name: "unknown source",
    args: () => ["submit", "x", "--source", "robot"],
    tag: "ValidationError",
    code: 2,
    check: (e) => expect(e["message"]).toContain("robot")
  },
  { name: "unknown dependency type", args: () => ["submit", "x", "--dependency-type", "diagonal"], tag: "ValidationError", code: 2 },
  { name: "bad prerequisite id", args: () => ["submit", "x", "--depends-on", "not-a-uuid"], tag: "ValidationError", code: 2 },
  {
    name: "missing prerequisite",
    args: () => ["submit", "x", "--depends-on", MISSING_ID],
    tag: "TaskNotFound",
    code: 3,
    check: (e) => expect(e["taskId"]).toBe(MISSING_ID)
  },
  { name: "missing parent", args: () => ["submit", "x", "--parent", MISSING_ID], tag: "TaskNotFound", code: 3 },
  { name: "failed prerequisite", args: (fx) => ["submit", "x", "--depends-on", fx.f.id], tag: "InvalidTransition", code: 4 },
  { name: "deadline that is not a time", args: () => ["submit", "x", "--deadline", "tomorrow"], tag: "ValidationError", code: 2 },
  {
    name: "malformed --input JSON",
    args: () => ["submit", "x", "--input", "{repo: api}"],
    tag: "ValidationError",
    code: 2,
    check: (e) => expect(e["message"]).toContain("--input")
  },
  { name: "--input that is not an object", args: () => ["submit", "x", "--input", "[1, 2]"], tag: "ValidationError", code: 2 },
  { name: "negative max retries", args: () => ["submit", "x", "--max-retries", "-2"], tag: "ValidationError", code: 2 },
  { name: "zero timeout", args: () => ["submit", "x", "--timeout", "0"], tag: "ValidationError", code: 2 },
  { name: "flag without its value", args: () => ["submit", "x", "--priority"], tag: "ValidationError", code: 2 },
  {
    name: "unknown flag",
    args: () => ["submit", "x", "--urgent"],
    tag: "ValidationError",
    code: 2,
    check: (e) => expect(e["message"]).toContain("--urgent")
  },
  { name: "unknown command", args: () => ["enqueue", "x"], tag: "ValidationError", code: 2 },
  // limits
  {
    name: "too many prerequisites",
    args: (fx) => ["submit", "x", "--depends-on", fx.a.id, "--depends-on", fx.d.id],
    env: { ABATHUR_MAX_DEPENDENCIES: "1" },
    tag: "LimitExceeded",
    code: 4,
    check: (e) => expect(e).toMatchObject({ limit: "dependencies", max: 1, actual: 2 })
  },
  {
    name: "too deep",
    args: (fx) => ["submit", "x", "--depends-on", fx.b.id],
    env: { ABATHUR_MAX_DEPTH: "1" },
    tag: "LimitExceeded",
    code: 4,
    check: (e) => expect(e).toMatchObject({ limit: "depth", max: 1, actual: 2 })
  },
  {
    name: "too many subtasks",
    args: (fx) => ["submit", "x", "--parent", fx.p.id],
    env: { ABATHUR_MAX_SUBTASKS: "1" },
    tag: "LimitExceeded",
    code: 4,
    check: (e) => expect(e).toMatchObject({ limit: "subtasks", max: 1, actual: 2 })
  },
  { name: "a limit that is not a number", args: () => ["status"], env: { ABATHUR_MAX_DEPTH: "deep" }, tag: "ValidationError", code: 2 },
  // plan files
  {
    name: "plan file that does not exist",
    args: (fx) => ["submit", "--file", join(fx.s.dir, "nope.json")],
    tag: "ValidationError",
    code: 2,
    check: (e) => expect(e["message"]).toContain("nope.json")
  },
  {
    name: "plan file with malformed JSON",
    args: (fx) => ["submit", "--file", fx.planFile("bad.json", '{"tasks": [')],
    tag: "ValidationError",
    code: 2
  },
  { name: "plan on stdin with malformed JSON", args: () => ["submit", "--file", "-"], input: "not json", tag: "ValidationError", code: 2 },
  {
    name: "plan node without a key",
    args: (fx) => ["submit", "--file", fx.planFile("nokey.json", { tasks: [{ prompt: "x" }] })],
    tag: "ValidationError",
    code: 2
  },
  {
    name: "plan node with an unknown field",
    args: (fx) => ["submit", "--file", fx.planFile("unknown.json", { tasks: [{ key: "k", prompt: "x", colour: "red" }] })],
    tag: "ValidationError",
    code: 2,
    check: (e) => expect(e["message"]).toContain("colour")
  },
  {
    name: "plan with a duplicate key",
    args: (fx) => [
      "submit",
      "--file",
      fx.planFile("dup.json", {
        tasks: [
          { key: "k", prompt: "x" },
          { key: "k", prompt: "y" }
        ]
      })
    ],
    tag: "ValidationError",
    code: 2
  },
  {
    name: "plan with a cycle",
    args: (fx) => [
      "submit",
      "--file",
      fx.planFile("cycle.json", {
        tasks: [
          { key: "a", prompt: "a", dependsOn: ["c"] },
          { key: "b", prompt: "b", dependsOn: ["a"] },
          { key: "c", prompt: "c", dependsOn: ["b"] }
        ]
      })
    ],
    tag: "DependencyCycle",
    code: 4,
    check: (e) => {
      const cycle = e["cycle"] as Array<string>
      expect(cycle[0]).toBe(cycle.at(-1))
      expect(new Set(cycle)).toEqual(new Set(["a", "b", "c"]))
      expect(cycle).toHaveLength(4)
    }
  },
  {
    name: "plan depending on a missing task",
    args: (fx) => ["submit", "--file", fx.planFile("missing.json", { tasks: [{ key: "k", prompt: "x", dependsOn: [MISSING_ID] }] })],
    tag: "TaskNotFound",
    code: 3
  },
  {
    name: "plan over the subtask limit",
    args: (fx) => [
      "submit",
      "--file",
      fx.planFile("wide.json", {
        tasks: [
          {
            key: "top",
            prompt: "t",
            children: [
              { key: "c1", prompt: "1" },
              { key: "c2", prompt: "2" }
            ]
          }
        ]
      })
    ],
    env: { ABATHUR_MAX_SUBTASKS: "1" },
    tag: "LimitExceeded",
    code: 4
  },
  {
    name: "plan file with task flags",
    args: (fx) => ["submit", "--file", fx.planFile("ok.json", { tasks: [{ key: "k", prompt: "x" }] }), "--priority", "3"],
    tag: "ValidationError",
    code: 2
  },
  // reading
  { name: "show with a bad id", args: () => ["show", "42"], tag: "ValidationError", code: 2 },
  { name: "show a missing task", args: () => ["show", MISSING_ID], tag: "TaskNotFound", code: 3 },
  {
    name: "list with an unknown status",
    args: () => ["list", "--status", "done"],
    tag: "ValidationError",
    code: 2,
    check: (e) => expect(e["message"]).toContain("done")
  },
  { name: "list excluding an unknown status", args: () => ["list", "--exclude-status", "finished"], tag: "ValidationError", code: 2 },
  { name: "list with limit 0", args: () => ["list", "--limit", "0"], tag: "ValidationError", code: 2 },
  { name: "list by an unknown source", args: () => ["list", "--source", "robot"], tag: "ValidationError", code: 2 },
  { name: "plan for a missing task", args: () => ["plan", MISSING_ID], tag: "TaskNotFound", code: 3 },
  { name: "tree of a bad id", args: () => ["tree", "nope"], tag: "ValidationError", code: 2 },
  {
    name: "graph in an unknown format",
    args: () => ["graph", "--format", "png"],
    tag: "ValidationError",
    code: 2,
    check: (e) => expect(e["message"]).toContain("png")
  },
  // dependencies
  {
    name: "dependency that closes a cycle",
    args: (fx) => ["deps", "add", fx.a.id, fx.b.id],
    tag: "DependencyCycle",
    code: 4,
    check: (e, fx) => expect(e["cycle"]).toEqual([fx.a.id, fx.b.id, fx.a.id])
  },
  { name: "task depending on itself", args: (fx) => ["deps", "add", fx.a.id, fx.a.id], tag: "DependencyCycle", code: 4 },
  { name: "dependency of an unknown type", args: (fx) => ["deps", "add", fx.b.id, fx.d.id, "--type", "weak"], tag: "ValidationError", code: 2 },
  { name: "dependency for a running task", args: (fx) => ["deps", "add", fx.r.id, fx.a.id], tag: "InvalidTransition", code: 4 },
  { name: "dependency on a failed task", args: (fx) => ["deps", "add", fx.a.id, fx.f.id], tag: "InvalidTransition", code: 4 },
  { name: "dependency on a missing task", args: (fx) => ["deps", "add", fx.a.id, MISSING_ID], tag: "TaskNotFound", code: 3 },
  { name: "deps without a subcommand", args: () => ["deps"], tag: "ValidationError", code: 2 },
  // the worker's commands
  {
    name: "complete a blocked task",
    args: (fx) => ["complete", fx.b.id],
    tag: "InvalidTransition",
    code: 4,
    check: (e, fx) => expect(e).toMatchObject({ taskId: fx.b.id, status: "blocked" })
  },
  { name: "complete a task nobody claimed", args: (fx) => ["complete", fx.a.id], tag: "InvalidTransition", code: 4 },
  {
    name: "complete a running task without its lease token",
    args: (fx) => ["complete", fx.r.id],
    tag: "LeaseMismatch",
    code: 4,
    check: (e, fx) => {
      expect(e).toMatchObject({ taskId: fx.r.id })
      expect(e["message"]).toContain("--force")
    }
  },
  { name: "fail a running task without its lease token", args: (fx) => ["fail", fx.r.id, "--error", "x"], tag: "LeaseMismatch", code: 4 },
  { name: "next with a limit over 100", args: () => ["next", "--limit", "101"], tag: "ValidationError", code: 2 },
  {
    name: "complete with --worker but without --next",
    args: (fx) => ["complete", fx.r.id, "--lease-token", fx.token, "--worker", "w"],
    tag: "ValidationError",
    code: 2
  },
  {
    name: "complete with a stale lease token",
    args: (fx) => ["complete", fx.r.id, "--lease-token", "0b7f6a9e-5a2c-4e3b-9d1f-8c7e6b5a4d3c"],
    tag: "LeaseMismatch",
    code: 4
  },
  {
    name: "complete with a malformed result",
    args: (fx) => ["complete", fx.r.id, "--lease-token", fx.token, "--result", "{ok}"],
    tag: "ValidationError",
    code: 2
  },
  {
    name: "fail without an error text",
    args: (fx) => ["fail", fx.r.id, "--lease-token", fx.token],
    tag: "ValidationError",
    code: 2,
    check: (e) => expect(e["message"]).toContain("error")
  },
  { name: "fail with a stale lease token", args: (fx) => ["fail", fx.r.id, "--error", "x", "--lease-token", "stale"], tag: "LeaseMismatch", code: 4 },
  { name: "heartbeat with a stale lease token", args: (fx) => ["heartbeat", fx.r.id, "--lease-token", "stale"], tag: "LeaseMismatch", code: 4 },
  { name: "heartbeat of a task that is not running", args: (fx) => ["heartbeat", fx.a.id], tag: "InvalidTransition", code: 4 },
  { name: "next with a zero lease", args: () => ["next", "--lease", "0"], tag: "ValidationError", code: 2 },
  { name: "cancel a completed task", args: (fx) => ["cancel", fx.d.id], tag: "InvalidTransition", code: 4 },
  { name: "retry a task that did not fail", args: (fx) => ["retry", fx.a.id], tag: "InvalidTransition", code: 4 },
  { name: "retry a missing task", args: () => ["retry", MISSING_ID], tag: "TaskNotFound", code: 3 },
  // maintenance and options
  { name: "prune with a bad age", args: () => ["prune", "--older-than", "5 years"], tag: "ValidationError", code: 2 },
  { name: "prune of open tasks", args: () => ["prune", "--status", "ready"], tag: "ValidationError", code: 2 },
  { name: "an unknown log level", args: () => ["status", "--log-level", "loud"], tag: "ValidationError", code: 2 },
  { name: "an unknown log level in the environment", args: () => ["status"], env: { ABATHUR_LOG_LEVEL: "loud" }, tag: "ValidationError", code: 2 },
  { name: "db without a subcommand", args: () => ["db"], tag: "ValidationError", code: 2 },
  // bounds (CONTRACT "Bounds"): durations, JSON depth, lone surrogates
  {
    name: "the poison timeout 2^53 - 1",
    args: () => ["submit", "poison", "--timeout", "9007199254740991", "--priority", "10"],
    tag: "ValidationError",
    code: 2,
    check: (e) => expect(e["message"]).toBe("maxExecutionTimeoutSeconds: maxExecutionTimeoutSeconds must be at most 604800 (7 days)")
  },
  { name: "a timeout of 7 days and 1 s", args: () => ["submit", "x", "--timeout", "604801"], tag: "ValidationError", code: 2 },
  {
    name: "an estimate over 365 days",
    args: () => ["submit", "x", "--estimate", "31536001"],
    tag: "ValidationError",
    code: 2,
    check: (e) => expect(e["message"]).toContain("at most 31536000")
  },
  {
    name: "a deadline past the year 9999",
    args: () => ["submit", "x", "--deadline", "9999-12-31T23:00:00-05:00"],
    tag: "ValidationError",
    code: 2,
    check: (e) => expect(e["message"]).toContain("out of range")
  },
  {
    name: "next with a lease of 2^53 - 1 s",
    args: () => ["next", "--lease", "9007199254740991"],
    tag: "ValidationError",
    code: 2,
    check: (e) => expect(e["message"]).toContain("at most 604800")
  },
  {
    name: "heartbeat with a lease of 1e13 s",
    args: (fx) => ["heartbeat", fx.r.id, "--lease-token", fx.token, "--lease", "1e13"],
    tag: "ValidationError",
    code: 2,
    check: (e) => expect(e["message"]).toContain("at most 604800")
  },
  {
    name: "prune older than 10^14 weeks",
    args: () => ["prune", "--older-than", "99999999999999w"],
    tag: "ValidationError",
    code: 2,
    check: (e) => expect(e["message"]).toContain("too old")
  },
  {
    name: "--input nested 65 levels",
    args: () => ["submit", "x", "--input", `${'{"a":'.repeat(64)}{}${"}".repeat(64)}`],
    tag: "ValidationError",
    code: 2,
    check: (e) => expect(e["message"]).toContain("more than 64 levels deep")
  },
  {
    name: "a result nested 60,000 levels (as much as one argument holds)",
    args: (fx) => ["complete", fx.r.id, "--lease-token", fx.token, "--result", `${"[".repeat(60_000)}${"]".repeat(60_000)}`],
    tag: "ValidationError",
    code: 2,
    check: (e) => expect(e["message"]).toContain("result: JSON nested more than 64 levels deep")
  },
  {
    name: "a plan whose inputData is nested 200,000 levels",
    args: (fx) => [
      "submit",
      "--file",
      fx.planFile("deep.json", `{"tasks": [{"key": "k", "prompt": "x", "inputData": {"d": ${"[".repeat(200_000)}${"]".repeat(200_000)}}}]}`)
    ],
    tag: "ValidationError",
    code: 2,
    check: (e) => expect(e["message"]).toContain("more than 64 levels deep")
  },
  {
    name: "a lone surrogate in --input (a JSON escape)",
    args: () => ["submit", "x", "--input", '{"note": "half an emoji \\ud83d"}'],
    tag: "ValidationError",
    code: 2,
    check: (e) => expect(e["message"]).toContain("inputData.note: text holds a lone UTF-16 surrogate (U+D83D")
  },
  {
    name: "a lone surrogate in a --result key",
    args: (fx) => ["complete", fx.r.id, "--lease-token", fx.token, "--result", '{"\\udc00": 1}'],
    tag: "ValidationError",
    code: 2,
    check: (e) => expect(e["message"]).toContain("lone UTF-16 surrogate")
  },
  {
    name: "a lone surrogate in a plan's prompt",
    args: (fx) => ["submit", "--file", fx.planFile("surrogate.json", '{"tasks": [{"key": "k", "prompt": "cut \\ud83d here"}]}')],
    tag: "ValidationError",
    code: 2,
    check: (e) => expect(e["message"]).toContain("tasks.0.prompt: prompt holds a lone UTF-16 surrogate")
  },
  {
    name: "a lone surrogate in a plan's summary",
    args: (fx) => ["submit", "--file", fx.planFile("surrogate2.json", '{"tasks": [{"key": "k", "prompt": "x", "summary": "\\ude00"}]}')],
    tag: "ValidationError",
    code: 2
  }
]

describe.concurrent("bad input leaves the database unchanged", () => {
  for (const c of cases) {
    it(`${c.name}: ${c.tag} (exit ${c.code})`, async () => {
      const error = await fx.s.fails(c.args(fx), c.tag, c.code, { ...(c.env && { env: c.env }), ...(c.input !== undefined && { input: c.input }) })
      c.check?.(error, fx)
      expect(fx.s.dump()).toBe(fx.baseline.dump)
    })
  }

  it("without --json: one line on stderr saying what is wrong, nothing on stdout", async () => {
    const samples = [
      cases[0]!,
      cases.find((c) => c.tag === "DependencyCycle")!,
      cases.find((c) => c.tag === "LeaseMismatch")!,
      cases.find((c) => c.tag === "TaskNotFound")!
    ]
    for (const c of samples) {
      const r = await fx.s.run(c.args(fx), { ...(c.env && { env: c.env }), ...(c.input !== undefined && { input: c.input }) })
      expect(r.code).toBe(c.code)
      expect(r.stdout).toBe("")
      expect(r.stderr.trimEnd().split("\n")).toHaveLength(1)
      expect(r.stderr).toMatch(new RegExp(`^error ${c.tag}: .+`))
    }
  })
})

describe("the database is unchanged after all of it", () => {
  it("status and list read the same as before", async () => {
    // Runs after the concurrent block (files run their describe blocks in order).
    expect(fx.s.dump()).toBe(fx.baseline.dump)
    expect((await fx.s.run(["status", "--json"])).stdout).toBe(fx.baseline.status)
    // A waiting task's score is read at the moment of listing (it grows while the task waits):
    // the rest of every task reads the same.
    const unscored = (json: string) => (JSON.parse(json) as Array<Record<string, unknown>>).map(({ calculatedPriority: _p, ...rest }) => rest)
    expect(unscored((await fx.s.run(["list", "--json"])).stdout)).toEqual(unscored(fx.baseline.list))
    expect(fx.baseline.status.length).toBeGreaterThan(10)
  })
})
