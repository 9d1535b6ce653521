import { abathurVitestConfig } from "@abathur/vitest-config"
import { mergeConfig } from "vitest/config"

// The suite drives the real bundle (dist/main.js) as a child process: the global setup builds it
// once, with the test fixtures (a plain script over @abathur/queue).
export default mergeConfig(abathurVitestConfig({ testTimeout: 60_000 }), {
  test: { globalSetup: ["test/support/globalSetup.ts"] }
})
