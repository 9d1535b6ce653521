import { describe, expect, it } from "vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { quickCheck, quickCheckFile } from "../src/QuickCheck.js"
import { makeTask, openRepo, rawConnection, tempDir } from "./helpers.js"

/** A migrated file with enough tasks to fill several pages of the tasks table, closed. */
const filledFile = (): string => {
  const { handle, repo, filename } = openRepo()
  handle.db.transaction(() => {
    for (let i = 0; i < 600; i++) repo.insertTask(makeTask({ prompt: `task ${i}: ${"some words ".repeat(i % 20)}` }))
  })()
  handle.close()
  return filename
}

/**
 * Overwrites 1 KiB in the middle of the fullest leaf page of the tasks table: longer than a row, so
 * it always hits a cell's header, not only the inside of a text SQLite does not check.
 */
const damage = (filename: string): void => {
  const db = rawConnection(filename)
  const pageSize = db.pragma("page_size", { simple: true }) as number
  const { pageno } = db.prepare("SELECT pageno FROM dbstat WHERE name = 'tasks' AND pagetype = 'leaf' ORDER BY unused LIMIT 1").get() as {
    pageno: number
  }
  db.close()
  const fd = fs.openSync(filename, "r+")
  fs.writeSync(fd, Buffer.alloc(1024, 0xff), 0, 1024, (pageno - 1) * pageSize + pageSize / 4)
  fs.closeSync(fd)
}

describe("quickCheck", () => {
  it("passes a sound file and names the damaged tree of a file overwritten mid-page", () => {
    const filename = filledFile()
    const sound = quickCheckFile(filename)
    expect(sound).toMatchObject({ ok: true, findings: [] })
    expect(sound.millis).toBeGreaterThanOrEqual(0)

    damage(filename)
    const report = quickCheckFile(filename)
    expect(report.ok).toBe(false)
    expect(report.findings.length).toBeGreaterThan(0)
    // what is broken is named: the tree (`Tree 4 (table tasks) page 32 ...`) or the table's constraint
    expect(report.findings.join("\n")).toMatch(/\(table tasks\) page \d+|in tasks/)
    expect(report.findings.every((f) => !f.includes("*** in database"))).toBe(true)
    // on an open connection too
    expect(quickCheck(rawConnection(filename)).ok).toBe(false)
  })

  it("reports a file that is not a database, and never creates a missing one", () => {
    const dir = tempDir()
    const junk = path.join(dir, "junk.db")
    fs.writeFileSync(junk, Buffer.alloc(8192, 0x41))
    const report = quickCheckFile(junk)
    expect(report.ok).toBe(false)
    expect(report.findings.join(" ")).toMatch(/not a database/)

    const missing = path.join(dir, "missing.db")
    expect(quickCheckFile(missing).ok).toBe(false)
    expect(fs.existsSync(missing)).toBe(false)
  })
})
