/** The machine a run measured on: its parts and versions, and how busy it was (a probe before and after). */
import BetterSqlite3 from "better-sqlite3"
import { execSync } from "node:child_process"
import { createRequire } from "node:module"
import { cpus, loadavg, totalmem, type as osType, release } from "node:os"
import { join } from "node:path"
import { fmtInt, tempDir } from "./util.js"

export interface Machine {
  readonly cpu: string
  readonly cores: number
  readonly memory: string
  readonly os: string
  readonly node: string
  readonly sqlite: string
  readonly betterSqlite3: string
  readonly effect: string
  readonly commit: string
}

const versionOf = (pkg: string): string => {
  try {
    const require = createRequire(import.meta.url)
    return (require(`${pkg}/package.json`) as { version: string }).version
  } catch {
    return "unknown"
  }
}

const gitCommit = (): string => {
  try {
    const head = execSync("git rev-parse --short HEAD", { stdio: ["ignore", "pipe", "ignore"] })
      .toString()
      .trim()
    const dirty =
      execSync("git status --porcelain", { stdio: ["ignore", "pipe", "ignore"] })
        .toString()
        .trim() !== ""
    return dirty ? `${head} + uncommitted changes` : head
  } catch {
    return "unknown"
  }
}

export const describeMachine = (): Machine => {
  const db = new BetterSqlite3(":memory:")
  const sqlite = db.prepare("SELECT sqlite_version()").pluck().get() as string
  db.close()
  const list = cpus()
  return {
    cpu: list[0]?.model.trim() ?? "unknown",
    cores: list.length,
    memory: `${(totalmem() / 1024 ** 3).toFixed(1)} GiB`,
    os: `${osType()} ${release()}`,
    node: process.version,
    sqlite,
    betterSqlite3: versionOf("better-sqlite3"),
    effect: versionOf("effect"),
    commit: gitCommit()
  }
}

/** How busy the machine is: load average and a raw single-row transaction rate. */
export interface Probe {
  readonly load: string
  readonly rawTxPerSecond: number
}

export const probe = (): Probe => {
  const { dir, cleanup } = tempDir("abathur-probe-")
  try {
    const db = new BetterSqlite3(join(dir, "probe.db"))
    db.pragma("journal_mode = WAL")
    db.pragma("synchronous = NORMAL")
    db.exec("CREATE TABLE t (id TEXT PRIMARY KEY, v TEXT)")
    const insert = db.prepare("INSERT INTO t VALUES (?, ?)")
    const tx = db.transaction((i: number) => insert.run(crypto.randomUUID(), `row ${i}`))
    for (let i = 0; i < 500; i++) tx.immediate(i)
    const n = 5000
    const t0 = performance.now()
    for (let i = 0; i < n; i++) tx.immediate(i)
    const rate = n / ((performance.now() - t0) / 1000)
    db.close()
    return {
      load: loadavg()
        .map((x) => x.toFixed(2))
        .join(" / "),
      rawTxPerSecond: rate
    }
  } finally {
    cleanup()
  }
}

export const describeProbe = (p: Probe): string =>
  `load average ${p.load} (1/5/15 min); raw single-row write transactions ${fmtInt(p.rawTxPerSecond)}/s`
