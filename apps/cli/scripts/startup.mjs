// Measures the start-up of `abathur status --json` and `abathur next --json` on a large database.
//   node scripts/startup.mjs [TASKS=100000] [RUNS=15]
// Builds the database through the queue (scripts/make-db.ts, bundled here with esbuild) once, in
// $TMPDIR/abathur-startup-<TASKS>.db, then runs each command RUNS times, alternating, and prints the
// best and median wall times, next to the floor: node itself, and node opening the database with
// better-sqlite3. Build the CLI first (node build.mjs).
import { build } from "esbuild"
import { bundleScript } from "../../../scripts/bundle-script.mjs"
import { execFileSync, spawnSync } from "node:child_process"
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const here = dirname(fileURLToPath(import.meta.url))
const cli = join(here, "../dist/main.js")
const tasks = Number(process.argv[2] ?? 100_000)
const runs = Number(process.argv[3] ?? 15)
const work = mkdtempSync(join(tmpdir(), "abathur-startup-"))
const db = join(tmpdir(), `abathur-startup-${tasks}.db`)

if (!existsSync(db)) {
  const maker = join(work, "make-db.mjs")
  await bundleScript(build, join(here, "make-db.ts"), maker, { checkpointWorker: false, nodePaths: [join(here, "../node_modules")] })
  // Resolve better-sqlite3 from the CLI's node_modules.
  copyFileSync(maker, join(here, "make-db.tmp.mjs"))
  try {
    execFileSync(process.execPath, [join(here, "make-db.tmp.mjs"), db, String(tasks)], { stdio: ["ignore", "inherit", "inherit"] })
  } finally {
    rmSync(join(here, "make-db.tmp.mjs"), { force: true })
  }
}
const nextDb = join(work, "next.db")
copyFileSync(db, nextDb)
// The first claim on a database that sat idle refreshes the stored priorities whose time has come
// (all waiting tasks after a few minutes): measure it apart, then the steady state.
{
  const start = process.hrtime.bigint()
  spawnSync(process.execPath, [cli, "--db", nextDb, "next", "--json"], { stdio: "ignore" })
  console.log(`first next --json on the idle database: ${(Number(process.hrtime.bigint() - start) / 1e6).toFixed(0)} ms`)
}
const floor = join(here, "floor.tmp.mjs")
writeFileSync(
  floor,
  `import D from "better-sqlite3"; const d = new D(process.argv[2]); d.prepare("SELECT count(*) FROM task_stats").get(); d.close()\n`
)

const commands = {
  "node (empty script)": [join(work, "empty.mjs")],
  "node + better-sqlite3 open": [floor, db],
  "abathur status --json": [cli, "--db", db, "status", "--json"],
  "abathur next --json": [cli, "--db", nextDb, "next", "--json"]
}
writeFileSync(join(work, "empty.mjs"), "")
const times = Object.fromEntries(Object.keys(commands).map((k) => [k, []]))
for (let i = 0; i < runs; i++) {
  for (const [name, args] of Object.entries(commands)) {
    const start = process.hrtime.bigint()
    const r = spawnSync(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] })
    const ms = Number(process.hrtime.bigint() - start) / 1e6
    if (r.status !== 0) throw new Error(`${name} failed: ${r.stderr}`)
    times[name].push(ms)
  }
}
rmSync(floor, { force: true })
rmSync(work, { recursive: true, force: true })
console.log(`${tasks} tasks, ${runs} runs each (wall time, ms)`)
for (const [name, list] of Object.entries(times)) {
  const sorted = [...list].sort((a, b) => a - b)
  console.log(`${name.padEnd(28)} best ${sorted[0].toFixed(0).padStart(4)}  median ${sorted[Math.floor(sorted.length / 2)].toFixed(0).padStart(4)}`)
}
