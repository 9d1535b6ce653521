import { CONTRACT_TASK_KEYS, dumpDatabase } from "@abathur/testing"
import { tempDir as sharedTempDir } from "@abathur/testing/vitest"
import { spawn } from "node:child_process"
import { existsSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { expect } from "vitest"

/** The built command (tests drive the real artifact: run `node build.mjs` first). */
export const CLI = fileURLToPath(new URL("../../dist/main.js", import.meta.url))
if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build the CLI first (cd apps/cli && node build.mjs)`)

export interface Result {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

export interface RunOptions {
  readonly cwd?: string
  readonly env?: Readonly<Record<string, string>>
  readonly input?: string
}

/** The environment of a child: this process's, without any ABATHUR_ setting or forced colour. */
const baseEnv = (): Record<string, string> => {
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !k.startsWith("ABATHUR_") && k !== "FORCE_COLOR") env[k] = v
  }
  return env
}

/** Runs `abathur ARGS...` in a child process. */
export const run = (args: ReadonlyArray<string>, options: RunOptions = {}): Promise<Result> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: options.cwd ?? tmpdir(),
      env: { ...baseEnv(), ...options.env },
      stdio: ["pipe", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d))
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d))
    child.on("error", reject)
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }))
    child.stdin.end(options.input ?? "")
  })

/** A fresh temporary directory, removed after the test (or the file, when made outside a test). */
export const tempDir = (): string => sharedTempDir("abathur-cli-")

export interface ErrorDoc {
  readonly _tag: string
  readonly message: string
  readonly [detail: string]: unknown
}

export { dumpDatabase }

/** A database in a fresh folder, and the CLI run against it. */
export class Sandbox {
  readonly dir = tempDir()
  readonly db = join(this.dir, "abathur.db")

  constructor(readonly env: Readonly<Record<string, string>> = {}) {}

  /** `abathur --db DB ARGS...` */
  run(args: ReadonlyArray<string>, options: RunOptions = {}): Promise<Result> {
    return run(["--db", this.db, ...args], { cwd: this.dir, ...options, env: { ...this.env, ...options.env } })
  }

  /** Runs with `--json`, expects exit 0 and exactly one JSON document on stdout. */
  async json<T = any>(args: ReadonlyArray<string>, options: RunOptions = {}): Promise<T> {
    const r = await this.run([...args, "--json"], options)
    if (r.code !== 0) throw new Error(`abathur ${args.join(" ")} exited ${r.code}: ${r.stderr}`)
    return JSON.parse(r.stdout) as T
  }

  /** Runs for people: expects exit 0, returns stdout. */
  async text(args: ReadonlyArray<string>, options: RunOptions = {}): Promise<string> {
    const r = await this.run(args, options)
    if (r.code !== 0) throw new Error(`abathur ${args.join(" ")} exited ${r.code}: ${r.stderr}`)
    expect(r.stdout).not.toMatch(/\u001b\[/) // piped: no colour
    return r.stdout
  }

  /** Runs with `--json`, expects the failure: exit code, Error JSON on stderr, nothing on stdout. */
  async fails(args: ReadonlyArray<string>, tag: string, code: number, options: RunOptions = {}): Promise<ErrorDoc> {
    const r = await this.run([...args, "--json"], options)
    expect({ args, code: r.code, stdout: r.stdout }).toEqual({ args, code, stdout: "" })
    const doc = JSON.parse(r.stderr) as { error: ErrorDoc }
    expect(Object.keys(doc)).toEqual(["error"])
    expect(doc.error._tag).toBe(tag)
    expect(typeof doc.error.message).toBe("string")
    return doc.error
  }

  /** Submits a task, returns it. */
  submit(prompt: string, ...flags: Array<string>): Promise<Task> {
    return this.json<Task>(["submit", prompt, ...flags])
  }

  /** Every table's rows and the schema, read directly from the file (null when there is no file). */
  dump(): string | null {
    return dumpDatabase(this.db)
  }
}

/** The contract's Task keys (a claimed task adds leaseToken and leaseExpiresAt). */
export const TaskKeys = CONTRACT_TASK_KEYS

export interface Task {
  readonly id: string
  readonly prompt: string
  readonly summary: string
  readonly agentType: string
  readonly priority: number
  readonly status: string
  readonly source: string
  readonly dependencyType: string
  readonly calculatedPriority: number
  readonly deadline: string | null
  readonly estimatedDurationSeconds: number | null
  readonly dependencyDepth: number
  readonly parentTaskId: string | null
  readonly inputData: Record<string, unknown>
  readonly resultData: unknown
  readonly errorMessage: string | null
  readonly retryCount: number
  readonly maxRetries: number
  readonly maxExecutionTimeoutSeconds: number
  readonly submittedAt: string
  readonly startedAt: string | null
  readonly completedAt: string | null
  readonly lastUpdatedAt: string
  readonly leaseToken?: string
  readonly leaseExpiresAt?: string
}

export const MISSING_ID = "3f2b8c1e-9d4a-4f6b-8e2a-1c5d7e9f0a2b"
