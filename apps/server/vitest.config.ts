import { abathurVitestConfig } from "@abathur/vitest-config"
import { mergeConfig } from "vitest/config"

// The suite drives the real bundle (dist/main.js) as child processes: the global setup builds it
// once, with the test fixtures (a plain script over @abathur/queue). Test files mostly wait on
// their servers, so two run at a time even on two cores.
export default mergeConfig(abathurVitestConfig({ testTimeout: 120_000 }), {
  test: { globalSetup: ["test/support/globalSetup.ts"], maxWorkers: 2, minWorkers: 1 }
})
