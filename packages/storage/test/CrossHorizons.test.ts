/**
 * `crossHorizons`: the crossing of the starvation horizon in one statement. Its SQL computes the
 * rank at the horizon that the queue computed in JavaScript one task at a time (`rankedScore` at
 * the horizon, to the micropoint); the claim order depends on those ranks to the last bit (ties
 * go to the older task), so they must be the very same numbers.
 */
import { formatTimestamp, parseTimestamp, PrioritySettings, priorityRank, rankedScore, starvationRate, type TaskSource } from "@abathur/domain"
import { describe, expect, it } from "vitest"
import type { StoredTask } from "../src/TaskRows.js"
import { makeTask, withTasks } from "./helpers.js"

const SOURCES: ReadonlyArray<TaskSource> = ["human", "agent_requirements", "agent_planner", "agent_implementation"]

/** A small deterministic generator (mulberry32). */
const prng = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

/** The one-at-a-time crossing the queue did before (Ranking.ts): the rank at the horizon, or null when the task does not cross at `now`. */
const crossedOneByOne = (t: StoredTask, now: number, p: PrioritySettings): number | null => {
  const rate = starvationRate(p)
  const waitingSince = parseTimestamp(t.submittedAt)!
  const horizonAt = waitingSince + p.starvationHorizonSeconds * 1000
  const due = t.priorityRefreshAt !== null && t.priorityRefreshAt <= formatTimestamp(now)
  if (!due || t.deadline !== null || t.priorityRank === null || t.priorityStarved || rate === 0 || now < horizonAt - p.refreshStep / rate) return null
  return rankedScore({ rank: t.priorityRank, starved: false, waitingSince }, horizonAt, p)
}

const SETTINGS: ReadonlyArray<PrioritySettings> = [
  PrioritySettings.parse({}),
  PrioritySettings.parse({ starvationHorizonSeconds: 900, refreshStep: 0.25 }),
  PrioritySettings.parse({
    weights: { base: 3, urgency: 0.7, dependency: 0.3, starvation: 2.2, source: 0.1 },
    starvationHorizonSeconds: 7777.7,
    refreshStep: 1
  })
]

describe("crossHorizons", () => {
  for (const [n, p] of SETTINGS.entries()) {
    it(`moves exactly the due crossings, each to the rank the one-at-a-time crossing gave it, bit for bit (settings ${n})`, () => {
      const rand = prng(20261204 + n)
      const int = (k: number) => Math.floor(rand() * k)
      const rate = starvationRate(p)
      const horizonMs = p.starvationHorizonSeconds * 1000
      const leadMs = p.refreshStep / rate
      const now = Date.UTC(2026, 11, 4, 0, 0, 0, 0) + int(1000)
      const tasks: Array<StoredTask> = []
      for (let i = 0; i < 600; i++) {
        // Submitted from two horizons before `now` to just before it, to the millisecond: some have
        // crossed, some are within the lead before their horizon, some are short of it.
        const submitted = now - int(2 * horizonMs + 1) + (i % 7 === 0 ? Math.round(horizonMs - leadMs) : 0)
        const rankedAt = submitted + int(Math.floor(horizonMs / 2))
        const facts = {
          priority: int(11),
          source: SOURCES[int(4)]!,
          deadline: null,
          estimatedDurationSeconds: null,
          openDependents: int(3) === 0 ? int(40) : 0,
          waitingSince: submitted
        }
        const r = priorityRank(facts, rankedAt, p)
        const kind = int(10)
        tasks.push(
          makeTask({
            status: "ready",
            priority: facts.priority,
            source: facts.source,
            submittedAt: formatTimestamp(submitted),
            calculatedPriority: r.calculatedPriority,
            priorityRank: kind === 0 ? null : r.rank,
            priorityStarved: kind === 1,
            // Due at `now`, but for a tenth; some with a deadline (those are refreshed one at a time).
            priorityRefreshAt: formatTimestamp(kind === 2 ? now + 1 + int(100_000) : now - int(horizonMs)),
            ...(kind === 3 && { deadline: formatTimestamp(now + int(86_400_000)), estimatedDurationSeconds: 60 })
          })
        )
      }
      const { repo } = withTasks(...tasks)
      const expected = tasks.map((t) => crossedOneByOne(t, now, p))
      const moved = repo.transaction(() => repo.crossHorizons({ at: formatTimestamp(now), atMs: now, rate, horizonMs, leadMs }))

      expect(moved).toBe(expected.filter((x) => x !== null).length)
      expect(moved).toBeGreaterThan(100)
      expect(expected.filter((x) => x === null).length).toBeGreaterThan(100)
      for (const [i, t] of tasks.entries()) {
        const after = repo.getTask(t.id)!
        const rank = expected[i]!
        if (rank === null) {
          expect([after.priorityRank, after.priorityStarved, after.priorityRefreshAt], t.id).toEqual([
            t.priorityRank,
            t.priorityStarved,
            t.priorityRefreshAt
          ])
        } else {
          expect(Object.is(after.priorityRank, rank), `${t.id}: ${after.priorityRank} against ${rank}`).toBe(true)
          expect(after.priorityStarved).toBe(true)
          expect(after.priorityRefreshAt).toBeNull()
        }
        // The stored score stays, as the one-at-a-time crossing left it.
        expect(after.calculatedPriority).toBe(t.calculatedPriority)
      }
      // Nothing is left to cross at the same instant.
      expect(repo.transaction(() => repo.crossHorizons({ at: formatTimestamp(now), atMs: now, rate, horizonMs, leadMs }))).toBe(0)
    })
  }
})
