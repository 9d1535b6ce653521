// Writes src/Version.ts of a package built by tsc from its package.json's version (tsc cannot
// import ../package.json from src/ into dist/). Run by the package's build and by
// `pnpm version-packages`; each package's test/Version.test.ts checks that the two agree.
// Usage: node scripts/version.mjs PACKAGE_DIR...
import { readFileSync, writeFileSync } from "node:fs"
import { join, resolve } from "node:path"

for (const dir of process.argv.slice(2)) {
  const { name, version } = JSON.parse(readFileSync(join(resolve(dir), "package.json"), "utf8"))
  const text = `// Generated from package.json by scripts/version.mjs (run by the build): do not edit.

/** The version of ${name}. */
export const VERSION = ${JSON.stringify(version)}
`
  const file = join(resolve(dir), "src", "Version.ts")
  let old = ""
  try {
    old = readFileSync(file, "utf8")
  } catch {
    // Not generated yet.
  }
  if (old !== text) writeFileSync(file, text)
}
