/** The version of abathur-server (reported by --version, the API document and MCP). */
export const VERSION = "0.1.0"
