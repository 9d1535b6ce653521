import BetterSqlite3 from "better-sqlite3"
import { mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { dumpDatabase, run, Sandbox, type Task, tempDir } from "./support/Cli.js"

/**
 * What the CLI stores and what it opens: text stays valid UTF-8; a path that is not a usable
 * database is refused with its name, and a database from a newer version is refused; neither changes.
 */

describe("Unicode is stored as valid UTF-8", () => {
  it("an emoji at the summary's 140th character stays whole; every stored text decodes as strict UTF-8", async () => {
    const s = new Sandbox()
    const a139 = "a".repeat(139)
    const t = await s.submit(`${a139}😀 and the rest`)
    expect(t.summary).toBe(`${a139}😀`)
    const u = await s.submit(`${"b".repeat(140)}😀`, "--agent-type", "général", "--input", '{"clé 🔑": ["日本語", "👩‍💻"]}')
    expect(u.summary).toBe("b".repeat(140))
    const c = await s.json<Task>(["next", "--worker", "wörker 🤖"])
    await s.json(["complete", c.id, "--lease-token", c.leaseToken!, "--result", '{"done": "✅ \\ud83d\\ude00"}'])
    const db = new BetterSqlite3(s.db, { readonly: true })
    const decoder = new TextDecoder("utf-8", { fatal: true })
    let values = 0
    try {
      for (const { name } of db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table'").all() as Array<{ name: string }>) {
        for (const col of db.prepare("SELECT name FROM pragma_table_info(?)").all(name) as Array<{ name: string }>) {
          const rows = db.prepare(`SELECT CAST("${col.name}" AS BLOB) AS b FROM "${name}" WHERE typeof("${col.name}") = 'text'`).all() as Array<{
            b: Uint8Array
          }>
          for (const { b } of rows) {
            expect(() => decoder.decode(b), `${name}.${col.name}`).not.toThrow()
            values++
          }
        }
      }
      const stored = db.prepare("SELECT summary, result_data FROM tasks WHERE id = ?").get(t.id) as { summary: string; result_data: string }
      expect(stored.summary).toBe(`${a139}😀`)
      expect(JSON.parse(stored.result_data)).toEqual({ done: "✅ 😀" })
    } finally {
      db.close()
    }
    expect(values).toBeGreaterThan(20)
  })
})

describe("unusable databases", () => {
  it("a folder, a file that is not a database, a path that cannot be created: ValidationError naming the path", async () => {
    const dir = tempDir()
    const notDb = join(dir, "notes.txt")
    writeFileSync(notDb, "these are my notes, not a database\n".repeat(100))
    const folder = join(dir, "folder")
    mkdirSync(folder)
    const underFile = join(notDb, "sub", "abathur.db")
    for (const path of [folder, notDb, underFile]) {
      const r = await run(["--db", path, "status", "--json"], { cwd: dir })
      expect({ path, code: r.code, stdout: r.stdout }).toEqual({ path, code: 2, stdout: "" })
      const e = JSON.parse(r.stderr).error
      expect(e._tag).toBe("ValidationError")
      expect(e.message).toContain(path)
      const human = await run(["list", "--db", path], { cwd: dir })
      expect(human.code).toBe(2)
      expect(human.stderr).toMatch(/^error ValidationError: cannot open database .+ \(check --db or ABATHUR_DB/)
    }
    expect(readFileSync(notDb, "utf8")).toBe("these are my notes, not a database\n".repeat(100))
  })

  it("a database from a newer version: MigrationError (exit 5), reason too-new, untouched", async () => {
    const s = new Sandbox()
    await s.submit("A")
    const db = new BetterSqlite3(s.db)
    db.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'from the future', '2030-01-01T00:00:00.000Z')").run()
    db.close()
    const before = dumpDatabase(s.db)
    const e = await s.fails(["status"], "MigrationError", 5)
    expect(e["reason"]).toBe("too-new")
    const human = await s.run(["list"])
    expect(human.code).toBe(5)
    expect(human.stderr).toMatch(/^error MigrationError: /)
    expect(dumpDatabase(s.db)).toBe(before)
  })
})
