import type { ClaimedTask } from "@abathur/domain"
import { Effect } from "effect"
import { tmpdir } from "node:os"
import { describe, expect, it } from "vitest"
import type { WorkBackend } from "../src/work/Backend.js"
import { resolveProgram } from "../src/work/Exec.js"
import { runPool } from "../src/work/WorkerPool.js"

/**
 * The worker pool in process, over a stand-in backend: an idle worker sets a timer for the next
 * delayed task's `notBefore` (no commit announces that instant), rather than waiting for its
 * idle rescan or polling.
 */

const task = (id: string): ClaimedTask =>
  ({
    id,
    prompt: "delayed",
    summary: "delayed",
    maxExecutionTimeoutSeconds: 60,
    retryCount: 0,
    maxRetries: 0,
    leaseToken: "lease",
    leaseExpiresAt: new Date(Date.now() + 60_000).toISOString()
  }) as ClaimedTask

describe("abathur work and notBefore", () => {
  it("wakes at the next notBefore although its idle rescan is a minute away", async () => {
    const due = Date.now() + 800
    const claims: Array<number> = []
    const completed: Array<string> = []
    let notBeforeReads = 0
    const claimOne = Effect.sync(() => {
      claims.push(Date.now())
      return Date.now() >= due && completed.length === 0 && claims.length > 0 ? task("3f2b8c1e-9d4a-4f6b-8e2a-1c5d7e9f0a2b") : null
    })
    const backend: WorkBackend = {
      label: "stand-in",
      childEnv: {},
      longPoll: false,
      claim: () => claimOne,
      claimMany: () => Effect.map(claimOne, (t) => (t === null ? [] : [t])),
      heartbeat: () => Effect.void,
      complete: (id) => Effect.sync(() => void completed.push(id)),
      fail: () => Effect.succeed({ retried: false }),
      release: () => Effect.void,
      openCounts: () => Effect.succeed({ ready: completed.length === 0 ? 1 : 0, running: 0 }),
      statusOf: () => Effect.succeed("running" as const),
      version: null,
      nextNotBefore: () =>
        Effect.sync(() => {
          notBeforeReads++
          return completed.length === 0 ? new Date(due).toISOString() : null
        })
    }
    const summary = await Effect.runPromise(
      runPool(
        backend,
        {
          file: resolveProgram("true", tmpdir(), { PATH: process.env["PATH"] ?? "/usr/bin:/bin" }),
          argv: ["true"],
          command: "true",
          concurrency: 1,
          worker: "w",
          untilEmpty: true,
          env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin" },
          cwd: tmpdir(),
          logPath: null,
          rescanMs: 60_000
        },
        { log: () => Effect.void, onSignal: () => () => undefined, attach: () => undefined, changed: () => undefined }
      ).pipe(Effect.timeout("30 seconds"))
    )
    expect(summary).toMatchObject({ completed: 1, failed: 0 })
    expect(completed).toEqual(["3f2b8c1e-9d4a-4f6b-8e2a-1c5d7e9f0a2b"])
    // Woken by the timer (the one-minute rescan would pass the 30 s bound), with a handful of claims, not a poll.
    expect(claims.length).toBeLessThan(6)
    expect(notBeforeReads).toBeGreaterThan(0)
  }, 40_000)
})
