import packageJson from "../package.json" with { type: "json" }

/** The version of abathur-server (reported by --version, the API document and MCP): package.json's, inlined by the build. */
export const VERSION: string = packageJson.version
