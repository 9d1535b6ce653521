/**
 * Where the time of an operation goes: the task repository wrapped so that every call is
 * timed (self time, nested calls excluded), the engine's code inside the transaction as its
 * own frame, and the Effect runtime around it as what is left of the wall time.
 */
import type { TaskStore } from "@abathur/storage"
import type { Breakdown, CostLine } from "./types.js"

export const ENGINE_FRAME = "engine JS inside the transaction (rules, validation, row mapping outside SQL calls)"
export const TX_FRAME = "BEGIN/COMMIT (store.transaction / store.read wrapper)"
export const OUTER_FRAME = "Effect runtime + service wrapper (outside the transaction)"

export class CostMeter {
  private readonly totals = new Map<string, { calls: number; ms: number }>()
  /** Time spent in nested frames, per open frame. */
  private readonly stack: Array<number> = []

  frame<A>(name: string, f: () => A): A {
    const t0 = performance.now()
    this.stack.push(0)
    try {
      return f()
    } finally {
      const elapsed = performance.now() - t0
      const nested = this.stack.pop()!
      const entry = this.totals.get(name)
      if (entry === undefined) this.totals.set(name, { calls: 1, ms: elapsed - nested })
      else {
        entry.calls++
        entry.ms += elapsed - nested
      }
      if (this.stack.length > 0) this.stack[this.stack.length - 1]! += elapsed
    }
  }

  reset(): void {
    this.totals.clear()
  }

  /** The repository with every method timed. */
  wrap(store: TaskStore): TaskStore {
    const out: Record<string, unknown> = {}
    for (const [key, value] of Object.entries(store)) {
      if (typeof value !== "function") {
        out[key] = value
        continue
      }
      const fn = value as (...args: Array<unknown>) => unknown
      if (key === "transaction" || key === "read") {
        out[key] = (f: () => unknown) => this.frame(TX_FRAME, () => fn(() => this.frame(ENGINE_FRAME, f)))
      } else {
        const name = `store.${key}`
        out[key] = (...args: Array<unknown>) => this.frame(name, () => fn(...args))
      }
    }
    return out as unknown as TaskStore
  }

  /** The cost lines, largest first, per operation. */
  report(op: string, ops: number, wallMs: number): Breakdown {
    const lines: Array<CostLine> = [...this.totals.entries()]
      .map(([name, { calls, ms }]) => ({
        name,
        calls,
        totalMs: ms,
        usPerOp: (ms * 1000) / Math.max(1, ops),
        share: wallMs > 0 ? ms / wallMs : 0
      }))
      .sort((a, b) => b.totalMs - a.totalMs)
    return { op, ops, wallMs, lines }
  }
}
