import { LATEST_VERSION } from "@abathur/schema"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { checkDatabaseFile } from "../src/Database.js"
import { DatabaseOpenError } from "../src/StorageError.js"
import { makeDependency, makeTask, openRepo, rawConnection, tempDir, thrown } from "./helpers.js"

/**
 * `checkDatabaseFile` on real files: a healthy one, corrupted copies (bytes overwritten inside a
 * page, a whole page, the header) and broken foreign keys. It names what is broken and never
 * writes the file.
 */

/** A database file with a few hundred tasks and edges, closed. */
const populated = (): string => {
  const { handle, repo, filename } = openRepo()
  repo.transaction(() => {
    let previous: string | null = null
    for (let i = 0; i < 300; i++) {
      const t = makeTask({ prompt: `task ${i} ${"x".repeat(200)}` })
      repo.insertTask(t)
      if (previous !== null) repo.insertDependency(makeDependency(t.id, previous))
      previous = t.id
    }
  })
  handle.close()
  return filename
}

/** The pages of each b-tree of a file (`dbstat`). */
const pagesOf = (filename: string): Map<string, Array<number>> => {
  const db = rawConnection(filename)
  const pages = new Map<string, Array<number>>()
  for (const r of db.prepare("SELECT name, pageno FROM dbstat ORDER BY pageno").all() as Array<{ name: string; pageno: number }>) {
    pages.set(r.name, [...(pages.get(r.name) ?? []), r.pageno])
  }
  db.close()
  return pages
}

/** A copy of `filename` with `length` bytes of noise written at `offset` of page `page` (1-based). */
const corrupt = (filename: string, name: string, page: number, offset: number, length: number): string => {
  const copy = path.join(path.dirname(filename), name)
  const data = fs.readFileSync(filename)
  let seed = page * 7919
  for (let i = 0; i < length; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0
    data[(page - 1) * 4096 + offset + i] = seed >>> 24
  }
  fs.writeFileSync(copy, data)
  return copy
}

/** Checks `file` and proves the check did not change its bytes. */
const checked = (file: string) => {
  const before = fs.readFileSync(file)
  const r = checkDatabaseFile(file)
  expect(fs.readFileSync(file).equals(before)).toBe(true)
  return r
}

describe("checkDatabaseFile", () => {
  it("a healthy file: ok, its schema version, nothing else", () => {
    const r = checked(populated())
    expect(r).toMatchObject({ ok: true, integrity: "ok", findings: [], foreignKeyViolations: [], errors: [], schemaVersion: LATEST_VERSION })
  })

  it("noise inside a page of an index: integrity_check's findings, with the tree's name and the page", () => {
    const file = populated()
    const pages = pagesOf(file).get("idx_task_dependencies_dependent")!
    const r = checked(corrupt(file, "index.db", pages.at(-1)!, 1000, 2000))
    expect(r.ok).toBe(false)
    expect(r.findings.length).toBeGreaterThan(0)
    expect(r.findings.some((f) => /Tree \d+ \(index idx_task_dependencies_dependent\) page \d+ /.test(f))).toBe(true)
    expect(r.integrity).toBe(r.findings.join("; "))
  })

  it("a whole page overwritten: when SQLite cannot finish, each table is checked alone and the damaged one named", () => {
    const file = populated()
    const root = pagesOf(file).get("task_dependencies")![0]!
    const r = checked(corrupt(file, "page.db", root, 0, 4096))
    expect(r.ok).toBe(false)
    expect(r.errors.some((e) => e.code === "SQLITE_CORRUPT")).toBe(true)
    expect(r.findings.some((f) => f.startsWith("table task_dependencies: "))).toBe(true)
    expect(r.findings.some((f) => f.startsWith("table tasks: "))).toBe(false)
    expect(r.schemaVersion).toBe(LATEST_VERSION)
  })

  it("the header overwritten: unreadable, with SQLite's code and message", () => {
    const r = checked(corrupt(populated(), "header.db", 1, 0, 100))
    expect(r).toMatchObject({ ok: false, schemaVersion: null, foreignKeyViolations: [] })
    expect(r.errors).toEqual([{ code: "SQLITE_NOTADB", message: "file is not a database", during: "reading the schema (sqlite_schema)" }])
    expect(r.findings).toEqual(["reading the schema (sqlite_schema): SQLITE_NOTADB: file is not a database"])
  })

  it("foreign key violations are listed", () => {
    const file = populated()
    const db = rawConnection(file)
    db.pragma("foreign_keys = OFF")
    // A task inside the chain (a prerequisite that is also a dependent), whatever order the ids sort in.
    db.prepare(
      "DELETE FROM tasks WHERE id = (SELECT prerequisite_task_id FROM task_dependencies WHERE prerequisite_task_id IN (SELECT dependent_task_id FROM task_dependencies) LIMIT 1)"
    ).run()
    db.close()
    const r = checked(file)
    expect(r.integrity).toBe("ok")
    expect(r.ok).toBe(false)
    // The task was the prerequisite of one edge and the dependent of another: both are listed.
    expect(r.foreignKeyViolations).toEqual([
      expect.objectContaining({ table: "task_dependencies", parent: "tasks" }),
      expect.objectContaining({ table: "task_dependencies", parent: "tasks" })
    ])
  })

  it("no file, or a folder: DatabaseOpenError naming the path, nothing created", () => {
    const dir = tempDir()
    const missing = path.join(dir, "missing.db")
    for (const p of [missing, dir]) {
      const e = thrown(() => checkDatabaseFile(p))
      expect(e).toBeInstanceOf(DatabaseOpenError)
      expect((e as DatabaseOpenError).message).toContain(p)
    }
    expect(fs.existsSync(missing)).toBe(false)
  })
})
