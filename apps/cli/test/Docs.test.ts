/** docs/cli.md is generated from the live help (`pnpm run docs`): this fails when the checked-in page is stale. */
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { docsDir, renderCliDocs } from "../../../scripts/docs.mjs"
import { CLI } from "./support/Cli.js"

describe("generated docs", () => {
  it("docs/cli.md matches the CLI's help (run `pnpm run docs` after changing a command)", async () => {
    const expected = await renderCliDocs(CLI)
    const current = readFileSync(join(docsDir, "cli.md"), "utf8")
    expect(current === expected ? "up to date" : "docs/cli.md is stale: run `pnpm run docs`").toBe("up to date")
    expect(current).toContain("## abathur deps add")
  })
})
