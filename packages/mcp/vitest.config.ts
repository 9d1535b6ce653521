import { abathurVitestConfig } from "@abathur/vitest-config"

export default abathurVitestConfig()
