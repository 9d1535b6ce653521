import { describe, expect, it } from "vitest"
import { ConfigError, isLoopback, parseCommand } from "../src/Config.js"

const serve = (args: ReadonlyArray<string>, env: Record<string, string> = {}) => {
  const c = parseCommand(args, env)
  if (c._tag !== "Serve") throw new Error(`expected Serve, got ${c._tag}`)
  return c.config
}

describe("the command line", () => {
  it("has the contract's defaults", () => {
    expect(serve([])).toMatchObject({
      port: 7420,
      host: "127.0.0.1",
      db: "./.abathur/abathur.db",
      logLevel: "info",
      logFormat: "logfmt",
      token: null
    })
    expect(serve([]).allowDamaged).toBe(false)
  })

  it("--allow-damaged or ABATHUR_ALLOW_DAMAGED=1 serves a damaged file", () => {
    expect(serve(["--allow-damaged", "--port", "0"]).allowDamaged).toBe(true)
    expect(serve([], { ABATHUR_ALLOW_DAMAGED: "1" }).allowDamaged).toBe(true)
    expect(serve([], { ABATHUR_ALLOW_DAMAGED: "0" }).allowDamaged).toBe(false)
    expect(() => parseCommand([], { ABATHUR_ALLOW_DAMAGED: "maybe" })).toThrow(ConfigError)
  })

  it("reads flags (both spellings) before the environment", () => {
    const env = { ABATHUR_PORT: "9000", ABATHUR_HOST: "::1", ABATHUR_DB: "/env.db", ABATHUR_LOG_LEVEL: "debug" }
    expect(serve([], env)).toMatchObject({ port: 9000, host: "::1", db: "/env.db", logLevel: "debug" })
    expect(serve(["--port", "0", "--host=localhost", "--db", "/flag.db", "--log-level=warn"], env)).toMatchObject({
      port: 0,
      host: "localhost",
      db: "/flag.db",
      logLevel: "warning"
    })
  })

  it("an empty token is no token", () => {
    expect(serve([], { ABATHUR_TOKEN: "" }).token).toBeNull()
    expect(serve([], { ABATHUR_TOKEN: " t " }).token).toBe("t")
  })

  it("refuses bad values with a ConfigError", () => {
    for (const [args, env] of [
      [["--port", "99999"], {}],
      [["--port", "x"], {}],
      [["--port", "-1"], {}],
      [[], { ABATHUR_PORT: "http" }],
      [["--nope"], {}],
      [["extra"], {}],
      [["--log-level", "loud"], {}],
      [["--log-format", "xml"], {}],
      [["--db"], {}],
      [["--host", ""], {}]
    ] as const) {
      expect(() => parseCommand(args, env), JSON.stringify(args)).toThrow(ConfigError)
    }
  })

  it("refuses a non-loopback host without a token", () => {
    expect(() => parseCommand(["--host", "0.0.0.0"], {})).toThrow(/ABATHUR_TOKEN/)
    expect(() => parseCommand([], { ABATHUR_HOST: "192.168.1.4" })).toThrow(/not a loopback address/)
    expect(serve(["--host", "0.0.0.0"], { ABATHUR_TOKEN: "t" }).host).toBe("0.0.0.0")
  })

  it("knows loopback addresses", () => {
    for (const h of ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost", "LOCALHOST", "api.localhost", "::ffff:127.0.0.1"])
      expect(isLoopback(h), h).toBe(true)
    for (const h of ["0.0.0.0", "::", "10.0.0.1", "example.com", "128.0.0.1", "::ffff:10.0.0.1"]) expect(isLoopback(h), h).toBe(false)
  })

  it("--help and --version", () => {
    expect(parseCommand(["--help"], {})._tag).toBe("Help")
    expect(parseCommand(["--port", "1", "-h"], {})._tag).toBe("Help")
    expect(parseCommand(["--version"], {})._tag).toBe("Version")
  })
})
