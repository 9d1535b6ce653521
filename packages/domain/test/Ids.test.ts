import { describe, expect, it } from "vitest"
import { newTaskId, TaskId } from "../src/index.js"

describe("newTaskId", () => {
  it("makes version-4 UUIDs that TaskId accepts", () => {
    for (let i = 0; i < 1000; i++) {
      const id = newTaskId()
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
      expect(TaskId.parse(id)).toBe(id)
    }
  })

  it("gives ids made in one burst distinct first 8 hex digits (the CLI's short ids), in order", () => {
    const ids = Array.from({ length: 100_000 }, () => newTaskId())
    expect(new Set(ids.map((id) => id.slice(0, 8))).size).toBe(ids.length)
    // Increasing, except once if the 32-bit microsecond clock wraps during the burst.
    let descents = 0
    for (let i = 1; i < ids.length; i++) if (ids[i]! < ids[i - 1]!) descents++
    expect(descents).toBeLessThanOrEqual(1)
  })

  it("reads the microsecond clock in its first 32 bits", () => {
    const before = Math.floor((performance.timeOrigin + performance.now()) * 1000) % 2 ** 32
    const first = Number.parseInt(newTaskId().slice(0, 8), 16)
    // Within a second of the clock, modulo the wrap (and ahead of it only by ids handed out).
    const ahead = (first - before + 2 ** 32) % 2 ** 32
    expect(ahead).toBeLessThan(1_000_000)
  })

  it("keeps 90 random bits: no two of many ids share their tail", () => {
    const tails = new Set(Array.from({ length: 50_000 }, () => newTaskId().slice(9)))
    expect(tails.size).toBe(50_000)
  })
})
