import { abathurVitestConfig } from "@abathur/vitest-config"

export default abathurVitestConfig({ testTimeout: 120_000 })
