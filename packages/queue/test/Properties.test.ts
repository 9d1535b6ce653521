import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import { properties, runnerBounds } from "./suites/Properties.js"
import { sqlite } from "./TestQueue.js"

properties(sqlite)

describe("the property runner's bounds", () => {
  it("a run cut short by the time limit fails instead of passing quietly", async () => {
    const slow = fc.asyncProperty(fc.nat(), () => new Promise<void>((resolve) => setTimeout(resolve, 20)))
    await expect(fc.assert(slow, { ...runnerBounds, numRuns: 1000, interruptAfterTimeLimit: 100 })).rejects.toThrow(/interrupted/i)
  })
})
