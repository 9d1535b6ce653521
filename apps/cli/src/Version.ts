import packageJson from "../package.json" with { type: "json" }

/** The version of abathur (reported by --version, the overview and MCP): package.json's, inlined by the build. */
export const VERSION: string = packageJson.version
