import fc from "fast-check"
import { describe, expect, it } from "vitest"
import {
  baseScore,
  calculatePriority,
  combine,
  defaultPrioritySettings,
  dependencyScore,
  formatIssues,
  nextRefreshAt,
  priorityBreakdown,
  type PriorityFacts,
  PrioritySettings,
  PriorityWeights,
  SourceScores,
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

describe("nextRefreshAt", () => {
  it("returns the first millisecond at which the score has risen by refreshStep", () => {
    fc.assert(
      fc.property(arbFacts, time, settingsOrDefault, (f, now, s) => {
        const target = calculatePriority(f, now, s) + s.refreshStep
        const at = nextRefreshAt(f, now, s)
        if (at === null) {
          // it never rises that far: not even long after every factor has stopped moving
          const far = Math.max(now, f.waitingSince, f.deadline ?? now) + 1000 * HOUR + s.starvationHorizonSeconds * 1000
          expect(calculatePriority(f, far, s)).toBeLessThan(target)
        } else {
          expect(Number.isInteger(at)).toBe(true)
          expect(at).toBeGreaterThan(now)
          expect(calculatePriority(f, at, s)).toBeGreaterThanOrEqual(target)
          expect(calculatePriority(f, at - 1, s)).toBeLessThan(target)
        }
      }),
      { numRuns: 1000 }
    )
  })

  it("a fresh task with default settings moves half a point after 3.6 minutes of waiting (starvation)", () => {
    // score = 25 + (0.5 / 6) x 100 x waited / 1 h: +0.5 after 216 s
    const at = nextRefreshAt(facts(), NOW)
    expect(at).not.toBeNull()
    expect(Math.abs(at! - (NOW + 216_000))).toBeLessThanOrEqual(1)
  })

  it("is null when starvation is already capped and there is no deadline", () => {
    expect(nextRefreshAt(facts({ waitingSince: NOW - 2 * HOUR }), NOW)).toBeNull()
    expect(nextRefreshAt(facts({ waitingSince: NOW - 2 * HOUR, openDependents: 50, priority: 10 }), NOW)).toBeNull()
  })

  it("is null when the deadline is past and starvation capped (nothing moves any more)", () => {
    expect(nextRefreshAt(facts({ waitingSince: NOW - 2 * HOUR, deadline: NOW - MIN }), NOW)).toBeNull()
  })

  it("is null when the score is too close to 100 to rise a whole step", () => {
    const s = PrioritySettings.parse({ refreshStep: 1 })
    const f = facts({ priority: 10, openDependents: 999, deadline: NOW - 1, waitingSince: NOW - HOUR + 1000 })
    expect(calculatePriority(f, NOW, s)).toBeGreaterThan(99)
    expect(nextRefreshAt(f, NOW, s)).toBeNull()
  })

  it("is driven by an approaching deadline once starvation is capped", () => {
    const f = facts({ waitingSince: NOW - 2 * HOUR, deadline: NOW + 5 * HOUR, estimatedDurationSeconds: 3600 })
    const at = nextRefreshAt(f, NOW)
    expect(at).not.toBeNull()
    expect(at!).toBeLessThanOrEqual(NOW + 4 * HOUR)
    expect(calculatePriority(f, at!)).toBeGreaterThanOrEqual(calculatePriority(f, NOW) + defaultPrioritySettings.refreshStep)
  })

  it("waits for a task that starts waiting in the future", () => {
    const f = facts({ waitingSince: NOW + HOUR })
    const at = nextRefreshAt(f, NOW)
    expect(at).not.toBeNull()
    expect(at!).toBeGreaterThan(NOW + HOUR)
  })

  it("terminates when a horizon ends on a fractional millisecond (regression: it used to loop forever)", () => {
    const s = PrioritySettings.parse({
      weights: { base: 0, urgency: 0, dependency: 0, source: 0, starvation: 1 },
      starvationHorizonSeconds: 1.0005,
      refreshStep: 0.1
    })
    const f = facts({ waitingSince: 0 })
    const at = nextRefreshAt(f, 999, s)
    expect(at).toBe(1001)
    expect(calculatePriority(f, 1001, s)).toBeGreaterThanOrEqual(calculatePriority(f, 999, s) + 0.1)
  })
})
