import * as z from "zod"
import type { TaskSource } from "./TaskSource.js"

/**
 * Computed priority: a weighted mean of five factor scores, each in [0, 100].
 *
 * - base: the submitted priority (0..10) x 10
 * - urgency: 0 without a deadline; 100 once the time left is no more than the estimated
 *   duration; in between it halves for every `urgencyHalfLifeSeconds` of slack
 * - dependency: 33.33 x log10(1 + open direct dependents), capped at 100
 * - starvation: rises linearly with time waited, 100 after `starvationHorizonSeconds`
 * - source: human 100, agent_requirements 75, agent_planner 50, agent_implementation 25
 */
export const PriorityWeights = z.object({
  base: z.number().min(0).default(1.0),
  urgency: z.number().min(0).default(2.0),
  dependency: z.number().min(0).default(1.5),
  starvation: z.number().min(0).default(0.5),
  source: z.number().min(0).default(1.0)
})
export type PriorityWeights = z.output<typeof PriorityWeights>

export const PrioritySettings = z
  .object({
    weights: PriorityWeights.default(PriorityWeights.parse({})),
    starvationHorizonSeconds: z.number().positive().default(3600),
    urgencyHalfLifeSeconds: z.number().positive().default(3600),
    /** A stored score is refreshed once the formula has moved this far from it (points). */
    refreshStep: z.number().positive().max(1).default(0.5)
  })
  .refine((s) => Object.values(s.weights).some((w) => w > 0), { error: "at least one priority weight must be above 0" })
export type PrioritySettings = z.output<typeof PrioritySettings>

export const defaultPrioritySettings: PrioritySettings = PrioritySettings.parse({})

export const SourceScores: Readonly<Record<TaskSource, number>> = {
  human: 100,
  agent_requirements: 75,
  agent_planner: 50,
  agent_implementation: 25
}

/** The facts about a task that its priority depends on. Times are epoch milliseconds. */
export interface PriorityFacts {
  readonly priority: number
  readonly source: TaskSource
  readonly deadline: number | null
  readonly estimatedDurationSeconds: number | null
  /** Open tasks that directly depend on this one. */
  readonly openDependents: number
  /** When the task started waiting (its submission). */
  readonly waitingSince: number
}

/** The five factors, in the order people read them. */
export const PriorityFactors = ["base", "urgency", "dependency", "starvation", "source"] as const
export type PriorityFactor = (typeof PriorityFactors)[number]

const perFactor = (description: string) =>
  z.object({ base: z.number(), urgency: z.number(), dependency: z.number(), starvation: z.number(), source: z.number() }).meta({ description })

/** Each factor's score in [0, 100]. */
export const PriorityBreakdown = perFactor("The factor scores (0..100) whose weighted mean is calculatedPriority.")
export type PriorityBreakdown = z.output<typeof PriorityBreakdown>

/**
 * A score explained with the queue's own settings (not the defaults): each factor's weight and the
 * points it adds (weight x score / sum of weights), their sum at the instant of the read, and the
 * horizons behind starvation and urgency.
 */
export const PriorityExplanation = z
  .object({
    weights: perFactor("The weights the queue is configured with."),
    contributions: perFactor("The points each factor adds to the score: weight x score / the sum of the weights."),
    score: z
      .number()
      .meta({ description: "The sum of the contributions at the instant of the read (the stored score may lag behind while the task waits)." }),
    starvationHorizonSeconds: z.number().meta({ description: "Waiting this long gives the full starvation score." }),
    urgencyHalfLifeSeconds: z.number().meta({ description: "Urgency halves for every this many seconds of slack before the deadline." })
  })
  .meta({ description: "The priority, factor by factor, with the queue's configured weights." })
export type PriorityExplanation = z.output<typeof PriorityExplanation>

const clamp = (x: number) => Math.max(0, Math.min(x, 100))

export const baseScore = (priority: number): number => clamp(priority * 10)

export const urgencyScore = (deadline: number | null, estimatedDurationSeconds: number | null, now: number, halfLifeSeconds: number): number => {
  if (deadline === null) return 0
  const slackSeconds = (deadline - now) / 1000 - (estimatedDurationSeconds ?? 0)
  if (slackSeconds <= 0) return 100
  return 100 * 2 ** (-slackSeconds / halfLifeSeconds)
}

export const dependencyScore = (openDependents: number): number => clamp((100 / 3) * Math.log10(1 + Math.max(0, openDependents)))

/**
 * The open direct dependents a dependency score stands for: the inverse of `dependencyScore`
 * (what `show` explains); at the cap, 999 or more.
 */
export const dependentsForScore = (score: number): number => Math.round(10 ** ((clamp(score) * 3) / 100) - 1)

export const starvationScore = (waitingSince: number, now: number, horizonSeconds: number): number =>
  clamp((100 * (now - waitingSince)) / 1000 / horizonSeconds)

/** Each factor's score in [0, 100] at the instant `now`. */
export const priorityBreakdown = (facts: PriorityFacts, now: number, settings: PrioritySettings = defaultPrioritySettings): PriorityBreakdown => ({
  base: baseScore(facts.priority),
  urgency: urgencyScore(facts.deadline, facts.estimatedDurationSeconds, now, settings.urgencyHalfLifeSeconds),
  dependency: dependencyScore(facts.openDependents),
  starvation: starvationScore(facts.waitingSince, now, settings.starvationHorizonSeconds),
  source: SourceScores[facts.source]
})

/** The weighted mean of a breakdown, in [0, 100]. */
export const combine = (b: PriorityBreakdown, settings: PrioritySettings = defaultPrioritySettings): number => {
  const w = settings.weights
  const total = w.base + w.urgency + w.dependency + w.starvation + w.source
  return clamp((w.base * b.base + w.urgency * b.urgency + w.dependency * b.dependency + w.starvation * b.starvation + w.source * b.source) / total)
}

/** `calculated_priority` of a task at the instant `now`. */
export const calculatePriority = (facts: PriorityFacts, now: number, settings: PrioritySettings = defaultPrioritySettings): number =>
  combine(priorityBreakdown(facts, now, settings), settings)

/**
 * Points per millisecond that starvation adds to every waiting task's score, until the task
 * reaches the horizon. It is the same for every task: that is what makes the claim order of
 * tasks that have not reached the horizon independent of time (see `priorityRank`).
 */
export const starvationRate = (settings: PrioritySettings = defaultPrioritySettings): number => {
  const w = settings.weights
  const total = w.base + w.urgency + w.dependency + w.starvation + w.source
  return (w.starvation * 100) / total / (settings.starvationHorizonSeconds * 1000)
}

/**
 * Where a waiting task stands in the claim order, and until when that stays true.
 *
 * Starvation rises at the same rate for every task that has waited less than the horizon,
 * so for those tasks `score(t) - rate * t` does not change with time: it is their `rank`, and
 * their order by rank is their order by score at any instant. Tasks past the horizon
 * (`starved`) have a constant starvation factor, so their rank is simply their score. The
 * claim compares the best of each class at the current instant (`rankedScore`).
 *
 * What still moves with time is urgency, and the moment a task reaches the horizon:
 * `refreshAt` is the first of the instant urgency has risen by `refreshStep` points and the
 * instant the task crosses the horizon (null: never). A task without a deadline is therefore
 * refreshed at most once while it waits, however long that is.
 */
export interface PriorityRank {
  /** The score at `now`. */
  readonly calculatedPriority: number
  readonly rank: number
  readonly starved: boolean
  readonly refreshAt: number | null
}

export const priorityRank = (facts: PriorityFacts, now: number, settings: PrioritySettings = defaultPrioritySettings): PriorityRank => {
  const score = calculatePriority(facts, now, settings)
  const rate = starvationRate(settings)
  const horizonAt = facts.waitingSince + settings.starvationHorizonSeconds * 1000
  const starved = rate === 0 || now >= horizonAt
  const urgencyAt = nextUrgencyRefreshAt(facts, now, settings)
  const refreshAt = starved ? urgencyAt : urgencyAt === null ? Math.ceil(horizonAt) : Math.min(urgencyAt, Math.ceil(horizonAt))
  // Less the starvation earned so far and the rate times the start of the wait: what remains
  // does not move with time while the task is short of the horizon.
  const rank = starved ? score : score - rate * Math.max(now, facts.waitingSince)
  return { calculatedPriority: score, rank: toMicropoint(rank), starved, refreshAt }
}

/**
 * Ranks are kept to a millionth of a point: two tasks with the same score, reached along
 * different paths of floating-point arithmetic, then have the same rank, and the tie goes
 * to the older one as it should (not to a rounding error).
 */
const toMicropoint = (x: number): number => Math.round(x * 1e6) / 1e6

/**
 * The score a stored rank stands for at `now`. Exact for a task without a deadline; for one
 * with a deadline it is at most `refreshStep` below the formula until the rank's `refreshAt`.
 */
export const rankedScore = (
  rank: { readonly rank: number; readonly starved: boolean; readonly waitingSince: number },
  now: number,
  settings: PrioritySettings = defaultPrioritySettings
): number => {
  if (rank.starved) return rank.rank
  const horizonAt = rank.waitingSince + settings.starvationHorizonSeconds * 1000
  return toMicropoint(rank.rank + starvationRate(settings) * Math.min(Math.max(now, rank.waitingSince), horizonAt))
}

/**
 * The first instant after `now` at which the weighted urgency has risen by `refreshStep`
 * points, or null when it never will (no deadline, no urgency weight, or already at 100).
 * Urgency is 100 x 2^(-slack / half-life), so the instant has a closed form.
 */
export const nextUrgencyRefreshAt = (facts: PriorityFacts, now: number, settings: PrioritySettings = defaultPrioritySettings): number | null => {
  const w = settings.weights
  if (facts.deadline === null || w.urgency === 0) return null
  const total = w.base + w.urgency + w.dependency + w.starvation + w.source
  const full = (w.urgency * 100) / total
  // The instant urgency reaches 100: the time left equals the estimate.
  const fullAt = facts.deadline - (facts.estimatedDurationSeconds ?? 0) * 1000
  if (now >= fullAt) return null
  const target =
    (w.urgency * urgencyScore(facts.deadline, facts.estimatedDurationSeconds, now, settings.urgencyHalfLifeSeconds)) / total + settings.refreshStep
  if (target >= full) return Math.ceil(fullAt)
  // full x 2^(-slack / halfLife) = target  <=>  slack = -halfLife x log2(target / full)
  const slackMs = -settings.urgencyHalfLifeSeconds * 1000 * Math.log2(target / full)
  return Math.max(Math.floor(now) + 1, Math.ceil(fullAt - slackMs))
}

/** A breakdown explained with `settings` (the queue's configuration). */
export const explainPriority = (b: PriorityBreakdown, settings: PrioritySettings = defaultPrioritySettings): PriorityExplanation => {
  const w = settings.weights
  const total = PriorityFactors.reduce((sum, f) => sum + w[f], 0)
  const contributions = Object.fromEntries(PriorityFactors.map((f) => [f, (w[f] * b[f]) / total])) as PriorityBreakdown
  return {
    weights: { base: w.base, urgency: w.urgency, dependency: w.dependency, starvation: w.starvation, source: w.source },
    contributions,
    score: PriorityFactors.reduce((sum, f) => sum + contributions[f], 0),
    starvationHorizonSeconds: settings.starvationHorizonSeconds,
    urgencyHalfLifeSeconds: settings.urgencyHalfLifeSeconds
  }
}
