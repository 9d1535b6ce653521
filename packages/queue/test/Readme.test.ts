/**
 * The README's library example is this package's test/ReadmeExample.ts, word for word: `tsc` checks
 * it (test/ is in the type check) and this test runs it, in a fresh folder.
 */
import { TaskRepository } from "@abathur/storage"
import { TestDatabase } from "@abathur/testing"
import { tempDir } from "@abathur/testing/vitest"
import { Effect } from "effect"
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, describe, expect, it } from "vitest"

const here = fileURLToPath(new URL(".", import.meta.url))
const dir = tempDir("abathur-readme-")
const cwd = process.cwd()
afterAll(() => {
  process.chdir(cwd)
})

describe("the README's library example", () => {
  it("is test/ReadmeExample.ts word for word", () => {
    const readme = readFileSync(join(here, "..", "..", "..", "README.md"), "utf8")
    const block = /### As a library[\s\S]*?```ts\n([\s\S]*?)```/.exec(readme)?.[1]
    expect(block).toBe(readFileSync(join(here, "ReadmeExample.ts"), "utf8"))
  })

  it("runs: a plan of two tasks, the first claimed and completed, in ./.abathur/abathur.db", async () => {
    process.chdir(dir)
    await import("./ReadmeExample.js")
    const file = join(dir, ".abathur", "abathur.db")
    expect(existsSync(file)).toBe(true)
    const statuses = await Effect.runPromise(
      Effect.provide(
        Effect.map(TaskRepository, (repo) => repo.listTasks({}).map((t) => [t.summary, t.status, t.resultData])),
        TestDatabase.layer({ filename: file })
      )
    )
    expect(statuses.sort()).toEqual([
      ["first", "completed", { ok: true }],
      ["then", "ready", null]
    ])
  })
})
