import { readdirSync, readFileSync } from "node:fs"
import { afterAll } from "vitest"
import { isAlive, type Proc } from "./Work.js"

/**
 * Helpers for the crash tests: processes to SIGKILL, the process table, and cleanup of
 * everything a test started, even when it fails.
 */

/** The parent pid of `pid` from /proc, or null when it is gone. */
export const parentOf = (pid: number): number | null => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1])
  } catch {
    return null
  }
}

/** The live processes whose parent is `pid`. */
export const childrenOf = (pid: number): Array<number> =>
  readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d))
    .map(Number)
    .filter((p) => parentOf(p) === pid && isAlive(p))

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

/** Every pid and process a test started; SIGKILLed after the file's tests, whatever happened. */
const pids = new Set<number>()
const procs = new Set<Proc>()
export const track = (p: Proc): Proc => {
  procs.add(p)
  return p
}
export const trackPid = (pid: number): void => {
  pids.add(pid)
}
afterAll(async () => {
  for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill("SIGKILL")
  for (const pid of pids) {
    try {
      process.kill(-pid, "SIGKILL")
    } catch {
      // not a group leader, or gone
    }
    try {
      process.kill(pid, "SIGKILL")
    } catch {
      // gone
    }
  }
  await Promise.all([...procs].map((p) => p.done.catch(() => undefined)))
})

/**
 * Waits until none of `pids()` (read again each round: late starters count) is alive, for at
 * most `withinMs` after `since`. Returns when each was first seen dead, and the survivors.
 */
export const watchDeaths = async (
  pids: () => ReadonlyArray<number>,
  since: number,
  withinMs: number
): Promise<{ deadAt: Map<number, number>; survivors: Array<number> }> => {
  const deadAt = new Map<number, number>()
  for (;;) {
    const now = Date.now()
    const all = pids()
    for (const p of all) if (!deadAt.has(p) && !isAlive(p)) deadAt.set(p, now)
    const survivors = all.filter((p) => !deadAt.has(p))
    if (survivors.length === 0 || now - since > withinMs) return { deadAt, survivors }
    await sleep(20)
  }
}
