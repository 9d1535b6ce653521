import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { lastBytes, resultOf, Tail } from "../src/work/Child.js"
import { parseCommand, resolveProgram } from "../src/work/Exec.js"
import { taskLogDir, taskLogPath } from "../src/work/TaskLog.js"

/** The pure parts of `abathur work`, in process. */

const env = { HOME: "/home/me", PATH: process.env["PATH"] ?? "/usr/bin:/bin" }

describe("parseCommand", () => {
  it("splits words like a shell, without running one", () => {
    expect(parseCommand("node agent.mjs", false, env)).toEqual(["node", "agent.mjs"])
    expect(parseCommand(`claude -p 'do the task' --model "big one"`, false, env)).toEqual(["claude", "-p", "do the task", "--model", "big one"])
    expect(parseCommand("ls $HOME/x \\$HOME", false, env)).toEqual(["ls", "/home/me/x", "$HOME"])
    expect(parseCommand("agent --fast # a comment", false, env)).toEqual(["agent", "--fast"])
  })

  it("refuses shell syntax without --shell, and per-task variables", () => {
    for (const cmd of ["a | b", "a && b", "a; b", "a > out", "a < in", "ls *.ts", "(a)", "a &"]) {
      expect(() => parseCommand(cmd, false, env), cmd).toThrow(/--shell/)
    }
    expect(() => parseCommand("agent $ABATHUR_TASK_ID", false, env)).toThrow(/ABATHUR_TASK_ID/)
    expect(() => parseCommand("   ", false, env)).toThrow(/needs a command/)
    expect(() => parseCommand("''", false, env)).toThrow(/names no program/)
  })

  it("hands the whole text to /bin/sh -c with --shell", () => {
    expect(parseCommand(`a | b "$ABATHUR_TASK_ID"`, true, env)).toEqual(["/bin/sh", "-c", `a | b "$ABATHUR_TASK_ID"`])
  })

  it("finds the program on PATH or by path", () => {
    expect(resolveProgram("sh", "/", env)).toMatch(/^\/.*\/sh$/)
    expect(resolveProgram("/bin/sh", "/", env)).toBe("/bin/sh")
    expect(() => resolveProgram("surely-not-a-program", "/", env)).toThrow(/not found on PATH/)
    expect(() => resolveProgram("./nope.sh", "/", env)).toThrow(/not an executable/)
  })
})

const tail = (cap: number, ...chunks: Array<string>) => {
  const t = new Tail(cap)
  for (const c of chunks) t.push(Buffer.from(c))
  return t
}

describe("the result of a run", () => {
  it("is the last stdout line when it is JSON", () => {
    expect(resultOf(tail(1000, "working\n", '{"pr": 42}\n'))).toEqual({ pr: 42 })
    expect(resultOf(tail(1000, "log\n[1, 2]\n\n  \n"))).toEqual([1, 2])
    expect(resultOf(tail(1000, "done\n42"))).toBe(42)
  })

  it("is otherwise the last 4 KiB of stdout", () => {
    expect(resultOf(tail(1000, "hello\n"))).toEqual({ stdout: "hello\n" })
    expect(resultOf(tail(1000))).toEqual({ stdout: "" })
    expect(resultOf(tail(1000, '{"half": '))).toEqual({ stdout: '{"half": ' })
    const long = `${"x".repeat(5000)}\nend\n`
    expect(resultOf(tail(1024 * 1024, long))).toEqual({ stdout: long.slice(-4096) })
  })

  it("ignores a last line whose start was dropped", () => {
    // Only the end of `{"a": "xxx...x"}` was kept, which happens to parse as JSON.
    const t = tail(10, '{"a": "', "x".repeat(20), '1234"}')
    expect(t.truncated).toBe(true)
    expect(resultOf(tail(3, "[1]"))).toEqual([1])
    expect(resultOf(tail(3, "0", "[1]"))).toEqual({ stdout: "[1]" })
    expect(resultOf(t)).toEqual({ stdout: 'xxxx1234"}' })
  })

  it("keeps whole characters at the start of a tail", () => {
    const b = Buffer.from("ééé")
    expect(lastBytes(b, 3)).toBe("é")
    expect(lastBytes(b, 4)).toBe("éé")
    expect(lastBytes(b, 100)).toBe("ééé")
  })
})

describe("taskLogPath", () => {
  it("is logs/<task id>.log beside the database", () => {
    expect(taskLogPath("/data/q/abathur.db", "3f2b8c1e-9d4a-4f6b-8e2a-1c5d7e9f0a2b")).toBe("/data/q/logs/3f2b8c1e-9d4a-4f6b-8e2a-1c5d7e9f0a2b.log")
    expect(taskLogDir("rel/abathur.db")).toBe(join(process.cwd(), "rel", "logs"))
  })
})
