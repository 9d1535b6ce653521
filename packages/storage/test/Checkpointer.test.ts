/**
 * The background checkpointer (Checkpointer.ts) on real files: it copies the WAL into the
 * database file while the connection keeps writing, closing stops it (and the file's last
 * connection then removes the WAL as usual), it never keeps a process alive, and turned off
 * nothing changes. No timing assertions: tests wait (vi.waitFor) for what the worker reports.
 */
import { describe, expect, it } from "@effect/vitest"
import BetterSqlite3 from "better-sqlite3"
import { Context, Effect, Exit, Layer, Scope } from "effect"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import ts from "typescript"
import { vi } from "vitest"
import { checkpointWorkerPath, resolveBetterSqlite3, startCheckpointer, thisModuleFile } from "../src/Checkpointer.js"
import { Database, openDatabase } from "../src/Database.js"
import { tempDbFile, tempDir, track } from "./helpers.js"

/** `n` single-row transactions of about one page each, in a scratch table. */
const writeRows = (db: BetterSqlite3.Database, n: number): void => {
  db.exec("CREATE TABLE IF NOT EXISTS scratch (n INTEGER, pad BLOB)")
  const insert = db.prepare("INSERT INTO scratch VALUES (?, randomblob(3000))")
  for (let i = 0; i < n; i++) insert.run(i)
}

/** The rows of the scratch table, read by a connection of its own. */
const countRows = (filename: string): unknown => {
  const c = new BetterSqlite3(filename)
  try {
    return c.prepare("SELECT count(*) FROM scratch").pluck().get()
  } finally {
    c.close()
  }
}

/** The frames in the WAL and how many of them are in the database file, without checkpointing. */
const walState = (filename: string): { log: number; checkpointed: number } => {
  const c = new BetterSqlite3(filename)
  try {
    const [row] = c.pragma("wal_checkpoint(NOOP)") as Array<{ log: number; checkpointed: number }>
    return { log: row!.log, checkpointed: row!.checkpointed }
  } finally {
    c.close()
  }
}

const size = (file: string): number => (fs.existsSync(file) ? fs.statSync(file).size : 0)

const waitFor = <A>(f: () => A) => vi.waitFor(f, { timeout: 20_000, interval: 10 })

describe("background checkpoints (openDatabase)", () => {
  it("copies the WAL into the database file while the connection writes no checkpoint itself", async () => {
    const filename = tempDbFile()
    const handle = openDatabase({ filename, backgroundCheckpoint: { intervalMs: 5 } })
    track(handle.db)
    const checkpointer = handle.checkpointer!
    expect(checkpointer).not.toBeNull()
    expect(checkpointer.running()).toBe(true)
    // The connection's own automatic checkpoint moved out to 64 MiB of 4 KiB pages.
    expect(handle.db.pragma("wal_autocheckpoint", { simple: true })).toBe(16384)
    const before = size(filename)
    writeRows(handle.db, 2000)
    await waitFor(() => {
      expect(size(filename)).toBeGreaterThan(before + 2000 * 3000)
      const { log, checkpointed } = walState(filename)
      expect(checkpointed).toBe(log)
    })
    const stats = checkpointer.stats()
    expect(stats.checkpoints).toBeGreaterThan(0)
    expect(stats.lastCheckpointedFrames).toBe(stats.lastLogFrames)
    expect(stats.errors).toBe(0)
    // Another connection sees every row.
    expect(countRows(filename)).toBe(2000)
  })

  it("closing stops the worker first, so that the last connection removes the WAL as usual", async () => {
    const filename = tempDbFile()
    const handle = openDatabase({ filename, backgroundCheckpoint: { intervalMs: 5 } })
    track(handle.db)
    writeRows(handle.db, 300)
    await waitFor(() => expect(handle.checkpointer!.stats().checkpoints).toBeGreaterThan(0))
    writeRows(handle.db, 300)
    handle.close()
    expect(handle.db.open).toBe(false)
    expect(handle.checkpointer!.running()).toBe(false)
    expect(fs.existsSync(`${filename}-wal`)).toBe(false)
    await handle.checkpointer!.exited
    expect(countRows(filename)).toBe(600)
    handle.close()
  })

  it("db.close() stops the worker too", async () => {
    const filename = tempDbFile()
    const handle = openDatabase({ filename, backgroundCheckpoint: { intervalMs: 5 } })
    writeRows(handle.db, 100)
    await waitFor(() => expect(handle.checkpointer!.stats().checkpoints).toBeGreaterThan(0))
    expect(handle.db.close()).toBe(handle.db)
    expect(handle.checkpointer!.running()).toBe(false)
    await handle.checkpointer!.exited
    expect(fs.existsSync(`${filename}-wal`)).toBe(false)
    handle.db.close()
  })

  it("closing at once stops a worker that has not started (it never opens the file)", async () => {
    const handle = openDatabase({ filename: tempDbFile() })
    handle.close()
    expect(handle.checkpointer!.running()).toBe(false)
    await handle.checkpointer!.exited
    expect(handle.checkpointer!.stats()).toEqual({
      checkpoints: 0,
      lastLogFrames: 0,
      lastCheckpointedFrames: 0,
      truncations: 0,
      errors: 0
    })
  })

  it("truncates a large -wal file once writes pause", async () => {
    const filename = tempDbFile()
    const handle = openDatabase({ filename, backgroundCheckpoint: { intervalMs: 5, idleTruncateBytes: 64 * 1024 } })
    track(handle.db)
    writeRows(handle.db, 500)
    expect(size(`${filename}-wal`)).toBeGreaterThan(64 * 1024)
    await waitFor(() => expect(handle.checkpointer!.stats().truncations).toBe(1))
    expect(size(`${filename}-wal`)).toBe(0)
    writeRows(handle.db, 10)
    expect(countRows(filename)).toBe(510)
  })

  it("maxWalBytes sets where the connection checkpoints itself", () => {
    const handle = openDatabase({ filename: tempDbFile(), backgroundCheckpoint: { maxWalBytes: 1024 * 1024 } })
    track(handle.db)
    expect(handle.db.pragma("wal_autocheckpoint", { simple: true })).toBe(256)
  })

  it("two connections with a checkpointer each share the file", async () => {
    const filename = tempDbFile()
    const a = openDatabase({ filename, backgroundCheckpoint: { intervalMs: 5 } })
    track(a.db)
    const b = openDatabase({ filename, backgroundCheckpoint: { intervalMs: 5 } })
    track(b.db)
    writeRows(a.db, 300)
    writeRows(b.db, 300)
    await waitFor(() => {
      const { log, checkpointed } = walState(filename)
      expect(checkpointed).toBe(log)
    })
    a.close()
    writeRows(b.db, 300)
    expect(countRows(filename)).toBe(900)
    b.close()
    expect(fs.existsSync(`${filename}-wal`)).toBe(false)
  })

  it("turned off: SQLite's automatic checkpoints, in the committing thread", () => {
    const filename = tempDbFile()
    const handle = openDatabase({ filename, backgroundCheckpoint: false })
    track(handle.db)
    expect(handle.checkpointer).toBeNull()
    expect(handle.db.pragma("wal_autocheckpoint", { simple: true })).toBe(1000)
    const before = size(filename)
    writeRows(handle.db, 2000)
    // Checkpointed by the commits themselves: no waiting.
    expect(size(filename)).toBeGreaterThan(before + 1000 * 4096)
    handle.close()
    expect(handle.db.open).toBe(false)
    expect(fs.existsSync(`${filename}-wal`)).toBe(false)
  })

  it("an in-memory database has no checkpointer", () => {
    const handle = openDatabase({ filename: ":memory:" })
    expect(handle.checkpointer).toBeNull()
    handle.close()
    expect(handle.db.open).toBe(false)
  })
})

describe("background checkpoints (Database.layer)", () => {
  it.effect("the layer's release stops the worker and closes the connection", () =>
    Effect.gen(function* () {
      const filename = tempDbFile()
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(Database.layer({ filename, backgroundCheckpoint: { intervalMs: 5 } }), scope)
      const handle = Context.get(context, Database)
      writeRows(handle.db, 200)
      yield* Effect.promise(() => waitFor(() => expect(handle.checkpointer!.stats().checkpoints).toBeGreaterThan(0)))
      yield* Scope.close(scope, Exit.void)
      expect(handle.db.open).toBe(false)
      expect(handle.checkpointer!.running()).toBe(false)
      yield* Effect.promise(() => handle.checkpointer!.exited)
      expect(fs.existsSync(`${filename}-wal`)).toBe(false)
    })
  )
})

describe("startCheckpointer", () => {
  it("finds better-sqlite3 and its worker's file from its own module", () => {
    expect(thisModuleFile()).toMatch(/Checkpointer\.ts$/)
    expect(fs.existsSync(resolveBetterSqlite3())).toBe(true)
    expect(checkpointWorkerPath()).toBe(path.join(path.dirname(thisModuleFile()), "CheckpointWorker.mjs"))
    expect(fs.existsSync(checkpointWorkerPath())).toBe(true)
  })

  it("a worker file that is missing is a failure to start, reported like any other", async () => {
    const filename = tempDbFile()
    openDatabase({ filename, backgroundCheckpoint: false }).close()
    let unexpected = 0
    const checkpointer = startCheckpointer(filename, {
      workerPath: path.join(tempDir(), "CheckpointWorker.mjs"),
      onUnexpectedExit: () => unexpected++
    })
    await checkpointer.exited
    expect(unexpected).toBe(1)
    expect(checkpointer.running()).toBe(false)
    checkpointer.stop()
  })

  it("a worker that cannot start reports it, and stop() then returns at once", async () => {
    const filename = tempDbFile()
    openDatabase({ filename, backgroundCheckpoint: false }).close()
    let unexpected = 0
    const checkpointer = startCheckpointer(filename, {
      modulePath: path.join(tempDir(), "missing.js"),
      onUnexpectedExit: () => unexpected++
    })
    await checkpointer.exited
    expect(unexpected).toBe(1)
    expect(checkpointer.running()).toBe(false)
    expect(checkpointer.stats().errors).toBe(1)
    checkpointer.stop()
    checkpointer.stop()
    expect(unexpected).toBe(1)
  })

  it("never keeps a process alive: a process that leaves it running exits", () => {
    // The module as CommonJS (it imports Node's built-ins only), run by a plain Node process.
    const dir = tempDir()
    const source = fs.readFileSync(new URL("../src/Checkpointer.ts", import.meta.url), "utf8")
    const { outputText } = ts.transpileModule(source, {
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 }
    })
    fs.writeFileSync(path.join(dir, "Checkpointer.cjs"), outputText)
    fs.copyFileSync(new URL("../src/CheckpointWorker.mjs", import.meta.url), path.join(dir, "CheckpointWorker.mjs"))
    const filename = path.join(dir, "child.db")
    const script = `
      const { startCheckpointer } = require(${JSON.stringify(path.join(dir, "Checkpointer.cjs"))})
      const modulePath = ${JSON.stringify(resolveBetterSqlite3())}
      const Database = require(modulePath)
      const db = new Database(${JSON.stringify(filename)})
      db.pragma("journal_mode = WAL")
      db.pragma("wal_autocheckpoint = 0")
      db.exec("CREATE TABLE t (x)")
      const checkpointer = startCheckpointer(${JSON.stringify(filename)}, { modulePath, intervalMs: 5 })
      const poll = setInterval(() => {
        db.prepare("INSERT INTO t VALUES (randomblob(3000))").run()
        if (checkpointer.stats().checkpoints < 2) return
        // The worker runs and holds its connection: leave without stopping it.
        clearInterval(poll)
        process.stdout.write("left it running")
      }, 1)
    `
    const child = spawnSync(process.execPath, ["-e", script], { encoding: "utf8", timeout: 60_000 })
    expect(child.error).toBeUndefined()
    expect(child.signal).toBeNull()
    expect(child.stderr).toBe("")
    expect(child.stdout).toBe("left it running")
    expect(child.status).toBe(0)
  })
})
