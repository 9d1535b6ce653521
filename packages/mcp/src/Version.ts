// Generated from package.json by scripts/version.mjs (run by the build): do not edit.

/** The version of @abathur/mcp. */
export const VERSION = "0.1.0"
