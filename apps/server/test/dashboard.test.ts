import type { Browser } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { executablePath, haveChromium, launchBrowser } from "./support/browser.js"
import { client, type RunningServer, runQueueScript, startServer } from "./support/server.js"

/** In CI (`CI` set, and not `false` or `0`) the dashboard must be tested: a missing browser fails. */
const inCI = !["", "0", "false"].includes((process.env["CI"] ?? "").trim().toLowerCase())
const missing = `no Chromium at ${executablePath} (apt-get install chromium, or set CHROMIUM_PATH)`
if (!haveChromium && !inCI) console.warn(`dashboard test skipped: ${missing}`)

describe.runIf(!haveChromium && inCI)("the dashboard in CI", () => {
  it("needs Chromium", () => {
    expect.fail(`CI must run the dashboard test, but there is ${missing}`)
  })
})

let server: RunningServer
let browser: Browser

beforeAll(async () => {
  if (!haveChromium) return
  server = await startServer({ env: { ABATHUR_TOKEN: "dash-token" } })
  browser = await launchBrowser()
})
afterAll(async () => {
  await browser?.close()
  await server?.dispose()
})

describe.skipIf(!haveChromium)("the dashboard in headless Chromium", () => {
  it("shows the counts and follows changes live", async () => {
    const api = client(server.url, { authorization: "Bearer dash-token" })
    await api.post("/v1/tasks", { prompt: "already there" })
    const page = await browser.newPage()
    const errors: Array<string> = []
    page.on("pageerror", (e) => errors.push(e.message))
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(`${m.text()} ${m.location().url}`)
    })
    const requests: Array<string> = []
    page.on("request", (r) => requests.push(r.url()))
    await page.goto(`${server.url}/?access_token=dash-token`)

    await expect.poll(() => page.textContent("[data-testid=count-ready]")).toBe("1")
    await expect.poll(() => page.textContent("[data-testid=count-total]")).toBe("1")
    await expect.poll(() => page.textContent("#connection")).toBe("live")
    await expect.poll(() => page.textContent("#tasks")).toContain("already there")

    // a task submitted through the API appears without reloading
    const submitted = await api.post("/v1/tasks", { prompt: "Submitted while watching", priority: 9 })
    await expect.poll(() => page.textContent("[data-testid=count-ready]")).toBe("2")
    await expect.poll(() => page.textContent("#tasks")).toContain("Submitted while watching")
    await expect.poll(() => page.locator(`#events li[data-task-id="${submitted.body.id}"]`).count()).toBeGreaterThan(0)

    // a claim moves it to running
    const claim = await api.post("/v1/claims", {})
    expect(claim.body.id).toBe(submitted.body.id)
    await expect.poll(() => page.textContent("[data-testid=count-running]")).toBe("1")
    await expect.poll(() => page.textContent(`tr[data-task-id="${submitted.body.id}"]`)).toContain("running")

    // a change made by another process (no event of its own) is picked up through the sync event
    const script = await runQueueScript([server.db, "submit", "from another process"])
    expect(script.code, script.stderr).toBe(0)
    await expect.poll(() => page.textContent("[data-testid=count-ready]"), { timeout: 5_000 }).toBe("2")
    await expect.poll(() => page.textContent("#tasks")).toContain("from another process")

    // the form submits through the API
    await page.fill("#prompt", "typed in the dashboard")
    await page.click("#submit-form button[type=submit]")
    await expect.poll(() => page.textContent("[data-testid=count-total]")).toBe("4")
    expect((await api.get("/v1/tasks?status=ready")).body.map((t: { prompt: string }) => t.prompt)).toContain("typed in the dashboard")

    // task text is shown as text, never as markup
    await api.post("/v1/tasks", { prompt: '<img src=x onerror="window.__pwned=1">' })
    await expect.poll(() => page.textContent("#tasks")).toContain("<img src=x")
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined()

    // no request left this server
    const origin = new URL(server.url).origin
    expect(requests.filter((u) => !u.startsWith(origin))).toEqual([])
    expect(errors).toEqual([])
    await page.close()
  })
})
