/** Headless Chromium for the dashboard tests: where it is (`CHROMIUM_PATH`), and one way to launch it. */
import { existsSync } from "node:fs"
import { type Browser, chromium } from "playwright-core"

export const executablePath = process.env["CHROMIUM_PATH"] ?? "/usr/bin/chromium"
export const haveChromium = existsSync(executablePath)

/** A headless browser without sandbox, GPU or background traffic. */
export const launchBrowser = (): Promise<Browser> =>
  chromium.launch({
    executablePath,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run"
    ]
  })
