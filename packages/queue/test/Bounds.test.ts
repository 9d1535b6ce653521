import { MAX_DURATION_SECONDS, parseTimestamp } from "@abathur/domain"
import { Database } from "@abathur/storage"
import { aTask, databaseDump } from "@abathur/testing"
import type BetterSqlite3 from "better-sqlite3"
import { describe, expect } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import { TaskQueue } from "../src/TaskQueue.js"
import { checkInvariants } from "./Invariants.js"
import { flip, queueTest } from "./TestQueue.js"

/**
 * CONTRACT "Bounds" at the queue: every bound is a ValidationError that writes nothing, and no
 * stored row (one written by an older version that had no bounds) can make a claim fail.
 */

const NOW = Date.parse("2026-12-01T12:00:00.000Z")
const at = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.zipRight(TestClock.setTime(NOW), effect)

/** Every text value of every table, read back as bytes and decoded as strict UTF-8. */
const strictlyDecodeEveryText = (db: BetterSqlite3.Database): number => {
  const decoder = new TextDecoder("utf-8", { fatal: true })
  let values = 0
  const tables = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table'").all() as Array<{ name: string }>
  for (const { name } of tables) {
    const columns = db.prepare(`SELECT name FROM pragma_table_info(?)`).all(name) as Array<{ name: string }>
    for (const c of columns) {
      const rows = db.prepare(`SELECT CAST("${c.name}" AS BLOB) AS b FROM "${name}" WHERE typeof("${c.name}") = 'text'`).all() as Array<{
        b: Uint8Array
      }>
      for (const { b } of rows) {
        try {
          decoder.decode(b)
        } catch {
          throw new Error(`${name}.${c.name} holds bytes that are not UTF-8: ${Buffer.from(b).toString("hex")}`)
        }
        values++
      }
    }
  }
  return values
}

describe("no stored row can stop the claims (defence in depth below the input bounds)", () => {
  queueTest("rows stored with huge timeouts by an older version: claimed with a 7-day lease, lower tasks still run", () =>
    at(
      Effect.gen(function* () {
        const q = yield* TaskQueue
        const { db } = yield* Database
        const low = yield* q.submit(aTask({ prompt: "low", priority: 0 }))
        const poison = yield* q.submit(aTask({ prompt: "poison", priority: 10 }))
        const poison2 = yield* q.submit(aTask({ prompt: "poison, stored as a float", priority: 10 }))
        // What `submit --timeout 9007199254740991` stored before the bound existed.
        db.prepare("UPDATE tasks SET max_execution_timeout_seconds = ? WHERE id = ?").run(Number.MAX_SAFE_INTEGER, poison.id)
        db.prepare("UPDATE tasks SET max_execution_timeout_seconds = ? WHERE id = ?").run(1e300, poison2.id)

        const claimed = [yield* q.claim({ worker: "w" }), yield* q.claim({ worker: "w" })]
        expect(claimed.map((t) => t?.id).sort()).toEqual([poison.id, poison2.id].sort())
        for (const c of claimed) {
          expect(c!.maxExecutionTimeoutSeconds).toBe(MAX_DURATION_SECONDS)
          expect(parseTimestamp(c!.leaseExpiresAt)).toBe(NOW + MAX_DURATION_SECONDS * 1000)
          // The stored row is brought within the bound too: its worker's heartbeats use it.
          expect(db.prepare("SELECT max_execution_timeout_seconds AS t FROM tasks WHERE id = ?").get(c!.id)).toEqual({ t: MAX_DURATION_SECONDS })
          const renewed = yield* q.heartbeat(c!.id, { leaseToken: c!.leaseToken })
          expect(parseTimestamp(renewed.leaseExpiresAt)).toBe(NOW + MAX_DURATION_SECONDS * 1000)
        }
        // The lower task is not starved behind them.
        const next = yield* q.claim({ worker: "w" })
        expect(next?.id).toBe(low.id)
        expect(next!.maxExecutionTimeoutSeconds).toBe(3600)
        yield* checkInvariants()
      })
    )
  )

  queueTest("a heartbeat on a RUNNING row with a huge stored timeout renews for 7 days", () =>
    at(
      Effect.gen(function* () {
        const q = yield* TaskQueue
        const { db } = yield* Database
        const t = yield* q.submit(aTask())
        const c = (yield* q.claim({ worker: "w" }))!
        db.prepare("UPDATE tasks SET max_execution_timeout_seconds = ? WHERE id = ?").run(Number.MAX_SAFE_INTEGER, t.id)
        const renewed = yield* q.heartbeat(t.id, { leaseToken: c.leaseToken })
        expect(parseTimestamp(renewed.leaseExpiresAt)).toBe(NOW + MAX_DURATION_SECONDS * 1000)
      })
    )
  )
})

describe("bad input is a ValidationError and writes nothing", () => {
  queueTest("durations, deep JSON and lone surrogates on every operation", () =>
    at(
      Effect.gen(function* () {
        const q = yield* TaskQueue
        yield* q.submit(aTask({ prompt: "ready" }))
        const running = yield* q.submit(aTask({ prompt: "running", priority: 10 }))
        const c = (yield* q.claim({ worker: "w" }))!
        expect(c.id).toBe(running.id)
        const before = yield* databaseDump
        const deep = JSON.parse(`${"[".repeat(200_000)}${"]".repeat(200_000)}`) as unknown
        const rejected: ReadonlyArray<Effect.Effect<unknown, { readonly _tag: string }>> = [
          q.submit({ prompt: "poison", maxExecutionTimeoutSeconds: 9007199254740991, priority: 10 }),
          q.submit({ prompt: "x", estimatedDurationSeconds: 1e300 }),
          q.submit({ prompt: "x", deadline: "9999-12-31T23:00:00-05:00" }),
          q.submit({ prompt: "x", inputData: { deep } }),
          q.submit({ prompt: "emoji cut in half \uD83D" }),
          q.submit({ prompt: "x", inputData: { ["\uDE00"]: 1 } }),
          q.submit(aTask(), { actor: "agent \uD83D" }),
          q.submitPlan({ tasks: [{ key: "k", prompt: "x", maxExecutionTimeoutSeconds: 604_801 }] }),
          q.claim({ leaseSeconds: 9007199254740991 }),
          q.claim({ worker: "w\uD800" }),
          q.heartbeat(c.id, { leaseToken: c.leaseToken, leaseSeconds: 1e13 }),
          q.complete(c.id, { leaseToken: c.leaseToken, result: deep }),
          q.complete(c.id, { leaseToken: c.leaseToken, result: { text: "\uDFFF" } }),
          q.fail(c.id, { leaseToken: c.leaseToken, error: "broke \uD83D" }),
          q.cancel(c.id, { reason: "\uD83D" }),
          q.prune({ olderThan: "99999999999999w" })
        ]
        for (const op of rejected) {
          const e = yield* flip(op)
          expect(e._tag).toBe("ValidationError")
        }
        expect(yield* databaseDump).toEqual(before)
      })
    )
  )
})

describe("Unicode is stored as valid UTF-8", () => {
  queueTest("emoji at the summary's cut, in every field and in results: every stored text decodes strictly", () =>
    at(
      Effect.gen(function* () {
        const q = yield* TaskQueue
        const { db } = yield* Database
        const a139 = "a".repeat(139)
        const cut = yield* q.submit({ prompt: `${a139}😀 and more`, priority: 10 })
        expect(cut.summary).toBe(`${a139}😀`)
        const cut2 = yield* q.submit({ prompt: `${"b".repeat(140)}😀` })
        expect(cut2.summary).toBe("b".repeat(140))
        yield* q.submit({ prompt: "😀".repeat(300), agentType: "général", inputData: { "clé 🔑": ["日本語", { "𝄞": "👩‍💻" }] } })
        const c = (yield* q.claim({ worker: "wörker 🤖" }))!
        expect(c.id).toBe(cut.id)
        yield* q.complete(c.id, { leaseToken: c.leaseToken, result: { summary: "fini ✅", emoji: "😀" } }, { actor: "wörker 🤖" })
        const d = (yield* q.claim({ worker: "w" }))!
        yield* q.fail(d.id, { leaseToken: d.leaseToken, error: "échec 💥" })
        expect(strictlyDecodeEveryText(db)).toBeGreaterThan(30)
        expect((yield* q.get(cut.id)).summary).toBe(`${a139}😀`)
      })
    )
  )
})
