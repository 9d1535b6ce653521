/**
 * The background checkpointer runs in the bundled server: its worker (CheckpointWorker.mjs, which
 * build.mjs writes beside the chunk holding Checkpointer.ts) copies the WAL into the database file
 * while the server keeps its connection open. Without the worker, the server's connection would
 * leave every frame in the WAL until it reached 64 MiB.
 */
import BetterSqlite3 from "better-sqlite3"
import { describe, expect, it, vi } from "vitest"
import { client, startServer } from "./support/server.js"

/** The frames in the WAL and how many are in the database file, read without checkpointing. */
const walState = (filename: string): { log: number; checkpointed: number } => {
  const db = new BetterSqlite3(filename, { fileMustExist: true })
  try {
    const [row] = db.pragma("wal_checkpoint(NOOP)") as Array<{ log: number; checkpointed: number }>
    return { log: row!.log, checkpointed: row!.checkpointed }
  } finally {
    db.close()
  }
}

describe("background checkpoints in the bundled server", () => {
  it("copies the frames of committed writes into the database file while the server runs", async () => {
    const server = await startServer()
    try {
      const api = client(server.url)
      for (let i = 0; i < 5; i++) expect((await api.post("/v1/tasks", { prompt: `task ${i}` })).status).toBe(201)
      await vi.waitFor(
        () => {
          const { log, checkpointed } = walState(server.db)
          expect(log).toBeGreaterThan(0)
          expect(checkpointed).toBe(log)
        },
        { timeout: 20_000, interval: 100 }
      )
    } finally {
      await server.dispose()
    }
  })
})
