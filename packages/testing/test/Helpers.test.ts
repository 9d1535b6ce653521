import { Database } from "@abathur/storage"
import BetterSqlite3 from "better-sqlite3"
import { Effect } from "effect"
import { existsSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { describe, expect, it } from "vitest"
import { databaseDump, dumpDatabase, TestDatabase } from "../src/index.js"
import { tempDbFile, tempDir } from "../src/Vitest.js"

describe("tempDir", () => {
  it("makes a fresh folder each time (removed after the file's tests)", () => {
    const a = tempDir()
    writeFileSync(join(a, "x"), "x")
    expect(existsSync(join(a, "x"))).toBe(true)
    expect(tempDir()).not.toBe(a)
  })
})

describe("dumpDatabase", () => {
  it("changes when a row or the schema changes, and reads a file through a connection of its own", () => {
    const file = tempDbFile()
    expect(dumpDatabase(file)).toBeNull()
    const db = new BetterSqlite3(file)
    try {
      db.exec("CREATE TABLE t (x)")
      const empty = dumpDatabase(db)
      expect(dumpDatabase(file)).toBe(empty)
      db.exec("INSERT INTO t VALUES (1)")
      const one = dumpDatabase(db)
      expect(one).not.toBe(empty)
      db.exec("CREATE INDEX t_x ON t (x)")
      expect(dumpDatabase(db)).not.toBe(one)
    } finally {
      db.close()
    }
  })
})

describe("TestDatabase.layer", () => {
  it("gives a migrated file whose folder is removed when the layer's scope closes", async () => {
    const { filename, dump } = await Effect.runPromise(
      Effect.gen(function* () {
        const { filename } = yield* Database
        expect(existsSync(filename)).toBe(true)
        return { filename, dump: yield* databaseDump }
      }).pipe(Effect.provide(TestDatabase.layer()))
    )
    expect(dump).toContain("schema_migrations")
    expect(existsSync(dirname(filename))).toBe(false)
  })
})
