import fc from "fast-check"
import { describe, expect, it } from "vitest"
import {
  baseScore,
  calculatePriority,
  combine,
  defaultPrioritySettings,
  dependencyScore,
  dependentsForScore,
  formatIssues,
  nextUrgencyRefreshAt,
  priorityBreakdown,
  type PriorityFacts,
  priorityRank,
  rankedScore,
  PrioritySettings,
  type PriorityWeights,
  SourceScores,
  starvationRate,
  starvationScore,
  TaskSources,
  urgencyScore
} from "@abathur/domain"

const NOW = Date.UTC(2026, 0, 31, 12)
const MIN = 60_000
const HOUR = 3_600_000

const facts = (over: Partial<PriorityFacts> = {}): PriorityFacts => ({
  priority: 5,
  source: "human",
  deadline: null,
  estimatedDurationSeconds: null,
  openDependents: 0,
  waitingSince: NOW,
  ...over
})

/** Settings that weigh one factor only, so the score equals that factor. */
const only = (factor: keyof PriorityWeights, extra: Partial<Omit<PrioritySettings, "weights">> = {}) =>
  PrioritySettings.parse({
    weights: { base: 0, urgency: 0, dependency: 0, starvation: 0, source: 0, [factor]: 1 },
    ...extra
  })

describe("factor scores", () => {
  it("base is the submitted priority x 10", () => {
    for (let p = 0; p <= 10; p++) expect(baseScore(p)).toBe(p * 10)
  })

  describe("urgency", () => {
    it("is 0 without a deadline", () => {
      expect(urgencyScore(null, null, NOW, 3600)).toBe(0)
      expect(urgencyScore(null, 600, NOW, 3600)).toBe(0)
    })

    it("is 100 once the deadline is past", () => {
      expect(urgencyScore(NOW - 1, null, NOW, 3600)).toBe(100)
      expect(urgencyScore(NOW - 10 * HOUR, 60, NOW, 3600)).toBe(100)
    })

    it("is 100 at the deadline", () => {
      expect(urgencyScore(NOW, null, NOW, 3600)).toBe(100)
    })

    it("is 100 when the time left is no more than the estimate", () => {
      expect(urgencyScore(NOW + 30 * MIN, 1800, NOW, 3600)).toBe(100)
      expect(urgencyScore(NOW + 30 * MIN, 3600, NOW, 3600)).toBe(100)
      expect(urgencyScore(NOW + 30 * MIN, 1799, NOW, 3600)).toBeLessThan(100)
    })

    it("lies strictly between 0 and 100 before that, and halves per half-life of slack", () => {
      const u = urgencyScore(NOW + 2 * HOUR, null, NOW, 3600)
      expect(u).toBeGreaterThan(0)
      expect(u).toBeLessThan(100)
      expect(u).toBeCloseTo(25, 10)
      expect(urgencyScore(NOW + 2 * HOUR, 3600, NOW, 3600)).toBeCloseTo(50, 10)
    })

    it("rises strictly as the deadline nears", () => {
      const deadline = NOW + 10 * HOUR
      const scores = [0, 1, 2, 4, 6, 8, 9, 9.9].map((h) => urgencyScore(deadline, null, NOW + h * HOUR, 3600))
      for (let i = 1; i < scores.length; i++) expect(scores[i]!).toBeGreaterThan(scores[i - 1]!)
      for (const s of scores) expect(s).toBeGreaterThan(0)
      for (const s of scores) expect(s).toBeLessThan(100)
    })
  })

  describe("dependency", () => {
    it("is 33.33 x log10(1 + n), capped at 100", () => {
      expect(dependencyScore(0)).toBe(0)
      expect(dependencyScore(9)).toBeCloseTo(33.33, 2)
      expect(dependencyScore(99)).toBeCloseTo(66.67, 2)
      expect(dependencyScore(999)).toBeCloseTo(100, 10)
      expect(dependencyScore(1_000_000)).toBe(100)
    })

    it("is read back as the number of dependents it stands for (what `show` explains)", () => {
      for (let n = 0; n <= 999; n++) expect(dependentsForScore(dependencyScore(n))).toBe(n)
      expect(dependentsForScore(100)).toBe(999)
    })

    it("grows with every extra dependent until the cap", () => {
      for (let n = 1; n < 999; n++) expect(dependencyScore(n)).toBeGreaterThan(dependencyScore(n - 1))
    })

    it("treats a negative count as none", () => {
      expect(dependencyScore(-3)).toBe(0)
    })
  })

  describe("starvation", () => {
    it("rises linearly to 100 at the horizon and stays there", () => {
      expect(starvationScore(NOW, NOW, 3600)).toBe(0)
      expect(starvationScore(NOW, NOW + 15 * MIN, 3600)).toBeCloseTo(25, 10)
      expect(starvationScore(NOW, NOW + 30 * MIN, 3600)).toBeCloseTo(50, 10)
      expect(starvationScore(NOW, NOW + HOUR, 3600)).toBe(100)
      expect(starvationScore(NOW, NOW + 10 * HOUR, 3600)).toBe(100)
    })

    it("follows a configured horizon", () => {
      expect(starvationScore(NOW, NOW + HOUR, 7200)).toBeCloseTo(50, 10)
    })

    it("is 0 before the task starts waiting", () => {
      expect(starvationScore(NOW + HOUR, NOW, 3600)).toBe(0)
    })
  })

  it("source scores human 100, agent_requirements 75, agent_planner 50, agent_implementation 25", () => {
    expect(SourceScores).toEqual({ human: 100, agent_requirements: 75, agent_planner: 50, agent_implementation: 25 })
    for (const source of TaskSources) {
      expect(priorityBreakdown(facts({ source }), NOW).source).toBe(SourceScores[source])
    }
  })
})

describe("priorityBreakdown", () => {
  it("explains a task factor by factor", () => {
    const b = priorityBreakdown(
      facts({ priority: 7, source: "agent_planner", deadline: NOW + HOUR, openDependents: 9, waitingSince: NOW - 30 * MIN }),
      NOW
    )
    expect(b.base).toBe(70)
    expect(b.urgency).toBeCloseTo(50, 10)
    expect(b.dependency).toBeCloseTo(33.33, 2)
    expect(b.starvation).toBeCloseTo(50, 10)
    expect(b.source).toBe(50)
  })
})

describe("weights", () => {
  it("default weights are base 1, urgency 2, dependency 1.5, starvation 0.5, source 1", () => {
    expect(defaultPrioritySettings.weights).toEqual({ base: 1, urgency: 2, dependency: 1.5, starvation: 0.5, source: 1 })
    expect(defaultPrioritySettings.starvationHorizonSeconds).toBe(3600)
    expect(defaultPrioritySettings.refreshStep).toBeGreaterThan(0)
    expect(defaultPrioritySettings.refreshStep).toBeLessThanOrEqual(1)
  })

  it("the score is the weighted mean of the factors", () => {
    // base 50, urgency 0, dependency 0, starvation 0, source 100: (1*50 + 1*100) / 6
    expect(calculatePriority(facts(), NOW)).toBeCloseTo(25, 10)
    const b = { base: 80, urgency: 40, dependency: 20, starvation: 60, source: 100 }
    expect(combine(b)).toBeCloseTo((80 + 2 * 40 + 1.5 * 20 + 0.5 * 60 + 100) / 6, 10)
  })

  it("a single weighted factor gives that factor's score", () => {
    const f = facts({ priority: 3, source: "agent_implementation", openDependents: 99, waitingSince: NOW - 15 * MIN })
    expect(calculatePriority(f, NOW, only("base"))).toBeCloseTo(30, 10)
    expect(calculatePriority(f, NOW, only("source"))).toBeCloseTo(25, 10)
    expect(calculatePriority(f, NOW, only("dependency"))).toBeCloseTo(66.67, 2)
    expect(calculatePriority(f, NOW, only("starvation"))).toBeCloseTo(25, 10)
    expect(calculatePriority(f, NOW, only("urgency"))).toBe(0)
  })

  it("changing a weight changes the score", () => {
    const f = facts({ priority: 2, deadline: NOW + 10 * MIN })
    const heavierUrgency = PrioritySettings.parse({ weights: { urgency: 6 } })
    const noUrgency = PrioritySettings.parse({ weights: { urgency: 0 } })
    const d = calculatePriority(f, NOW)
    expect(calculatePriority(f, NOW, heavierUrgency)).toBeGreaterThan(d)
    expect(calculatePriority(f, NOW, noUrgency)).toBeLessThan(d)
  })

  it("the same weights scaled give the same score", () => {
    const f = facts({ priority: 8, deadline: NOW + HOUR, openDependents: 3 })
    const doubled = PrioritySettings.parse({ weights: { base: 2, urgency: 4, dependency: 3, starvation: 1, source: 2 } })
    expect(calculatePriority(f, NOW, doubled)).toBeCloseTo(calculatePriority(f, NOW), 10)
  })

  it("PrioritySettings rejects all-zero weights", () => {
    const r = PrioritySettings.safeParse({ weights: { base: 0, urgency: 0, dependency: 0, starvation: 0, source: 0 } })
    expect(r.success).toBe(false)
    if (!r.success) expect(formatIssues(r.error)).toContain("at least one priority weight must be above 0")
  })

  it("PrioritySettings rejects negative weights and non-positive horizons", () => {
    expect(PrioritySettings.safeParse({ weights: { base: -1 } }).success).toBe(false)
    expect(PrioritySettings.safeParse({ starvationHorizonSeconds: 0 }).success).toBe(false)
    expect(PrioritySettings.safeParse({ urgencyHalfLifeSeconds: -5 }).success).toBe(false)
    expect(PrioritySettings.safeParse({ refreshStep: 0 }).success).toBe(false)
    expect(PrioritySettings.safeParse({ refreshStep: 1.5 }).success).toBe(false)
  })
})

// ---------------------------------------------------------------------------------------------
// Properties over random facts, times and settings.

const time = fc.integer({ min: NOW - 100 * HOUR, max: NOW + 100 * HOUR })
const arbFacts: fc.Arbitrary<PriorityFacts> = fc.record({
  priority: fc.integer({ min: 0, max: 10 }),
  source: fc.constantFrom(...TaskSources),
  deadline: fc.option(time, { nil: null }),
  estimatedDurationSeconds: fc.option(fc.integer({ min: 0, max: 50 * 3600 }), { nil: null }),
  openDependents: fc.integer({ min: 0, max: 5000 }),
  waitingSince: time
})
const weight = fc.oneof(fc.constant(0), fc.double({ min: 0, max: 10, noNaN: true }))
const arbSettings: fc.Arbitrary<PrioritySettings> = fc
  .record({
    weights: fc.record({ base: weight, urgency: weight, dependency: weight, starvation: weight, source: weight }),
    // fractional seconds on purpose: horizon ends need not fall on a whole millisecond
    starvationHorizonSeconds: fc.double({ min: 0.001, max: 100 * 3600, noNaN: true }),
    urgencyHalfLifeSeconds: fc.double({ min: 0.001, max: 100 * 3600, noNaN: true }),
    refreshStep: fc.double({ min: 0.01, max: 1, noNaN: true })
  })
  .filter((s) => Object.values(s.weights).some((w) => w > 0))
  .map((s) => PrioritySettings.parse(s))
const settingsOrDefault = fc.oneof(fc.constant(defaultPrioritySettings), arbSettings)

describe("calculatePriority (properties)", () => {
  it("always lies within [0, 100], and so does every factor", () => {
    fc.assert(
      fc.property(arbFacts, time, settingsOrDefault, (f, now, s) => {
        const score = calculatePriority(f, now, s)
        expect(score).toBeGreaterThanOrEqual(0)
        expect(score).toBeLessThanOrEqual(100)
        for (const v of Object.values(priorityBreakdown(f, now, s))) {
          expect(v).toBeGreaterThanOrEqual(0)
          expect(v).toBeLessThanOrEqual(100)
        }
      }),
      { numRuns: 500 }
    )
  })

  it("never falls as time passes", () => {
    fc.assert(
      fc.property(arbFacts, time, fc.integer({ min: 0, max: 200 * HOUR }), settingsOrDefault, (f, t, dt, s) => {
        expect(calculatePriority(f, t + dt, s)).toBeGreaterThanOrEqual(calculatePriority(f, t, s))
      }),
      { numRuns: 500 }
    )
  })

  it("a higher base priority never lowers the score", () => {
    fc.assert(
      fc.property(arbFacts, time, (f, now) => {
        const lower = calculatePriority({ ...f, priority: Math.max(0, f.priority - 1) }, now)
        expect(calculatePriority(f, now)).toBeGreaterThanOrEqual(lower)
      })
    )
  })
})

const arbFactsNear = fc.record({
  priority: fc.integer({ min: 0, max: 10 }),
  source: fc.constantFrom(...TaskSources),
  deadline: fc.option(fc.integer({ min: NOW - 3 * HOUR, max: NOW + 48 * HOUR }), { nil: null }),
  estimatedDurationSeconds: fc.option(fc.integer({ min: 0, max: 6 * 3600 }), { nil: null }),
  openDependents: fc.integer({ min: 0, max: 2000 }),
  waitingSince: fc.integer({ min: NOW - 3 * HOUR, max: NOW + MIN })
})

/** Weights that are 0 or not denormal, and a horizon of a minute or more (rank arithmetic stays exact to 1e-4). */
const sane = (s: PrioritySettings) => Object.values(s.weights).every((w) => w === 0 || w >= 1e-6) && s.starvationHorizonSeconds >= 60

describe("starvationRate", () => {
  it("is the weighted starvation points per millisecond: 100 x 0.5 / 6 over an hour by default", () => {
    expect(starvationRate()).toBeCloseTo((100 * 0.5) / 6 / HOUR, 15)
    expect(starvationRate(only("base"))).toBe(0)
    expect(starvationRate(only("starvation", { starvationHorizonSeconds: 100 }))).toBeCloseTo(100 / 100_000, 15)
  })
})

describe("priorityRank", () => {
  it("ranked back at any later instant before its refresh, stands within refreshStep below the formula", () => {
    fc.assert(
      fc.property(
        arbFactsNear,
        settingsOrDefault,
        fc.integer({ min: 0, max: 10 * HOUR }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (f, s, offset, frac) => {
          fc.pre(sane(s))
          const r = priorityRank(f, NOW, s)
          expect(r.calculatedPriority).toBe(calculatePriority(f, NOW, s))
          // At the instant it was computed, the rank stands exactly for the score.
          expect(rankedScore({ ...r, waitingSince: f.waitingSince }, NOW, s)).toBeCloseTo(r.calculatedPriority, 4)
          // Any instant up to (not including) the refresh.
          const until = r.refreshAt ?? NOW + offset + 1
          const later = NOW + Math.floor(frac * (until - NOW - 1))
          const truth = calculatePriority(f, later, s)
          const ranked = rankedScore({ ...r, waitingSince: f.waitingSince }, later, s)
          expect(ranked).toBeLessThanOrEqual(truth + 1e-6)
          expect(truth - ranked).toBeLessThan(s.refreshStep + 1e-6)
        }
      ),
      { numRuns: 2000 }
    )
  })

  it("orders tasks short of the horizon by score at every later instant, without a refresh", () => {
    fc.assert(
      fc.property(arbFactsNear, arbFactsNear, fc.integer({ min: 0, max: 30 * MIN }), (a0, b0, dt) => {
        // (A wait that starts later than now, seen through a clock behind the submitter's, is
        // ranked as if it started now: off by the skew times the rate, not tested here.)
        const a = { ...a0, deadline: null, waitingSince: Math.min(a0.waitingSince, NOW) }
        const b = { ...b0, deadline: null, waitingSince: Math.min(b0.waitingSince, NOW) }
        const ra = priorityRank(a, NOW),
          rb = priorityRank(b, NOW)
        fc.pre(!ra.starved && !rb.starved && ra.refreshAt! > NOW + dt && rb.refreshAt! > NOW + dt)
        const later = NOW + dt
        const byRank = Math.sign(ra.rank - rb.rank)
        const byScore = Math.sign(calculatePriority(a, later) - calculatePriority(b, later))
        if (Math.abs(calculatePriority(a, later) - calculatePriority(b, later)) > 1e-6) expect(byRank).toBe(byScore)
      }),
      { numRuns: 2000 }
    )
  })

  it("a task without a deadline is refreshed once: when it crosses the starvation horizon", () => {
    const r = priorityRank(facts({ waitingSince: NOW - 10 * MIN }), NOW)
    expect(r.starved).toBe(false)
    expect(r.refreshAt).toBe(NOW + 50 * MIN)
    const after = priorityRank(facts({ waitingSince: NOW - 10 * MIN }), r.refreshAt!)
    expect(after).toMatchObject({ starved: true, refreshAt: null })
    expect(after.rank).toBeCloseTo((50 + 50 + 100) / 6, 5)
  })

  it("is starved at once when starvation weighs nothing (nothing to cross)", () => {
    const s = only("base")
    expect(priorityRank(facts(), NOW, s)).toEqual({ calculatedPriority: 50, rank: 50, starved: true, refreshAt: null })
  })

  it("stands for the true score when a clock behind the submitter's sees a wait that starts later", () => {
    const f = facts({ waitingSince: NOW + 5_000 })
    const r = priorityRank(f, NOW)
    for (const t of [NOW, NOW + 5_000, NOW + 20 * MIN]) {
      expect(rankedScore({ ...r, waitingSince: f.waitingSince }, t)).toBeCloseTo(calculatePriority(f, t), 5)
    }
  })
})

describe("nextUrgencyRefreshAt", () => {
  it("returns the first millisecond at which weighted urgency has risen by refreshStep", () => {
    fc.assert(
      fc.property(arbFactsNear, settingsOrDefault, (f, s) => {
        fc.pre(sane(s))
        const w = s.weights
        const total = w.base + w.urgency + w.dependency + w.starvation + w.source
        const weighted = (t: number) => (w.urgency * urgencyScore(f.deadline, f.estimatedDurationSeconds, t, s.urgencyHalfLifeSeconds)) / total
        const at = nextUrgencyRefreshAt(f, NOW, s)
        if (at === null) {
          // Nothing left to rise: no deadline, no weight, or already full.
          expect(f.deadline === null || w.urgency === 0 || weighted(NOW) === (w.urgency * 100) / total).toBe(true)
        } else {
          expect(Number.isInteger(at)).toBe(true)
          expect(at).toBeGreaterThan(NOW)
          const reached = weighted(at) >= weighted(NOW) + s.refreshStep - 1e-9 || weighted(at) === (w.urgency * 100) / total
          expect(reached).toBe(true)
          expect(weighted(at - 1)).toBeLessThan(weighted(NOW) + s.refreshStep + 1e-9)
        }
      }),
      { numRuns: 2000 }
    )
  })

  it("is the instant urgency becomes 100 when less than a step remains", () => {
    const f = facts({ deadline: NOW + 60_000, estimatedDurationSeconds: 30 })
    expect(nextUrgencyRefreshAt(f, NOW)).toBe(NOW + 30_000)
  })

  it("is null past the deadline or without one", () => {
    expect(nextUrgencyRefreshAt(facts({ deadline: NOW - MIN }), NOW)).toBeNull()
    expect(nextUrgencyRefreshAt(facts(), NOW)).toBeNull()
    expect(nextUrgencyRefreshAt(facts({ deadline: NOW + HOUR }), NOW, only("base"))).toBeNull()
  })
})
