import BetterSqlite3 from "better-sqlite3"
import { spawnSync } from "node:child_process"
import { existsSync, readdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { CLI, run, Sandbox, type Task, tempDir } from "./support/Cli.js"

describe("status, plan, tree, graph", () => {
  it("status: counts, averages and the oldest waiting task", async () => {
    const s = new Sandbox()
    const empty = await s.json(["status"])
    expect(empty).toEqual({
      total: 0,
      byStatus: { pending: 0, blocked: 0, ready: 0, running: 0, completed: 0, failed: 0, cancelled: 0 },
      avgPriority: null,
      maxDepth: null,
      oldestWaitingAt: null
    })
    const a = await s.submit("A")
    await s.submit("B", "--depends-on", a.id)
    await s.json(["next"])
    const st = await s.json(["status"])
    expect(Object.keys(st)).toEqual(["total", "byStatus", "avgPriority", "maxDepth", "oldestWaitingAt"])
    expect(st.total).toBe(2)
    expect(st.byStatus).toMatchObject({ running: 1, blocked: 1 })
    expect(st.maxDepth).toBe(1)
    expect(typeof st.avgPriority).toBe("number")
    expect(Date.parse(st.oldestWaitingAt)).toBeGreaterThan(0)
    const text = await s.text(["status"])
    expect(text).toContain(`Abathur queue  ${s.db}`)
    expect(text).toMatch(/◌ blocked 1 +● ready 0 +▶ running 1/)
    expect(text).toMatch(/total 2 +open 2 +done 0/)
    expect(text).toMatch(/avg priority [\d.]+ +max depth 1 +oldest waiting \d+s ago/)
  })

  it("plan: batches in dependency order, for all open tasks or named ones", async () => {
    const s = new Sandbox()
    const a = await s.submit("A")
    const b = await s.submit("B", "--depends-on", a.id)
    const c = await s.submit("C", "--depends-on", a.id)
    const d = await s.submit("D", "--depends-on", b.id, "--depends-on", c.id)
    const lone = await s.submit("Lone")
    const p = await s.json(["plan"])
    expect(Object.keys(p)).toEqual(["batches", "totalBatches", "maxParallelism"])
    expect(p.totalBatches).toBe(3)
    expect(p.batches.map((x: Array<string>) => [...x].sort())).toEqual([[a.id, lone.id].sort(), [b.id, c.id].sort(), [d.id]])
    expect(p.maxParallelism).toBe(2)
    const named = await s.json(["plan", b.id])
    expect(named.batches).toEqual([[a.id], [b.id]])
    const text = await s.text(["plan"])
    expect(text).toMatch(/^3 batches at most 2 in parallel/)
    expect(text).toContain("Batch 1 (2 tasks)")
    expect(text).toMatch(new RegExp(`Batch 3 \\(1 task\\)\\n +◌ blocked +${d.id} +D`))
  })

  it("tree: the forest, or one task's hierarchy, drawn with box characters", async () => {
    const s = new Sandbox()
    const root = await s.submit("Root")
    const c1 = await s.submit("Child one", "--parent", root.id)
    const c2 = await s.submit("Child two", "--parent", root.id)
    const g = await s.submit("Grandchild", "--parent", c1.id)
    const other = await s.submit("Other root")
    const forest = await s.json(["tree"])
    expect(Array.isArray(forest)).toBe(true)
    expect(forest.map((n: { task: Task }) => n.task.id)).toEqual([root.id, other.id])
    expect(Object.keys(forest[0])).toEqual(["task", "subtree", "children"])
    expect(forest[0].children.map((n: { task: Task }) => n.task.id)).toEqual([c1.id, c2.id])
    expect(forest[0].children[0].children[0].task.id).toBe(g.id)
    const one = await s.json(["tree", c1.id])
    expect(one.task.id).toBe(c1.id)
    expect(one.children).toHaveLength(1)
    const text = await s.text(["tree"])
    const lines = text.trimEnd().split("\n")
    expect(lines[0]).toMatch(/^● Root +\[ready\]/)
    expect(lines[1]).toMatch(/^├─ ● Child one/)
    expect(lines[2]).toMatch(/^│ {2}└─ ● Grandchild/)
    expect(lines[3]).toMatch(/^└─ ● Child two/)
    expect(lines[4]).toMatch(/^● Other root/)
  })

  it("graph: Mermaid by default, DOT on request, {format, text} with --json", async () => {
    const s = new Sandbox()
    const a = await s.submit("A")
    const b = await s.submit('B "quoted"', "--depends-on", a.id)
    const mermaid = await s.text(["graph"])
    expect(mermaid.startsWith("flowchart TD\n")).toBe(true)
    expect(mermaid).toContain(`t${a.id.replaceAll("-", "")} -.-> t${b.id.replaceAll("-", "")}`)
    const dot = await s.text(["graph", "--format", "dot"])
    expect(dot.startsWith("digraph abathur {")).toBe(true)
    expect(dot).toContain(`"${a.id}" -> "${b.id}" [style=dashed];`)
    const j = await s.json(["graph", a.id, "--format", "dot"])
    expect(Object.keys(j)).toEqual(["format", "text"])
    expect(j.format).toBe("dot")
    expect(j.text).toBe(dot)
    expect((await s.json(["graph"])).format).toBe("mermaid")
  })
})

describe("large queues", () => {
  it("a plan of 3,000 tasks, listed in full, and a reader that leaves early", async () => {
    const s = new Sandbox({ ABATHUR_MAX_DEPTH: "0" })
    const tasks = Array.from({ length: 3000 }, (_, i) => ({ key: `k${i}`, prompt: `Task ${i}`, dependsOn: i % 10 === 0 ? [] : [`k${i - 1}`] }))
    const file = join(s.dir, "big.json")
    writeFileSync(file, JSON.stringify({ tasks }))
    const submitted = await s.json<{ tasks: Record<string, Task> }>(["submit", "--file", file])
    expect(Object.keys(submitted.tasks)).toHaveLength(3000)
    const started = Date.now()
    const text = await s.text(["list"])
    expect(Date.now() - started).toBeLessThan(20_000)
    const lines = text.trimEnd().split("\n")
    expect(lines).toHaveLength(3002)
    expect(lines.at(-1)).toBe("3000 tasks")
    // `abathur list | head -1` ends quietly with exit 0.
    const piped = spawnSync("bash", ["-c", `set -o pipefail; "${process.execPath}" "${CLI}" --db "${s.db}" list | head -1`], { encoding: "utf8" })
    expect(piped.stdout).toMatch(/^ID +STATUS/)
    expect(piped.stderr).toBe("")
    expect(piped.status).toBe(0)
  })
})

describe("maintenance", () => {
  it("recover: expired leases go back to ready", async () => {
    const s = new Sandbox()
    expect(await s.json(["recover"])).toEqual({ recovered: [] })
    expect(await s.text(["recover"])).toBe("No expired leases.\n")
    const a = await s.submit("A")
    await s.json(["next", "--lease", "1"])
    await new Promise((r) => setTimeout(r, 1100))
    expect(await s.json(["recover"])).toEqual({ recovered: [a.id] })
    const t = await s.json<Task>(["show", a.id])
    expect(t.status).toBe("ready")
    // A stall, not a failed attempt: no retry spent.
    expect(t.retryCount).toBe(0)
    expect((t as Task & { stallCount: number }).stallCount).toBe(1)
    await s.json(["next", "--lease", "1"])
    await new Promise((r) => setTimeout(r, 1100))
    expect(await s.text(["recover"])).toContain(`Recovered 1 expired lease:\n  · ${a.id}`)
  })

  it("prune: old terminal tasks, dry run first; kept references stay", async () => {
    const s = new Sandbox()
    const a = await s.submit("A")
    const b = await s.submit("B", "--depends-on", a.id)
    const c = await s.submit("C")
    await s.json(["cancel", c.id])
    await s.json(["next"])
    await s.json(["complete", a.id, "--force"])
    expect(await s.json(["prune"])).toEqual({ deleted: 0, ids: [] })
    const dry = await s.json(["prune", "--older-than", "0s", "--dry-run"])
    // A is referenced by B (open), so only C goes.
    expect(dry).toEqual({ deleted: 1, ids: [c.id] })
    expect(await s.text(["prune", "--older-than", "0s", "--dry-run"])).toContain("Would delete 1 task (dry run)")
    expect(await s.json(["prune", "--older-than", "0s", "--status", "completed"])).toEqual({ deleted: 0, ids: [] })
    expect(await s.text(["prune", "--older-than", "0s"])).toContain(`Deleted 1 task\n  · ${c.id}`)
    expect((await s.json<Array<Task>>(["list"])).map((t) => t.id).sort()).toEqual([a.id, b.id].sort())
  })

  it("db migrate: a new database, then a legacy one with a backup beside it", async () => {
    const s = new Sandbox()
    const fresh = await s.json(["db", "migrate"])
    expect(Object.keys(fresh)).toEqual(["fromVersion", "toVersion", "backup"])
    expect(fresh.backup).toBeNull()
    expect(fresh.toVersion).toBeGreaterThanOrEqual(2)
    const again = await s.json(["db", "migrate"])
    expect(again).toEqual({ fromVersion: fresh.toVersion, toVersion: fresh.toVersion, backup: null })
    expect(await s.text(["db", "migrate"])).toContain(`Up to date: ${s.db} is at schema version ${fresh.toVersion}`)

    // The seed's version 1: a tasks table and nothing else.
    const dir = tempDir()
    const legacy = join(dir, "legacy.db")
    const db = new BetterSqlite3(legacy)
    db.exec(`CREATE TABLE tasks (
      id TEXT PRIMARY KEY, prompt TEXT NOT NULL, agent_type TEXT NOT NULL DEFAULT 'general',
      priority INTEGER NOT NULL DEFAULT 5,
      status TEXT NOT NULL CHECK(status IN ('pending', 'running', 'completed', 'failed', 'cancelled')),
      input_data TEXT NOT NULL, result_data TEXT, error_message TEXT, retry_count INTEGER DEFAULT 0,
      max_retries INTEGER DEFAULT 3, max_execution_timeout_seconds INTEGER DEFAULT 3600,
      submitted_at TIMESTAMP NOT NULL, started_at TIMESTAMP, completed_at TIMESTAMP,
      last_updated_at TIMESTAMP NOT NULL, created_by TEXT, parent_task_id TEXT, dependencies TEXT, session_id TEXT,
      FOREIGN KEY (parent_task_id) REFERENCES tasks(id))`)
    const insert = db.prepare(
      "INSERT INTO tasks (id, prompt, status, input_data, submitted_at, last_updated_at, dependencies) VALUES (?, ?, ?, '{}', '2025-10-10 12:00:00', '2025-10-10 12:00:00', ?)"
    )
    insert.run("00000000-0000-4000-8000-000000000001", "Old done", "completed", null)
    insert.run("00000000-0000-4000-8000-000000000002", "Old waiting", "pending", '["00000000-0000-4000-8000-000000000001"]')
    db.close()
    const r = await run(["--db", legacy, "--json", "db", "migrate"], { cwd: dir })
    expect(r.code).toBe(0)
    const m = JSON.parse(r.stdout)
    expect(m.fromVersion).toBe(1)
    expect(m.toVersion).toBe(fresh.toVersion)
    expect(m.backup).toMatch(/legacy\.db\.backup-v1-\d{8}T\d{6}Z$/)
    expect(existsSync(m.backup)).toBe(true)
    expect(readdirSync(dir).filter((f) => f.includes(".backup-v1-"))).toHaveLength(1)
    const tasks = JSON.parse((await run(["--db", legacy, "list", "--json"])).stdout) as Array<Task>
    expect(tasks.find((t) => t.prompt === "Old waiting")!.status).toBe("ready")
  })

  it("db check: integrity, foreign keys, schema version", async () => {
    const s = new Sandbox()
    await s.submit("A")
    const c = await s.json(["db", "check"])
    expect(Object.keys(c)).toEqual(["integrity", "foreignKeyViolations", "schemaVersion"])
    expect(c).toMatchObject({ integrity: "ok", foreignKeyViolations: [] })
    expect(c.schemaVersion).toBeGreaterThanOrEqual(2)
    const text = await s.text(["db", "check"])
    expect(text).toContain("✔ healthy")
    expect(text).toMatch(/integrity +ok/)
  })
})

describe("global options, help and logs", () => {
  it("--db and --json work before and after the command; ABATHUR_DB and the default path", async () => {
    const s = new Sandbox()
    await s.submit("A")
    const before = await run(["--db", s.db, "--json", "status"])
    const after = await run(["status", "--db", s.db, "--json"])
    const mixed = await run(["--json", "status", "--db", s.db])
    for (const r of [before, after, mixed]) {
      expect(r.code).toBe(0)
      expect(JSON.parse(r.stdout).total).toBe(1)
    }
    const viaEnv = await run(["status", "--json"], { env: { ABATHUR_DB: s.db } })
    expect(JSON.parse(viaEnv.stdout).total).toBe(1)
    // The flag wins over the environment; after the command wins over before it.
    const other = join(s.dir, "other.db")
    expect(JSON.parse((await run(["status", "--json", "--db", other], { env: { ABATHUR_DB: s.db } })).stdout).total).toBe(0)
    expect(JSON.parse((await run(["--db", s.db, "status", "--db", other, "--json"])).stdout).total).toBe(0)
    const cwd = tempDir()
    const dflt = await run(["submit", "In the default database", "--json"], { cwd })
    expect(dflt.code).toBe(0)
    expect(existsSync(join(cwd, ".abathur", "abathur.db"))).toBe(true)
  })

  it("--help on every command, with an example; no command prints the overview", async () => {
    const commands = [
      ["submit"],
      ["show"],
      ["list"],
      ["next"],
      ["heartbeat"],
      ["complete"],
      ["fail"],
      ["cancel"],
      ["retry"],
      ["deps", "add"],
      ["status"],
      ["plan"],
      ["tree"],
      ["graph"],
      ["recover"],
      ["prune"],
      ["db", "migrate"],
      ["db", "check"],
      ["mcp"]
    ]
    const results = await Promise.all(commands.map((c) => run([...c, "--help"])))
    results.forEach((r, i) => {
      expect({ command: commands[i], code: r.code }).toEqual({ command: commands[i], code: 0 })
      expect(r.stdout).toContain("Example")
      expect(r.stdout).toContain(`$ abathur ${commands[i]!.join(" ")}`)
      expect(r.stdout).not.toMatch(/\u001b\[/)
    })
    for (const args of [[], ["--help"], ["-h"]]) {
      const r = await run(args)
      expect(r.code).toBe(0)
      expect(r.stdout).toContain("Usage: abathur [--db PATH|URL] [--json] [--log-level LEVEL] COMMAND")
      expect(r.stdout).toContain("deps add DEPENDENT PREREQUISITE")
    }
  })

  it("logs go to stderr only, at the level asked for", async () => {
    const s = new Sandbox()
    const quiet = await s.run(["status", "--json"])
    expect(quiet.stderr).toBe("")
    const debug = await s.run(["--log-level", "debug", "status", "--json"])
    expect(JSON.parse(debug.stdout).total).toBe(0)
    expect(debug.stderr).toMatch(/debug opened .*abathur\.db/)
    const viaEnv = await s.run(["status", "--json"], { env: { ABATHUR_LOG_LEVEL: "debug" } })
    expect(viaEnv.stderr).toContain("debug")
    expect(JSON.parse(viaEnv.stdout).total).toBe(0)
  })
})
