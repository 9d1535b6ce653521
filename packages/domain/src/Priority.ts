import { z } from "zod"
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
  .refine(
    (s) => Object.values(s.weights).some((w) => w > 0),
    { error: "at least one priority weight must be above 0" }
  )
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

export interface PriorityBreakdown {
  readonly base: number
  readonly urgency: number
  readonly dependency: number
  readonly starvation: number
  readonly source: number
}

const clamp = (x: number) => (x < 0 ? 0 : x > 100 ? 100 : x)

export const baseScore = (priority: number): number => clamp(priority * 10)

export const urgencyScore = (
  deadline: number | null,
  estimatedDurationSeconds: number | null,
  now: number,
  halfLifeSeconds: number
): number => {
  if (deadline === null) return 0
  const slackSeconds = (deadline - now) / 1000 - (estimatedDurationSeconds ?? 0)
  if (slackSeconds <= 0) return 100
  return 100 * Math.pow(2, -slackSeconds / halfLifeSeconds)
}

export const dependencyScore = (openDependents: number): number =>
  clamp((100 / 3) * Math.log10(1 + Math.max(0, openDependents)))

export const starvationScore = (waitingSince: number, now: number, horizonSeconds: number): number =>
  clamp((100 * (now - waitingSince)) / 1000 / horizonSeconds)

/** Each factor's score in [0, 100] at the instant `now`. */
export const priorityBreakdown = (
  facts: PriorityFacts,
  now: number,
  settings: PrioritySettings = defaultPrioritySettings
): PriorityBreakdown => ({
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
  return clamp(
    (w.base * b.base + w.urgency * b.urgency + w.dependency * b.dependency + w.starvation * b.starvation +
      w.source * b.source) /
      total
  )
}

/** `calculated_priority` of a task at the instant `now`. */
export const calculatePriority = (
  facts: PriorityFacts,
  now: number,
  settings: PrioritySettings = defaultPrioritySettings
): number => combine(priorityBreakdown(facts, now, settings), settings)

/**
 * The first instant after `now` at which the score will have risen by `refreshStep` points,
 * or null when it never will. The score never falls as time passes (urgency and starvation
 * only rise), so until that instant a score stored at `now` is less than `refreshStep`
 * below the formula: this is what keeps stored scores fresh without scanning the queue.
 */
export const nextRefreshAt = (
  facts: PriorityFacts,
  now: number,
  settings: PrioritySettings = defaultPrioritySettings
): number | null => {
  const score = (t: number) => calculatePriority(facts, t, settings)
  const target = score(now) + settings.refreshStep
  // After both of these instants the score is constant.
  const starvationEnd = facts.waitingSince + settings.starvationHorizonSeconds * 1000
  const urgencyEnd = facts.deadline === null ? now : facts.deadline - (facts.estimatedDurationSeconds ?? 0) * 1000
  // Whole milliseconds: with a fractional bound, `mid` could equal `lo` and the loop never end.
  let hi = Math.ceil(Math.max(now, starvationEnd, urgencyEnd))
  if (score(hi) < target) return null
  let lo = now
  // Bisect to the millisecond: about 40 steps for any span.
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2)
    if (score(mid) >= target) hi = mid
    else lo = mid
  }
  return hi
}
