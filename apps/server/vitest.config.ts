import { abathurVitestConfig } from "@abathur/vitest-config"

export default abathurVitestConfig({ testTimeout: 60_000 })
