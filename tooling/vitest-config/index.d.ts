import type { UserConfig } from "vitest/config"
export declare const abathurVitestConfig: (options?: { coverage?: number; include?: string[]; testTimeout?: number }) => UserConfig
