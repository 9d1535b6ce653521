/** task_claim with waitSeconds: the host's work signal, and polling without one. */
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import type { WaitForWork } from "../src/index.js"
import { open } from "./harness.js"

describe("task_claim with waitSeconds and a host's work signal", () => {
  /** A signal the test fires by hand: records how often it was taken and what each wait was given. */
  const manualSignal = () => {
    const state = { taken: 0, waits: [] as Array<number>, fire: undefined as ((go: boolean) => void) | undefined, scopes: 0, closed: 0 }
    const waitForWork: WaitForWork = Effect.acquireRelease(
      Effect.sync(() => {
        state.scopes++
      }),
      () =>
        Effect.sync(() => {
          state.closed++
        })
    ).pipe(
      Effect.as({
        next: Effect.sync(() => {
          state.taken++
          return (millis: number) =>
            Effect.async<boolean>((resume) => {
              state.waits.push(millis)
              state.fire = (go) => resume(Effect.succeed(go))
            })
        })
      })
    )
    return { state, waitForWork }
  }

  const until = async (ok: () => boolean) => {
    for (let i = 0; i < 1_000 && !ok(); i++) await new Promise((r) => setTimeout(r, 5))
    expect(ok()).toBe(true)
  }

  it("waits on the signal (taken before each attempt) and returns the task made ready meanwhile", async () => {
    const { state, waitForWork } = manualSignal()
    const h = await open({ waitForWork })
    try {
      const pending = h.ok("task_claim", { worker: "agent", waitSeconds: 30 })
      await until(() => state.fire !== undefined)
      expect(state).toMatchObject({ taken: 1, scopes: 1, closed: 0 })
      expect(state.waits[0]).toBeGreaterThan(0)
      expect(state.waits[0]).toBeLessThanOrEqual(30_000)
      const task = await h.ok("task_enqueue", { prompt: "wake the agent" })
      state.fire!(true)
      const claimed = await pending
      expect(claimed.task).toMatchObject({ id: task.id, status: "running" })
      expect(typeof claimed.task.leaseToken).toBe("string")
      expect(state).toMatchObject({ taken: 2, scopes: 1, closed: 1 })
      // Without waitSeconds the signal is not used.
      expect(await h.ok("task_claim", {})).toEqual({ task: null })
      expect(state.scopes).toBe(1)
    } finally {
      await h.close()
    }
  })

  it("a wait that answers false ends the claim with no task; a ready task is claimed without waiting", async () => {
    const { state, waitForWork } = manualSignal()
    const h = await open({ waitForWork })
    try {
      const pending = h.ok("task_claim", { waitSeconds: 30 })
      await until(() => state.fire !== undefined)
      state.fire!(false)
      expect(await pending).toEqual({ task: null })
      expect(state.closed).toBe(1)
      const task = await h.ok("task_enqueue", { prompt: "already there" })
      expect((await h.ok("task_claim", { waitSeconds: 30 })).task.id).toBe(task.id)
      expect(state.waits).toHaveLength(1)
    } finally {
      await h.close()
    }
  })

  it("without a signal (stdio) it polls, and still finds a task submitted while it waits", async () => {
    const h = await open()
    try {
      const pending = h.ok("task_claim", { waitSeconds: 20 })
      await new Promise((r) => setTimeout(r, 300))
      const task = await h.ok("task_enqueue", { prompt: "found by polling" })
      expect((await pending).task.id).toBe(task.id)
    } finally {
      await h.close()
    }
  })
})
