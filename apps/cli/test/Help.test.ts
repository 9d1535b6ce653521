/**
 * Per-command help says what every flag and argument means: the live `--help` of every command
 * (found from `abathur --help` and the groups' own help) lists each one with a description of its
 * own, never @effect/cli's generic "A user-defined piece of text.".
 */
import { FieldDocs } from "@abathur/domain"
import { beforeAll, describe, expect, it } from "vitest"
import { abathur } from "../src/Cli.js"
import { commandPaths } from "../src/Help.js"
import { run } from "./support/Cli.js"

/** The rows of a section of a help text: `  TERM  description`, continuation lines joined. */
const section = (help: string, title: string): Array<{ term: string; text: string }> => {
  const lines = help.split("\n")
  const start = lines.indexOf(title)
  if (start < 0) return []
  const rows: Array<{ term: string; text: string }> = []
  for (const line of lines.slice(start + 1)) {
    if (line.trim() === "") break
    const row = /^ {2}(\S.*?)(?: {2,}(\S.*))?$/.exec(line)
    const continued = /^ {4,}(\S.*)$/.exec(line)
    if (continued !== null && rows.length > 0) rows[rows.length - 1]!.text = `${rows[rows.length - 1]!.text} ${continued[1]}`.trim()
    else if (row !== null) rows.push({ term: row[1]!, text: row[2] ?? "" })
  }
  return rows
}

/** Every command a user can ask help for, from the live help: the overview, then each group's subcommands. */
const liveCommands = async (): Promise<Array<Array<string>>> => {
  const overview = (await run(["--help"])).stdout
  const names = [...new Set(section(overview, "Commands").flatMap((r) => r.term.split(" | ").map((u) => u.split(" ")[0]!)))]
  const out: Array<Array<string>> = []
  for (const name of names) {
    const help = (await run([name, "--help"])).stdout
    const subs = section(help, "Subcommands").map((r) => r.term.replace(/^abathur /, "").split(" "))
    out.push([name], ...subs)
  }
  return out
}

describe("help", () => {
  let commands: Array<Array<string>> = []
  beforeAll(async () => {
    commands = await liveCommands()
  })

  it("the overview lists every command the CLI has", () => {
    const live = commands.map((c) => c.join(" ")).sort()
    const registered = commandPaths(abathur)
      .map((c) => c.join(" "))
      .sort()
    expect(live).toEqual(registered)
  })

  it("every flag and argument of every command has a description of its own", async () => {
    expect(commands.length).toBeGreaterThan(20)
    const helps = await Promise.all(commands.map((c) => run([...c, "--help"])))
    let flags = 0
    helps.forEach((r, i) => {
      const command = commands[i]!.join(" ")
      expect({ command, code: r.code, stderr: r.stderr }).toEqual({ command, code: 0, stderr: "" })
      expect(r.stdout, command).toMatch(new RegExp(`^Usage: abathur ${command}`))
      expect(r.stdout, command).not.toMatch(/user-defined piece of text|true or false value|This setting is optional|--completions|--wizard/)
      for (const title of ["Arguments", "Flags"]) {
        for (const row of section(r.stdout, title)) {
          if (title === "Flags") flags++
          expect(row.text.replace(/ ?Repeatable\.$/, "").length > 10 ? "described" : `${command}: ${row.term} has no description`).toBe("described")
        }
      }
    })
    expect(flags).toBeGreaterThan(40)
  })

  it("flags that set a queue field say what the field means, in the same words as MCP and the API", async () => {
    const submit = section((await run(["submit", "--help"])).stdout, "Flags")
    const text = (term: string) => submit.find((r) => r.term === term)?.text
    expect(text("--priority N")).toBe(FieldDocs.priority)
    expect(text("--estimate SECONDS")).toBe(FieldDocs.estimatedDurationSeconds)
    expect(text("--depends-on ID")).toBe(`${FieldDocs.dependsOn} Repeatable.`)
    const next = section((await run(["next", "-h"])).stdout, "Flags")
    expect(next.find((r) => r.term === "--lease SECONDS")?.text).toBe(FieldDocs.leaseSeconds)
    // Global options come once, at the end, for every command; a group lists its subcommands.
    const deps = (await run(["--json", "deps", "--help"])).stdout
    expect(section(deps, "Subcommands").map((r) => r.term)).toContain("abathur deps add")
    expect(section(deps, "Global options (before or after the command name)").map((r) => r.term)).toEqual([
      "--db PATH|URL",
      "--json",
      "--log-level LEVEL"
    ])
  })
})
