import { mulberry32 } from "@abathur/testing"
import BetterSqlite3 from "better-sqlite3"
import { copyFileSync, existsSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { beforeAll, describe, expect, it } from "vitest"
import { run, Sandbox } from "./support/Cli.js"

/**
 * `db check` on real corrupted copies of a real database: it names what is broken in every case
 * (the integrity check's findings, table by table when SQLite cannot finish the whole file, or
 * SQLite's error and the file when the file cannot be read), exits 1, and writes nothing.
 */

interface Check {
  readonly integrity: string
  readonly foreignKeyViolations: ReadonlyArray<{ table: string; parent: string }>
  readonly schemaVersion: number | null
  readonly file?: string
  readonly findings?: ReadonlyArray<string>
  readonly errors?: ReadonlyArray<{ code: string; message: string; during: string }>
}

let s: Sandbox
let pageSize: number
/** Pages of the healthy file by the b-tree they belong to (`dbstat`), leaf and interior. */
let pagesOf: Map<string, Array<{ page: number; type: string }>>

/** A deterministic stream of "random" bytes: the low byte of each mulberry32 draw (exact: a draw is n / 2^32). */
const bytes = (seed: number) => {
  const random = mulberry32(seed)
  return () => (random() * 2 ** 32) & 0xff
}

/** A copy of the healthy database with `length` random bytes written at `offset` of page `page` (1-based). */
const corruptCopy = (name: string, page: number, offset: number, length: number, seed = page): string => {
  const file = join(s.dir, name)
  copyFileSync(s.db, file)
  const data = readFileSync(file)
  const next = bytes(seed)
  const start = (page - 1) * pageSize + offset
  for (let i = 0; i < length; i++) data[start + i] = next()
  writeFileSync(file, data)
  return file
}

const check = async (file: string) => {
  const before = readFileSync(file)
  const json = await run(["--db", file, "db", "check", "--json"], { cwd: s.dir })
  const human = await run(["--db", file, "db", "check"], { cwd: s.dir })
  // A check never writes: the file's bytes are the same after both runs.
  expect(readFileSync(file).equals(before)).toBe(true)
  return { json, human, doc: json.stdout === "" ? null : (JSON.parse(json.stdout) as Check) }
}

beforeAll(async () => {
  s = new Sandbox()
  const plan = {
    tasks: Array.from({ length: 400 }, (_, i) => ({
      key: `k${i}`,
      prompt: `Task ${i}: ${"details ".repeat(20)}`,
      ...(i % 10 > 0 && { dependsOn: [`k${i - 1}`] }),
      inputData: { n: i, tags: ["a", "b"] }
    }))
  }
  const planFile = join(s.dir, "plan.json")
  writeFileSync(planFile, JSON.stringify(plan))
  await s.json(["submit", "--file", planFile])
  // The copies are taken from a closed file: everything is in the main file, nothing in a WAL.
  expect(existsSync(`${s.db}-wal`)).toBe(false)
  const db = new BetterSqlite3(s.db, { readonly: true })
  try {
    pageSize = db.pragma("page_size", { simple: true }) as number
    pagesOf = new Map()
    for (const r of db.prepare("SELECT name, pageno AS page, pagetype AS type FROM dbstat ORDER BY pageno").all() as Array<{
      name: string
      page: number
      type: string
    }>) {
      const list = pagesOf.get(r.name) ?? []
      list.push({ page: r.page, type: r.type })
      pagesOf.set(r.name, list)
    }
  } finally {
    db.close()
  }
})

describe("db check names what is broken", () => {
  it("a healthy file: ok, the contract's three fields only, exit 0", async () => {
    const { json, doc } = await check(s.db)
    expect(json.code).toBe(0)
    expect(doc).toEqual({ integrity: "ok", foreignKeyViolations: [], schemaVersion: expect.any(Number) })
  })

  it("random bytes mid-page in the tasks table: the integrity check's own findings, by tree and page", async () => {
    const leaf = pagesOf.get("tasks")!.filter((p) => p.type === "leaf")
    const page = leaf[Math.floor(leaf.length / 2)]!.page
    const file = corruptCopy("mid-page.db", page, Math.floor(pageSize / 2) - 300, 600)
    const { json, human, doc } = await check(file)
    expect(json.code).toBe(1)
    expect(doc!.integrity).not.toBe("ok")
    expect(doc!.file).toBe(file)
    expect(doc!.findings!.length).toBeGreaterThan(0)
    // Concrete: which b-tree, which page; never only "malformed".
    expect(doc!.findings!.some((f) => /page \d+/.test(f) && /Tree \d+ \((table|index) \w+\)/.test(f))).toBe(true)
    expect(doc!.integrity).toBe(doc!.findings!.join("; "))
    expect(human.code).toBe(1)
    expect(human.stdout).toContain("✘ problems found")
    for (const f of doc!.findings!.slice(0, 20)) expect(human.stdout).toContain(f)
  })

  it("a whole page overwritten so that SQLite stops the check: each table checked alone, the damaged ones named", async () => {
    // The root page of the dependency edges' table: integrity_check over the whole file stops
    // with "database disk image is malformed" (an exception, not a row).
    const table = "task_dependencies"
    const page = pagesOf.get(table)!.at(0)!.page
    const file = corruptCopy("whole-page.db", page, 0, pageSize)
    const { json, human, doc } = await check(file)
    expect(json.code).toBe(1)
    expect(doc!.findings!.length).toBeGreaterThan(0)
    expect(doc!.findings!.some((f) => f.startsWith(`table ${table}: `))).toBe(true)
    // The other tables were checked and are not blamed.
    expect(doc!.findings!.some((f) => f.startsWith("table tasks: "))).toBe(false)
    expect(doc!.errors!.some((e) => e.code === "SQLITE_CORRUPT")).toBe(true)
    expect(human.stdout).toContain(`table ${table}: `)
    expect(human.stdout).toContain("SQLITE_CORRUPT")
  })

  it("a file whose header is overwritten cannot be read: SQLite's code and message with the file name, exit 1", async () => {
    const file = corruptCopy("header.db", 1, 0, 100)
    const { json, human, doc } = await check(file)
    expect(json.code).toBe(1)
    expect(doc).toMatchObject({ schemaVersion: null, file, foreignKeyViolations: [] })
    expect(doc!.errors![0]).toMatchObject({ code: "SQLITE_NOTADB", message: "file is not a database" })
    expect(doc!.integrity).toContain("SQLITE_NOTADB: file is not a database")
    expect(human.code).toBe(1)
    expect(human.stdout).toContain("✘ cannot be read")
    expect(human.stdout).toContain(file.split("/").at(-1)!)
    expect(human.stdout).toContain("SQLITE_NOTADB: file is not a database")
  })

  it("foreign key violations are listed, exit 1", async () => {
    const file = join(s.dir, "fk.db")
    copyFileSync(s.db, file)
    const db = new BetterSqlite3(file)
    db.pragma("foreign_keys = OFF")
    db.prepare(
      "UPDATE task_dependencies SET prerequisite_task_id = '3f2b8c1e-9d4a-4f6b-8e2a-1c5d7e9f0a2b' WHERE rowid = (SELECT min(rowid) FROM task_dependencies)"
    ).run()
    db.close()
    const { json, human, doc } = await check(file)
    expect(json.code).toBe(1)
    expect(doc!.integrity).toBe("ok")
    expect(doc!.foreignKeyViolations).toEqual([expect.objectContaining({ table: "task_dependencies", parent: "tasks" })])
    expect(human.stdout).toContain("1 violations")
  })

  it("no file at the path: ValidationError (exit 2) naming it, and no file created", async () => {
    const file = join(s.dir, "missing.db")
    const r = await run(["--db", file, "db", "check", "--json"], { cwd: s.dir })
    expect(r.code).toBe(2)
    expect(JSON.parse(r.stderr).error).toMatchObject({ _tag: "ValidationError", path: file })
    expect(JSON.parse(r.stderr).error.message).toContain(file)
    expect(existsSync(file)).toBe(false)
  })
})
