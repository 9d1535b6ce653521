import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import { VERSION } from "../src/Version.js"
import { client, runServer, startServer } from "./support/server.js"

const packageVersion = (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }).version

describe("version", () => {
  it("is package.json's, in the sources, --version and the API document of the built server", async () => {
    expect(VERSION).toBe(packageVersion)
    const version = await runServer(["--version"])
    expect(version.stdout).toBe(`abathur-server ${packageVersion}\n`)
    const server = await startServer()
    try {
      const doc = JSON.parse((await client(server.url).get("/openapi.json")).text) as { info: { version: string } }
      expect(doc.info.version).toBe(packageVersion)
    } finally {
      await server.dispose()
    }
  })
})
