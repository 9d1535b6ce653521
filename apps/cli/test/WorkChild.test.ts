import { tempDir } from "@abathur/testing/vitest"
import { Effect } from "effect"
import { existsSync, readFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { type Child, type ChildSpec, startChild } from "../src/work/Child.js"
import { makeSpawner } from "../src/work/Spawner.js"
import { CLI, isAlive, waitFor } from "./support/Work.js"

/** Running one command: through the spawner helper process, and in process (its fallback). */

const dir = tempDir("abathur-child-")
// The helper as built beside the bundle (dist/spawner.cjs).
const spawner = makeSpawner(process.env, join(dirname(CLI), "spawner.cjs"))
afterAll(() => {
  spawner.close()
})

const spec = (name: string, argv: Array<string>, stdin = ""): ChildSpec => ({
  file: argv[0]!,
  argv,
  env: { ABATHUR_TASK_ID: name },
  cwd: dir,
  stdin,
  logPath: join(dir, `${name}.log`),
  logHeader: `# ${name}\n`
})

const ways: Array<[string, (s: ChildSpec) => Child]> = [
  ["the spawner helper", (s) => spawner.start(s)],
  ["in process", (s) => startChild(s, process.env)]
]

describe.each(ways)("a command run by %s", (way, start) => {
  const tag = way.replace(/\W+/g, "-")

  it("gets stdin and its environment; its output is kept and logged", async () => {
    const child = start(spec(`${tag}-io`, ["/bin/sh", "-c", 'read line; echo "got $line for $ABATHUR_TASK_ID"; echo oops >&2; exit 3'], "hello\n"))
    const exit = await Effect.runPromise(child.exited)
    expect(exit.code).toBe(3)
    expect(exit.spawnError).toBeNull()
    expect(exit.stdout.buffer().toString()).toBe(`got hello for ${tag}-io\n`)
    expect(exit.stderr.buffer().toString()).toBe("oops\n")
    const log = readFileSync(join(dir, `${tag}-io.log`), "utf8")
    expect(log).toMatch(new RegExp(`^# ${tag}-io\\n`))
    expect(log).toContain("got hello")
    expect(log).toContain("oops")
    expect(log).toMatch(/# exited with code 3 after/)
  })

  it("runs in the helper process or in this one, as named", async () => {
    const exit = await Effect.runPromise(start(spec(`${tag}-parent`, ["/bin/sh", "-c", "echo $PPID"])).exited)
    const parent = Number(exit.stdout.buffer().toString().trim())
    if (way === "in process") expect(parent).toBe(process.pid)
    else expect(parent).not.toBe(process.pid)
  })

  it("reports a program that cannot start", async () => {
    const exit = await Effect.runPromise(start(spec(`${tag}-missing`, ["/nonexistent/program"])).exited)
    expect(exit.code).toBeNull()
    expect(exit.spawnError?.message).toMatch(/ENOENT/)
  })

  it("signals the whole process group: TERM, then KILL when TERM is ignored", async () => {
    const ready = join(dir, `${tag}-trapped`)
    const child = start(spec(`${tag}-stubborn`, ["/bin/sh", "-c", `trap '' TERM; sleep 100 & echo $!; touch ${ready}; wait`]))
    await waitFor("the trap to be set", () => child.pid !== undefined && existsSync(ready))
    const started = Date.now()
    child.terminate(300)
    const exit = await Effect.runPromise(child.exited)
    expect(exit.signal).toBe("SIGKILL")
    expect(child.sent).toEqual(["SIGTERM", "SIGKILL"])
    expect(Date.now() - started).toBeGreaterThanOrEqual(250)
    const grandchild = Number(exit.stdout.buffer().toString().trim())
    await waitFor("the grandchild to die", () => !isAlive(grandchild), 3000)
  })

  it("kills what the command leaves running in its group when it exits", async () => {
    const exit = await Effect.runPromise(start(spec(`${tag}-leaves`, ["/bin/sh", "-c", "sleep 100 > /dev/null 2>&1 & echo $!"])).exited)
    expect(exit.code).toBe(0)
    const left = Number(exit.stdout.buffer().toString().trim())
    await waitFor("the leftover to die", () => !isAlive(left), 3000)
  })
})
