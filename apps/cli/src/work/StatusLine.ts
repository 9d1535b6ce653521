import type { Colors } from "../Terminal.js"

/** What the live line shows. */
export interface StatusSnapshot {
  readonly running: ReadonlyArray<{ readonly id: string; readonly summary: string; readonly startedAt: number }>
  readonly completed: number
  readonly failed: number
  readonly retried: number
  readonly timedOut: number
  /** null, or why the worker takes no new tasks. */
  readonly stopping: string | null
}

export interface StatusLine {
  /** Something changed: redraw soon. */
  readonly changed: () => void
  /** Clears the line (before other output). */
  readonly clear: () => void
  /** Draws the line now (after other output). */
  readonly draw: () => void
  readonly stop: () => void
}

const silent: StatusLine = { changed: () => {}, clear: () => {}, draw: () => {}, stop: () => {} }

const seconds = (ms: number) =>
  ms < 60_000 ? `${Math.floor(ms / 1000)}s` : `${Math.floor(ms / 60_000)}m${String(Math.floor((ms % 60_000) / 1000)).padStart(2, "0")}s`

const stripAnsi = (s: string) => s.replace(/\u001b\[[0-9;]*m/g, "")

/** Cuts `s` (with colour codes) to `width` visible characters. */
const fit = (s: string, width: number): string => {
  if (stripAnsi(s).length <= width) return s
  let out = ""
  let visible = 0
  for (let i = 0; i < s.length && visible < width - 1; ) {
    const m = /^\u001b\[[0-9;]*m/.exec(s.slice(i))
    if (m !== null) {
      out += m[0]
      i += m[0].length
    } else {
      out += s[i]
      visible++
      i++
    }
  }
  return `${out}…\u001b[0m`
}

/** The live line on a terminal (stderr): counts, then the tasks in flight. Nothing when piped. */
export const makeStatusLine = (stream: NodeJS.WriteStream, c: Colors, snapshot: () => StatusSnapshot): StatusLine => {
  if (stream.isTTY !== true) return silent
  let drawn = false
  let pending: NodeJS.Timeout | null = null
  let lastDraw = 0

  const render = (): string => {
    const s = snapshot()
    const now = Date.now()
    const counts = [
      c.cyan(`${s.running.length} running`),
      c.green(`${s.completed} completed`),
      s.failed > 0 ? c.red(`${s.failed} failed`) : `${s.failed} failed`,
      ...(s.retried > 0 ? [c.yellow(`${s.retried} retried`)] : []),
      ...(s.timedOut > 0 ? [c.yellow(`${s.timedOut} timed out`)] : [])
    ].join(c.dim(" · "))
    const tasks = [...s.running]
      .sort((a, b) => a.startedAt - b.startedAt)
      .map((t) => `${c.dim(t.id.slice(0, 8))} ${t.summary.replace(/\s+/g, " ")} ${c.dim(seconds(now - t.startedAt))}`)
      .join(c.dim(" · "))
    const head = s.stopping !== null ? `${c.yellow("stopping")} ${c.dim(`(${s.stopping})`)} ` : `${c.bold("work")} `
    const tail = tasks !== "" ? tasks : s.stopping === null ? c.dim("waiting for ready tasks") : ""
    return `${head}${counts}${tail !== "" ? `${c.dim(" │ ")}${tail}` : ""}`
  }
  let stopped = false
  const draw = () => {
    if (stopped) return
    if (pending !== null) clearTimeout(pending)
    pending = null
    lastDraw = Date.now()
    const width = Math.max(20, (stream.columns || 100) - 1)
    stream.write(`\r\x1b[2K${fit(render(), width)}`)
    drawn = true
  }
  const clear = () => {
    if (drawn) stream.write("\r\x1b[2K")
    drawn = false
  }
  // Elapsed times move even when nothing else does.
  const ticker = setInterval(draw, 1000)
  ticker.unref()

  return {
    changed: () => {
      if (pending !== null) return
      pending = setTimeout(draw, Math.max(0, 100 - (Date.now() - lastDraw)))
      pending.unref()
    },
    clear,
    draw,
    stop: () => {
      stopped = true
      clearInterval(ticker)
      if (pending !== null) clearTimeout(pending)
      pending = null
      clear()
    }
  }
}
