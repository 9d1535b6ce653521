/**
 * docs/openapi.json, docs/http.md and docs/mcp.md are generated from the running server (`pnpm run docs`):
 * this fails when the checked-in pages are stale.
 */
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { docsDir, renderServerDocs } from "../../../scripts/docs.mjs"
import { sharedServer } from "./support/server.js"

const { server } = sharedServer()

describe("generated docs", () => {
  it("docs/openapi.json, docs/http.md and docs/mcp.md match the server (run `pnpm run docs` after changing the API or a tool)", async () => {
    const pages = await renderServerDocs(server().url)
    for (const [name, text] of Object.entries(pages)) {
      const current = readFileSync(join(docsDir, name), "utf8")
      expect(current === text ? "up to date" : `docs/${name} is stale: run \`pnpm run docs\``).toBe("up to date")
    }
    expect(pages["mcp.md"]).toContain("## task_heartbeat")
    expect(pages["http.md"]).toContain("### POST /v1/claims")
  })
})
