/**
 * Helpers for vitest suites (the `@abathur/testing/vitest` entry: it imports vitest, which the
 * main entry never does, so that programs such as the benchmark harness can use the fixtures).
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, onTestFinished } from "vitest"

/** Runs `cleanup` when the current test ends, or, outside a test, after the current file or describe block. */
export const afterThis = (cleanup: () => void | Promise<void>): void => {
  try {
    onTestFinished(async () => {
      await cleanup()
    })
  } catch {
    // Not inside a test: at the top of a file, in a describe block.
    afterAll(async () => {
      await cleanup()
    })
  }
}

/**
 * A fresh folder under the system's temp dir, removed (with what is in it) when the test that
 * made it ends, or, made outside a test, after the file's or the describe block's tests.
 */
export const tempDir = (prefix = "abathur-test-"): string => {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  afterThis(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** A path for a new database file in a fresh temp folder (see `tempDir`). */
export const tempDbFile = (name = "abathur.db"): string => join(tempDir(), name)
