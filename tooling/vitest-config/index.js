// Shared vitest settings. Workspace packages resolve each other through the
// "@abathur/source" export condition, so tests run against TypeScript sources
// and coverage maps to them; published builds use dist/.
import { defineConfig } from "vitest/config"

/**
 * @param {{ coverage?: number, include?: string[], testTimeout?: number }} [options]
 *   coverage: the floor of covered lines in percent, enforced when the suite runs.
 */
export const abathurVitestConfig = (options = {}) =>
  defineConfig({
    resolve: { conditions: ["@abathur/source"] },
    ssr: { resolve: { conditions: ["@abathur/source"] } },
    test: {
      include: options.include ?? ["test/**/*.test.ts"],
      testTimeout: options.testTimeout ?? 30_000,
      hookTimeout: options.testTimeout ?? 30_000,
      pool: "forks",
      coverage: {
        enabled: options.coverage !== undefined,
        provider: "v8",
        include: ["src/**/*.ts"],
        reporter: ["text-summary"],
        thresholds: options.coverage === undefined ? undefined : { lines: options.coverage }
      }
    }
  })
