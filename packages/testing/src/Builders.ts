import type { PlanInput, PlanNodeInput, SubmitTaskInput } from "@abathur/domain"

let counter = 0

/** A valid submission with sensible defaults; override any field. */
export const aTask = (overrides: Partial<SubmitTaskInput> = {}): SubmitTaskInput => ({
  prompt: `task ${++counter}`,
  ...overrides
})

/** A plan node with a key; override any field. */
export const aNode = (key: string, overrides: Partial<PlanNodeInput> = {}): PlanNodeInput => ({
  key,
  prompt: `do ${key}`,
  ...overrides
})

/** Plans of well-known shapes, by key. */
export const Plans = {
  /** k0 <- k1 <- ... <- k(n-1): each depends on the previous one. */
  chain: (n: number, prefix = "c"): PlanInput => ({
    tasks: Array.from({ length: n }, (_, i) => aNode(`${prefix}${i}`, i === 0 ? {} : { dependsOn: [`${prefix}${i - 1}`] }))
  }),
  /** top <- left, right <- bottom. */
  diamond: (): PlanInput => ({
    tasks: [
      aNode("top"),
      aNode("left", { dependsOn: ["top"] }),
      aNode("right", { dependsOn: ["top"] }),
      aNode("bottom", { dependsOn: ["left", "right"] })
    ]
  }),
  /** One root and `n` tasks that each depend on it. */
  fanOut: (n: number): PlanInput => ({
    tasks: [aNode("root"), ...Array.from({ length: n }, (_, i) => aNode(`leaf${i}`, { dependsOn: ["root"] }))]
  }),
  /** `n` independent tasks. */
  independent: (n: number, prefix = "t"): PlanInput => ({
    tasks: Array.from({ length: n }, (_, i) => aNode(`${prefix}${i}`))
  }),
  /**
   * A layered random DAG: `n` tasks, each depending on up to `maxDeps` tasks of earlier
   * layers, `layers` deep. Deterministic for a given seed.
   */
  layered: (n: number, layers: number, maxDeps: number, seed = 1): PlanInput => {
    const rand = mulberry32(seed)
    const perLayer = Math.ceil(n / layers)
    const tasks: Array<PlanNodeInput> = []
    for (let i = 0; i < n; i++) {
      const layer = Math.floor(i / perLayer)
      const deps = new Set<string>()
      if (layer > 0) {
        const k = 1 + Math.floor(rand() * maxDeps)
        // at least one dependency in the previous layer keeps the depth exact
        deps.add(`n${(layer - 1) * perLayer + Math.floor(rand() * perLayer)}`)
        for (let j = 1; j < k; j++) deps.add(`n${Math.floor(rand() * layer * perLayer)}`)
      }
      tasks.push(aNode(`n${i}`, { dependsOn: [...deps].filter((d) => Number(d.slice(1)) < n) }))
    }
    return { tasks }
  }
}

/** A small deterministic PRNG (mulberry32) returning floats in [0, 1). */
export const mulberry32 = (seed: number): (() => number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
