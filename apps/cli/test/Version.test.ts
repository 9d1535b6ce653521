import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import { VERSION } from "../src/Version.js"
import { run } from "./support/Cli.js"

const packageVersion = (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }).version

describe("version", () => {
  it("is package.json's, in the sources and in the built command (--version, the overview)", async () => {
    expect(VERSION).toBe(packageVersion)
    const version = await run(["--version"])
    expect(version.code).toBe(0)
    expect(version.stdout.trim()).toBe(packageVersion)
    const overview = await run([])
    expect(overview.stdout).toContain(`abathur ${packageVersion}:`)
  })
})
