import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js"
import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import { makeMcpServer } from "../src/index.js"
import { VERSION } from "../src/Version.js"

const packageVersion = (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }).version

describe("version", () => {
  it("src/Version.ts is package.json's version (scripts/version.mjs, run by the build, writes it)", () => {
    expect(VERSION).toBe(packageVersion)
  })

  it("the MCP server reports it to clients unless told another", async () => {
    const versionSeen = async (version?: string) => {
      const server = makeMcpServer({
        run: () => Promise.reject(new Error("no tool is called")),
        ...(version !== undefined && { version })
      })
      const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair()
      await server.connect(serverTransport)
      const client = new Client({ name: "test", version: "1.0.0" })
      await client.connect(clientTransport)
      try {
        return client.getServerVersion()
      } finally {
        await client.close()
        await server.close()
      }
    }
    expect(await versionSeen()).toEqual({ name: "abathur", version: packageVersion })
    expect(await versionSeen("9.9.9")).toEqual({ name: "abathur", version: "9.9.9" })
  })
})
