import pc from "picocolors"

/** Colour functions (identity when colour is off). */
export type Colors = ReturnType<typeof pc.createColors>

const noColorEnv = (env: Readonly<Record<string, string | undefined>>) => env["NO_COLOR"] !== undefined && env["NO_COLOR"] !== ""

/** Colour for a stream: on a terminal, unless NO_COLOR is set (FORCE_COLOR forces it). */
export const colorsFor = (stream: { readonly isTTY?: boolean }, env: Readonly<Record<string, string | undefined>>): Colors => {
  const forced = env["FORCE_COLOR"] !== undefined && env["FORCE_COLOR"] !== "0" && env["FORCE_COLOR"] !== ""
  return pc.createColors(!noColorEnv(env) && (forced || stream.isTTY === true) && env["TERM"] !== "dumb")
}

/** Where the CLI writes: documents and tables on stdout, messages and progress on stderr. */
export interface Terminal {
  readonly stdout: NodeJS.WriteStream
  readonly stderr: NodeJS.WriteStream
  readonly out: Colors
  readonly err: Colors
  /** Width of the terminal stdout writes to, or null when piped. */
  readonly width: number | null
}

export const makeTerminal = (env: Readonly<Record<string, string | undefined>>): Terminal => ({
  stdout: process.stdout,
  stderr: process.stderr,
  out: colorsFor(process.stdout, env),
  err: colorsFor(process.stderr, env),
  width: process.stdout.isTTY ? (process.stdout.columns ?? 100) : null
})

/** A progress line on stderr, drawn only when stderr is a terminal. */
export interface Progress {
  readonly update: (done: number, total: number, note?: string) => void
  readonly finish: () => void
}

export const noProgress: Progress = { update: () => {}, finish: () => {} }

export const makeProgress = (terminal: Terminal, label: string): Progress => {
  const stream = terminal.stderr
  if (stream.isTTY !== true) return noProgress
  const c = terminal.err
  let drawn = false
  let lastAt = 0
  return {
    update: (done, total, note) => {
      const now = Date.now()
      if (done < total && now - lastAt < 50) return
      lastAt = now
      const width = 24
      const ratio = total > 0 ? Math.min(1, done / total) : 1
      const filled = Math.round(ratio * width)
      const bar = c.cyan("█".repeat(filled)) + c.dim("░".repeat(width - filled))
      const pct = `${Math.floor(ratio * 100)}`.padStart(3)
      stream.write(`\r\x1b[2K${label} ${bar} ${pct}% ${c.dim(`${done}/${total}`)}${note ? ` ${c.dim(note)}` : ""}`)
      drawn = true
    },
    finish: () => {
      if (drawn) stream.write("\r\x1b[2K")
      drawn = false
    }
  }
}
