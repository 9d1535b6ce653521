import { tempDir } from "@abathur/testing/vitest"
import { type ChildProcess, spawn } from "node:child_process"
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

/**
 * Helpers for the `abathur work` tests: real processes against the built CLI (`node build.mjs`
 * first; ABATHUR_TEST_CLI may name another build), a temporary database per sandbox.
 */

export const CLI = process.env["ABATHUR_TEST_CLI"] ?? fileURLToPath(new URL("../../dist/main.js", import.meta.url))
if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build the CLI first (cd apps/cli && node build.mjs)`)

export interface Result {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

const baseEnv = (): Record<string, string> => {
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !k.startsWith("ABATHUR_") && k !== "FORCE_COLOR") env[k] = v
  }
  return env
}

/** A running `abathur` process. */
export class Proc {
  stdout = ""
  stderr = ""
  readonly done: Promise<Result>
  constructor(readonly child: ChildProcess) {
    child.stdout!.setEncoding("utf8").on("data", (d: string) => (this.stdout += d))
    child.stderr!.setEncoding("utf8").on("data", (d: string) => (this.stderr += d))
    this.done = new Promise((resolve, reject) => {
      child.on("error", reject)
      child.on("close", (code, signal) => resolve({ code, signal, stdout: this.stdout, stderr: this.stderr }))
    })
  }
  get pid(): number {
    return this.child.pid!
  }
  signal(signal: NodeJS.Signals): void {
    this.child.kill(signal)
  }
}

/** A database in a fresh folder, scripts beside it, and the CLI run against it. */
export class WorkSandbox {
  readonly dir: string
  readonly db: string
  constructor() {
    this.dir = tempDir("abathur-work-")
    this.db = join(this.dir, "abathur.db")
  }

  start(args: ReadonlyArray<string>, env: Readonly<Record<string, string>> = {}): Proc {
    const child = spawn(process.execPath, [CLI, "--db", this.db, ...args], {
      cwd: this.dir,
      env: { ...baseEnv(), ...env },
      stdio: ["ignore", "pipe", "pipe"]
    })
    return new Proc(child)
  }

  run(args: ReadonlyArray<string>, env: Readonly<Record<string, string>> = {}): Promise<Result> {
    return this.start(args, env).done
  }

  async json<T = any>(args: ReadonlyArray<string>): Promise<T> {
    const r = await this.run([...args, "--json"])
    if (r.code !== 0) throw new Error(`abathur ${args.join(" ")} exited ${r.code}: ${r.stderr}`)
    return JSON.parse(r.stdout) as T
  }

  submit(prompt: string, ...flags: Array<string>): Promise<Task> {
    return this.json<Task>(["submit", prompt, ...flags])
  }

  /** Submits a plan of top-level tasks (`prompt` plus submit fields) in one call; returns them in order. */
  async plan(...nodes: Array<string | Record<string, unknown>>): Promise<Array<Task>> {
    const tasks = nodes.map((n, i) => ({ key: `k${i}`, ...(typeof n === "string" ? { prompt: n } : n) }))
    const r = await this.json<{ tasks: Record<string, Task> }>(["submit", "--file", this.file(`plan-${Date.now()}.json`, JSON.stringify({ tasks }))])
    return tasks.map((t) => r.tasks[t.key]!)
  }

  /** Every task now, by id (one `list`). */
  async tasks(): Promise<Map<string, Task>> {
    const list = await this.json<Array<Task>>(["list"])
    return new Map(list.map((t) => [t.id, t]))
  }

  show(id: string): Promise<Task> {
    return this.json<Task>(["show", id])
  }

  /** Writes a file in the sandbox; returns its path. */
  file(name: string, text: string): string {
    const path = join(this.dir, name)
    writeFileSync(path, text)
    return path
  }

  read(name: string): string {
    const path = join(this.dir, name)
    return existsSync(path) ? readFileSync(path, "utf8") : ""
  }

  /** Lines of a file the scripts append to, split on whitespace. */
  lines(name: string): Array<Array<string>> {
    return this.read(name)
      .split("\n")
      .filter((l) => l.trim() !== "")
      .map((l) => l.split(" "))
  }
}

/** Polls `check` until it returns true (or throws after `timeoutMs`). */
export const waitFor = async (what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> => {
  const until = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

/** Whether a process runs (a zombie, dead but not yet reaped, counts as gone). */
export const isAlive = (pid: number): boolean => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3)
    return state !== "Z" && state !== "X"
  } catch {
    return false
  }
}

export interface Task {
  readonly id: string
  readonly prompt: string
  readonly summary: string
  readonly status: string
  readonly parentTaskId: string | null
  readonly resultData: unknown
  readonly errorMessage: string | null
  readonly retryCount: number
  readonly maxRetries: number
  readonly children?: Array<string>
  readonly prerequisites?: Array<{ taskId: string }>
}

/** The summary `work --json` prints. */
export interface Summary {
  readonly completed: number
  readonly failed: number
  readonly retried: number
  readonly timedOut: number
}

export const summaryOf = (r: Result): Summary => {
  if (r.code !== 0) throw new Error(`work exited ${r.code} (${r.signal}): ${r.stderr}`)
  return JSON.parse(r.stdout) as Summary
}
