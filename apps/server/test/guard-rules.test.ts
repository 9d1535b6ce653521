import { describe, expect, it } from "vitest"
import { nestedDeeperThan } from "../src/Body.js"
import { checkHost, hostVerdict, isJsonMediaType, ownHosts, ownOrigin } from "../src/Guard.js"

// The request guards' string rules (the real server's answers are in guards.test.ts and hostile.test.ts).

// The lists below are inputs for each verdict: alike in shape only.
describe("Host", () => {
  const own = ownHosts(7420)
  it("loopback names and addresses at the server's port or none", () => {
    for (const h of [
      "127.0.0.1:7420",
      "localhost:7420",
      "[::1]:7420",
      "localhost",
      "LocalHost",
      "localhost.",
      "app.localhost:7420",
      "127.255.0.9",
      "[0:0:0:0:0:0:0:1]:7420",
      "[::ffff:127.0.0.1]",
      "127.0.0.1"
    ]) {
      expect(checkHost(h, own), h).toBe("loopback")
    }
  })
  it("other names, addresses and ports are foreign", () => {
    for (const h of [
      "example.com",
      "127.0.0.1:7421",
      "localhost:80",
      "10.0.0.1",
      "0.0.0.0:7420",
      "[::]:7420",
      "[::2]",
      "127.1",
      "127.0.0.256",
      "[::ffff:10.0.0.1]",
      "localhost.example.com",
      "2130706433",
      "[::ffff:7f:1]"
    ]) {
      expect(hostVerdict(h, 7420), h).toBe("foreign")
    }
  })
  it("what is not a host at all is malformed", () => {
    for (const h of [
      "",
      "a:99999",
      "[::1",
      "[::1]x",
      "[::1]:",
      "a:",
      ":7420",
      "a b",
      "a@b",
      "a/b",
      "::1",
      "[zz]",
      "127.0.0.1:-1",
      "a:1:2",
      "%31",
      "a:123456"
    ]) {
      expect(hostVerdict(h, 7420), h).toBe("malformed")
    }
  })
})

describe("Origin and Content-Type", () => {
  const own = ownHosts(7420)
  it("an Origin is this server's when it is http:// and a loopback host at its port", () => {
    expect(ownOrigin("http://127.0.0.1:7420", "127.0.0.1:7420", own)).toBe(true)
    expect(ownOrigin("http://localhost:7420", "127.0.0.1:7420", own)).toBe(true)
    for (const o of [
      "null",
      "",
      "https://127.0.0.1:7420",
      "http://127.0.0.1:7421",
      "http://evil.example",
      "http://127.0.0.1:7420/",
      "http://user@127.0.0.1:7420"
    ]) {
      expect(ownOrigin(o, "127.0.0.1:7420", own), o).toBe(false)
    }
  })
  it("JSON media types", () => {
    for (const t of ["application/json", "application/json; charset=utf-8", " Application/JSON ", "application/merge-patch+json"])
      expect(isJsonMediaType(t), t).toBe(true)
    for (const t of [
      "text/plain",
      "",
      "application/jsonx",
      "text/json",
      "application/x-www-form-urlencoded",
      "multipart/form-data",
      "application/json, text/plain"
    ]) {
      expect(isJsonMediaType(t), t).toBe(false)
    }
  })
})

describe("JSON depth", () => {
  it("counts arrays and objects outside strings, without recursion", () => {
    const deep = (n: number) => `${"[".repeat(n)}${"]".repeat(n)}`
    expect(nestedDeeperThan(deep(256), 256)).toBe(false)
    expect(nestedDeeperThan(deep(257), 256)).toBe(true)
    expect(nestedDeeperThan(deep(1_000_000), 256)).toBe(true)
    expect(nestedDeeperThan(JSON.stringify({ a: "[".repeat(1000), b: `\\"{{{{${"{".repeat(1000)}` }), 256)).toBe(false)
    expect(nestedDeeperThan(`{"a":"\\\\",${'"b":['.repeat(1)}${deep(300)}]}`, 256)).toBe(true)
  })
})
