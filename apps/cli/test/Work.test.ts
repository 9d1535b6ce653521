import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { taskLogPath } from "../src/work/TaskLog.js"
import { CLI, isAlive, type Summary, summaryOf, type Task, waitFor, WorkSandbox } from "./support/Work.js"

/**
 * `abathur work` with real processes: the built CLI runs small Node scripts as the workers'
 * command, on a temporary database.
 */

/** Appends `start ID TIME` and `end ID TIME` around a short nap. */
const RECORDER = `
import { appendFileSync, readFileSync } from "node:fs"
const task = JSON.parse(readFileSync(0, "utf8"))
const id = process.env.ABATHUR_TASK_ID
if (task.id !== id) process.exit(9)
appendFileSync("events.log", "start " + id + " " + Date.now() + " " + process.pid + "\\n")
await new Promise((r) => setTimeout(r, 150 + Math.floor(Math.random() * 100)))
appendFileSync("events.log", "end " + id + " " + Date.now() + "\\n")
`

/**
 * Runs `work -n 4` until the queue is empty, its first four commands ending together: each waits
 * for the file "go", made while the worker is stopped (SIGSTOP), so that it hears of the four exits
 * at once when it goes on, as a busy worker does of children that end close together. `meanwhile`
 * runs while it is stopped (with the ids of the four tasks). Later commands end at once.
 */
const endTogether = async (s: WorkSandbox, meanwhile?: (started: ReadonlyArray<string>) => Promise<void>) => {
  const script = `echo $ABATHUR_TASK_ID >> started; if [ ! -e go ]; then while [ ! -e go ]; do sleep 0.01; done; echo x >> ended; fi`
  const worker = s.start(["work", "-n", "4", "--until-empty", "--shell", "--exec", script, "--log-level", "debug", "--json"])
  await waitFor("four commands to start", () => s.lines("started").length === 4, 20_000)
  const first = s.lines("started").map(([id]) => id!)
  worker.signal("SIGSTOP")
  try {
    await meanwhile?.(first)
    s.file("go", "")
    await waitFor("the four commands to end", () => s.lines("ended").length === 4, 20_000)
    await new Promise((r) => setTimeout(r, 300))
  } finally {
    worker.signal("SIGCONT")
  }
  return { result: await worker.done, first }
}

describe("abathur work", () => {
  it.concurrent("drains a plan of 30 tasks with dependencies, 4 at a time, each once and after its prerequisites", async () => {
    const s = new WorkSandbox()
    s.file("rec.mjs", RECORDER)
    // t_i depends on up to two earlier tasks, picked deterministically: a graph 5 to 6 layers deep.
    const nodes = Array.from({ length: 30 }, (_, i) => {
      const deps = new Set<string>()
      if (i >= 2 && i % 5 !== 0) deps.add(`t${Math.floor(i / 2)}`)
      if (i >= 3 && i % 4 === 1) deps.add(`t${i - 3}`)
      return { key: `t${i}`, prompt: `task ${i}`, dependsOn: [...deps], dependencyType: i % 2 === 0 ? "parallel" : "sequential" }
    })
    const plan = await s.json<{ tasks: Record<string, Task> }>(["submit", "--file", s.file("plan.json", JSON.stringify({ tasks: nodes }))])
    const idOf = (key: string) => plan.tasks[key]!.id

    const summary = summaryOf(await s.run(["work", "-n", "4", "--until-empty", "--exec", "node rec.mjs", "--json"]))
    expect(summary).toEqual({ completed: 30, failed: 0, retried: 0, timedOut: 0 })

    const events = s.lines("events.log")
    const starts = new Map<string, number>()
    const ends = new Map<string, number>()
    let inFlight = 0
    let most = 0
    events.forEach(([kind, id], i) => {
      if (kind === "start") {
        expect(starts.has(id!), `task ${id} started twice`).toBe(false)
        starts.set(id!, i)
        most = Math.max(most, ++inFlight)
      } else {
        ends.set(id!, i)
        inFlight--
      }
    })
    expect(starts.size).toBe(30)
    expect(ends.size).toBe(30)
    expect(most).toBeLessThanOrEqual(4)
    expect(most).toBeGreaterThan(1)
    for (const node of nodes) {
      for (const dep of node.dependsOn) {
        expect(starts.get(idOf(node.key))!, `${node.key} started before ${dep} ended`).toBeGreaterThan(ends.get(idOf(dep))!)
      }
    }
    const status = await s.json(["status"])
    expect(status.byStatus).toMatchObject({ completed: 30, ready: 0, running: 0, blocked: 0 })
  })

  it.concurrent("fails a failing command with its stderr tail, after its retries, and cancels its dependents", async () => {
    const s = new WorkSandbox()
    s.file(
      "fail.mjs",
      `process.stdout.write("some output\\n"); process.stderr.write("noise ".repeat(600) + "\\nboom: the build broke\\n"); process.exit(3)`
    )
    const [task, dependent] = await s.plan({ key: "build", prompt: "Build it", maxRetries: 2 }, { prompt: "Ship it", dependsOn: ["build"] })
    const summary = summaryOf(await s.run(["work", "--until-empty", "--exec", "node fail.mjs", "--json"]))
    expect(summary).toEqual({ completed: 0, failed: 1, retried: 2, timedOut: 0 })
    const now = await s.tasks()
    const failed = now.get(task!.id)!
    expect(failed.status).toBe("failed")
    expect(failed.retryCount).toBe(2)
    expect(failed.errorMessage!.endsWith("boom: the build broke\n")).toBe(true)
    expect(Buffer.byteLength(failed.errorMessage!)).toBeLessThanOrEqual(2048)
    expect(failed.errorMessage!.length).toBeGreaterThan(2000)
    expect(now.get(dependent!.id)!.status).toBe("cancelled")
    // Three attempts in the task's log.
    const log = readFileSync(taskLogPath(s.db, task!.id), "utf8")
    expect(log.match(/^# abathur work: task/gm)).toHaveLength(3)
    expect(log).toContain("boom: the build broke")
    expect(log).toContain("some output")
  })

  it.concurrent("kills a command past its timeout with its grandchildren, retries it, then fails it as timed out", async () => {
    const s = new WorkSandbox()
    // The first attempt ignores SIGTERM (so SIGKILL must follow); both leave a grandchild running.
    s.file(
      "hang.mjs",
      `
import { spawn } from "node:child_process"
import { appendFileSync, readFileSync } from "node:fs"
const task = JSON.parse(readFileSync(0, "utf8"))
if (task.retryCount === 0) process.on("SIGTERM", () => {})
const grandchild = spawn("sh", ["-c", "sleep 100 & sleep 100"], { stdio: "ignore" })
appendFileSync("pids", process.pid + " " + grandchild.pid + "\\n")
process.stderr.write("working on it\\n")
setInterval(() => {}, 1000)
`
    )
    const task = await s.submit("Hang", "--timeout", "2", "--max-retries", "1")
    const t0 = Date.now()
    const summary = summaryOf(await s.run(["work", "--until-empty", "--exec", "node hang.mjs", "--json"]))
    const took = Date.now() - t0
    expect(summary).toEqual({ completed: 0, failed: 1, retried: 1, timedOut: 2 })
    expect(took).toBeGreaterThan(2000 + 5000 + 2000 - 500)
    const failed = await s.show(task.id)
    expect(failed.status).toBe("failed")
    expect(failed.errorMessage).toMatch(/^timed out after 2 s/)
    expect(failed.errorMessage).toContain("working on it")
    const pids = s.lines("pids").flat().map(Number)
    expect(pids).toHaveLength(4)
    // `sleep`s under the grandchild shell are in the same process group: gone too.
    await waitFor("every process of the group to go", () => pids.every((p) => !isAlive(p)), 3000)
    const log = readFileSync(taskLogPath(s.db, task.id), "utf8")
    expect(log).toContain("killed by SIGKILL")
  })

  it.concurrent("runs subtasks that a command submits with --parent $ABATHUR_TASK_ID", async () => {
    const s = new WorkSandbox()
    s.file(
      "planner.mjs",
      `
import { execFileSync } from "node:child_process"
const prompt = process.env.ABATHUR_TASK_PROMPT
if (prompt.startsWith("Plan")) {
  for (const part of ["front", "back"]) {
    execFileSync(process.execPath, [process.env.CLI, "submit", "Build the " + part, "--parent", process.env.ABATHUR_TASK_ID, "--source", "agent_planner", "--json"], { stdio: ["ignore", "ignore", "inherit"] })
  }
}
console.log(JSON.stringify({ did: prompt }))
`
    )
    const root = await s.submit("Plan the app")
    const summary = summaryOf(await s.run(["work", "-n", "2", "--until-empty", "--exec", "node planner.mjs", "--json"], { CLI }))
    expect(summary).toEqual({ completed: 3, failed: 0, retried: 0, timedOut: 0 })
    const tree = await s.json<{ task: Task; children: Array<{ task: Task; children: [] }> }>(["tree", root.id])
    expect(tree.task.status).toBe("completed")
    expect(tree.children.map((c) => c.task.prompt).sort()).toEqual(["Build the back", "Build the front"])
    for (const c of tree.children) {
      expect(c.task.parentTaskId).toBe(root.id)
      expect(c.task.status).toBe("completed")
      expect(c.task.resultData).toEqual({ did: c.task.prompt })
    }
  })

  it.concurrent("gives the child the task on stdin and in its environment, never in its command line, and keeps results and logs", async () => {
    const s = new WorkSandbox()
    s.file(
      "child.mjs",
      `
import { readFileSync, writeFileSync } from "node:fs"
const stdin = readFileSync(0, "utf8")
const task = JSON.parse(stdin)
const e = process.env
if (task.prompt === "json") {
  console.log("thinking...")
  console.log(JSON.stringify({ answer: 42, ok: true }))
} else if (task.prompt === "text") {
  process.stdout.write("plain words\\nmore words\\n")
  process.stderr.write("a warning\\n")
} else {
  writeFileSync("seen-" + task.id + ".json", JSON.stringify({ argv: process.argv.slice(2), id: e.ABATHUR_TASK_ID, prompt: e.ABATHUR_TASK_PROMPT, db: e.ABATHUR_DB, stdin }))
}
`
    )
    const [json, text, nasty] = await s.plan("json", "text", `rm -rf / $(touch pwned) \`touch pwned2\`; touch pwned3 "' && touch pwned4`)
    const summary = summaryOf(await s.run(["work", "-n", "3", "--until-empty", "--exec", "node child.mjs --flag 'two words'", "--json"]))
    expect(summary).toEqual({ completed: 3, failed: 0, retried: 0, timedOut: 0 })
    const now = await s.tasks()
    expect(now.get(json!.id)!.resultData).toEqual({ answer: 42, ok: true })
    expect(now.get(text!.id)!.resultData).toEqual({ stdout: "plain words\nmore words\n" })
    expect(now.get(nasty!.id)!.resultData).toEqual({ stdout: "" })
    const seen = JSON.parse(s.read(`seen-${nasty!.id}.json`))
    expect(seen.argv).toEqual(["--flag", "two words"])
    expect(seen.id).toBe(nasty!.id)
    expect(seen.prompt).toBe(nasty!.prompt)
    expect(seen.db).toBe(s.db)
    const stdinTask = JSON.parse(seen.stdin)
    expect(stdinTask).toMatchObject({ id: nasty!.id, prompt: nasty!.prompt, status: "running" })
    expect(stdinTask).not.toHaveProperty("leaseToken")
    for (const f of ["pwned", "pwned2", "pwned3", "pwned4"]) expect(existsSync(join(s.dir, f))).toBe(false)
    // stdout and stderr, in the log file beside the database.
    const log = readFileSync(join(s.dir, "logs", `${text!.id}.log`), "utf8")
    expect(log).toContain("plain words")
    expect(log).toContain("a warning")
    expect(log).toMatch(/exited with code 0/)
  })

  it.concurrent("finishes running tasks on SIGINT, takes no new ones, and exits 0", async () => {
    const s = new WorkSandbox()
    s.file(
      "nap.mjs",
      `
import { appendFileSync } from "node:fs"
appendFileSync("events.log", "start " + process.env.ABATHUR_TASK_ID + "\\n")
await new Promise((r) => setTimeout(r, 1500))
appendFileSync("events.log", "end " + process.env.ABATHUR_TASK_ID + "\\n")
`
    )
    const tasks = await s.plan("one", "two", "three")
    const worker = s.start(["work", "-n", "2", "--exec", "node nap.mjs", "--json"])
    await waitFor("two tasks to start", () => s.lines("events.log").length >= 2)
    worker.signal("SIGINT")
    const r = await worker.done
    expect(summaryOf(r)).toEqual({ completed: 2, failed: 0, retried: 0, timedOut: 0 })
    expect(r.stderr).toContain("taking no new tasks")
    const events = s.lines("events.log")
    expect(events.filter(([k]) => k === "end")).toHaveLength(2)
    const now = await s.tasks()
    const statuses = tasks.map((t) => now.get(t.id)!.status)
    expect(statuses.sort()).toEqual(["completed", "completed", "ready"])
  })

  it.concurrent("on a second SIGINT kills the running commands and returns their tasks to ready, exit 0", async () => {
    const s = new WorkSandbox()
    s.file(
      "stuck.mjs",
      `
import { spawn } from "node:child_process"
import { appendFileSync } from "node:fs"
const g = spawn("sleep", ["100"], { stdio: "ignore" })
appendFileSync("pids", process.pid + " " + g.pid + "\\n")
setInterval(() => {}, 1000)
`
    )
    const tasks = await s.plan("one", "two")
    const worker = s.start(["work", "-n", "2", "--exec", "node stuck.mjs", "--json"])
    await waitFor("two commands to start", () => s.lines("pids").length >= 2)
    worker.signal("SIGINT")
    await waitFor("the worker to hear the first signal", () => worker.stderr.includes("taking no new tasks"))
    worker.signal("SIGINT")
    const r = await worker.done
    expect(summaryOf(r)).toEqual({ completed: 0, failed: 0, retried: 0, timedOut: 0 })
    const now = await s.tasks()
    for (const t of tasks) {
      expect(now.get(t.id)!.status).toBe("ready")
      expect(now.get(t.id)!.retryCount).toBe(0)
    }
    const pids = s.lines("pids").flat().map(Number)
    await waitFor("the commands and their children to die", () => pids.every((p) => !isAlive(p)), 3000)
  })

  it.concurrent("two workers on one database never run the same task", async () => {
    const s = new WorkSandbox()
    s.file("rec.mjs", RECORDER)
    const plan = { tasks: Array.from({ length: 40 }, (_, i) => ({ key: `k${i}`, prompt: `task ${i}`, priority: i % 11 })) }
    await s.json(["submit", "--file", s.file("plan.json", JSON.stringify(plan))])
    const a = s.start(["work", "-n", "3", "--until-empty", "--exec", "node rec.mjs", "--json", "--worker", "a"])
    const b = s.start(["work", "-n", "3", "--until-empty", "--exec", "node rec.mjs", "--json", "--worker", "b"])
    const [ra, rb] = await Promise.all([a.done, b.done])
    const sa = summaryOf(ra)
    const sb = summaryOf(rb)
    expect(sa.completed + sb.completed).toBe(40)
    expect(sa.completed).toBeGreaterThan(0)
    expect(sb.completed).toBeGreaterThan(0)
    const starts = s
      .lines("events.log")
      .filter(([k]) => k === "start")
      .map(([, id]) => id!)
    expect(starts).toHaveLength(40)
    expect(new Set(starts).size).toBe(40)
    expect((await s.json(["status"])).byStatus).toMatchObject({ completed: 40, ready: 0, running: 0 })
  })

  it.concurrent("claims the free slots in one transaction, and each completion claims its slot's next task in the same one", async () => {
    const s = new WorkSandbox()
    for (let i = 0; i < 3; i++) await s.submit(`batch ${i}`)
    expect(summaryOf(await s.run(["work", "-n", "3", "--until-empty", "--shell", "--exec", "true", "--json"]))).toEqual({
      completed: 3,
      failed: 0,
      retried: 0,
      timedOut: 0
    })
    const batch = [...(await s.tasks()).values()] as unknown as Array<{ startedAt: string; completedAt: string }>
    // One claim transaction reads the clock once: the three share their start.
    expect(new Set(batch.map((t) => t.startedAt)).size).toBe(1)

    const t = new WorkSandbox()
    for (let i = 0; i < 6; i++) await t.submit(`chain ${i}`, "--priority", String(9 - i))
    expect(summaryOf(await t.run(["work", "--until-empty", "--shell", "--exec", "true", "--json"]))).toEqual({
      completed: 6,
      failed: 0,
      retried: 0,
      timedOut: 0
    })
    const done = ([...(await t.tasks()).values()] as unknown as Array<{ startedAt: string; completedAt: string }>).sort((a, b) =>
      a.startedAt < b.startedAt ? -1 : a.startedAt > b.startedAt ? 1 : 0
    )
    // complete --next: each task started in the transaction that completed the one before it.
    for (let i = 1; i < done.length; i++) expect(done[i]!.startedAt).toBe(done[i - 1]!.completedAt)
  })

  it.concurrent("reports children that finish together in one transaction (group commit), then the next tasks they claimed", async () => {
    const s = new WorkSandbox()
    for (let i = 0; i < 6; i++) await s.submit(`together ${i}`)
    const { result, first } = await endTogether(s)
    expect(summaryOf(result)).toEqual({ completed: 6, failed: 0, retried: 0, timedOut: 0 })
    const tasks = [...(await s.tasks()).values()] as unknown as Array<{ id: string; startedAt: string; completedAt: string }>
    const together = tasks.filter((t) => first.includes(t.id))
    // One transaction reads the clock once: the four completions share their instant, and the two
    // tasks left were claimed by that same transaction (completeMany with next).
    expect(new Set(together.map((t) => t.completedAt)).size).toBe(1)
    const rest = tasks.filter((t) => !first.includes(t.id))
    expect(rest.map((t) => t.startedAt)).toEqual([together[0]!.completedAt, together[0]!.completedAt])
    expect(result.stderr).toMatch(/4 tasks completed in one transaction/)
  })

  it.concurrent("a batch refused for one lost task is reported one by one: the others' results are kept", async () => {
    const s = new WorkSandbox()
    for (let i = 0; i < 4; i++) await s.submit(`together ${i}`)
    let cancelled = ""
    const { result, first } = await endTogether(s, async (started) => {
      cancelled = started[2]!
      expect((await s.json(["cancel", cancelled])).task.status).toBe("cancelled")
    })
    expect(summaryOf(result)).toEqual({ completed: 3, failed: 0, retried: 0, timedOut: 0 })
    expect(result.stderr).toMatch(/4 completions refused as one batch \(InvalidTransition/)
    const tasks = await s.tasks()
    expect(first.map((id) => tasks.get(id)!.status)).toEqual(first.map((id) => (id === cancelled ? "cancelled" : "completed")))
  })

  it.concurrent("wakes promptly for a task submitted by another process, and stops after --max-tasks", async () => {
    const s = new WorkSandbox()
    await s.json(["status"]) // create the database
    const worker = s.start(["work", "--max-tasks", "2", "--shell", "--exec", "echo x >> started", "--json"])
    await new Promise((r) => setTimeout(r, 1500)) // idle
    for (const prompt of ["first", "second"]) {
      const before = s.lines("started").length
      await s.submit(prompt)
      await waitFor("the task to start", () => s.lines("started").length > before, 10_000)
    }
    const r = await worker.done
    expect(summaryOf(r)).toEqual({ completed: 2, failed: 0, retried: 0, timedOut: 0 })
    // From the submitting transaction to the claim: about 20 ms here (a file watch on the WAL);
    // the bound leaves room for a loaded 2-core machine.
    for (const t of (await s.tasks()).values()) {
      expect(
        Date.parse((t as unknown as { startedAt: string }).startedAt) - Date.parse((t as unknown as { submittedAt: string }).submittedAt)
      ).toBeLessThan(5000)
    }
  })

  it.concurrent("stops the command of a task cancelled while it runs", async () => {
    const s = new WorkSandbox()
    s.file("stuck.mjs", `import { appendFileSync } from "node:fs"; appendFileSync("pids", process.pid + "\\n"); setInterval(() => {}, 1000)`)
    const task = await s.submit("long job")
    const worker = s.start(["work", "--max-tasks", "1", "--exec", "node stuck.mjs", "--json"])
    await waitFor("the command to start", () => s.lines("pids").length >= 1)
    const pid = Number(s.lines("pids")[0]![0])
    const cancelled = await s.json(["cancel", task.id])
    expect(cancelled.task.status).toBe("cancelled")
    const r = await worker.done
    expect(summaryOf(r)).toEqual<Summary>({ completed: 0, failed: 0, retried: 0, timedOut: 0 })
    expect(isAlive(pid)).toBe(false)
    expect((await s.show(task.id)).status).toBe("cancelled")
  })

  it.concurrent("refuses bad flags with a ValidationError (exit 2) before claiming anything", async () => {
    const s = new WorkSandbox()
    const task = await s.submit("untouched")
    const cases: Array<[Array<string>, RegExp]> = [
      [["work"], /--exec/],
      [["work", "--exec", "node a.mjs | tee out"], /--shell/],
      [["work", "--exec", "ls *.ts"], /--shell/],
      [["work", "--exec", "echo $ABATHUR_TASK_ID"], /--shell/],
      [["work", "--exec", "no-such-program-abathur"], /not found on PATH/],
      [["work", "--exec", "./missing.sh"], /not an executable/],
      [["work", "--exec", "true", "-n", "0"], /-n must be a whole number/],
      [["work", "--exec", "true", "--lease", "soon"], /--lease/],
      [["work", "--exec", "true", "--max-tasks", "-1"], /--max-tasks|Expected/],
      [["work", "--exec", "true", "--server", "ftp://x"], /--server/]
    ]
    const results = await Promise.all(cases.map(([args]) => s.run([...args, "--json"])))
    cases.forEach(([args, message], i) => {
      const r = results[i]!
      expect({ args, code: r.code, stdout: r.stdout }).toEqual({ args, code: 2, stdout: "" })
      const doc = JSON.parse(r.stderr)
      expect(doc.error._tag).toBe("ValidationError")
      expect(doc.error.message).toMatch(message)
    })
    expect((await s.show(task.id)).status).toBe("ready")
  })
})
