import { abathurVitestConfig } from "@abathur/vitest-config"
import { mergeConfig } from "vitest/config"

export default mergeConfig(abathurVitestConfig({ coverage: 90 }), { test: { globalSetup: ["test/globalSetup.ts"] } })
