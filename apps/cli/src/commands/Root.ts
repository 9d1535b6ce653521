/** The root command, `abathur` alone: the commands at a glance. */
import { Command } from "@effect/cli"
import { Effect } from "effect"
import type { Colors } from "../Terminal.js"
import { VERSION } from "../Version.js"
import { App, DEFAULT_DB, globalOptions } from "./App.js"

const commandSummaries: ReadonlyArray<readonly [string, string]> = [
  ["submit PROMPT [flags]", "submit a task"],
  ["submit --file PLAN.json", "submit a plan of tasks, all or nothing (- reads stdin)"],
  ["show ID", "a task with its links and its priority explained"],
  ["list [--status S]...", "tasks, most important first"],
  ["next [--worker NAME] [--limit N]", "claim the most important ready task (or up to N)"],
  ["heartbeat ID", "renew a running task's lease"],
  ["complete ID --lease-token T [--result JSON] [--next]", "complete a running task (and claim the next)"],
  ["fail ID --error TEXT", "fail a running task's attempt (retries apply)"],
  ["cancel ID", "cancel a task, its dependents and subtasks"],
  ["retry ID", "retry a failed task"],
  ["release ID", "give a running task back to the queue"],
  ["deps add DEPENDENT PREREQUISITE", "make a task wait for another"],
  ["deps remove DEPENDENT PREREQ", "stop a task waiting for another"],
  ["status", "the queue at a glance"],
  ["plan [ID]...", "open tasks in batches that can run in parallel"],
  ["tree [ID]", "the hierarchy of tasks and subtasks"],
  ["graph [ID] [--format dot]", "the dependency graph as Mermaid or DOT"],
  ["recover", "return tasks whose lease expired to the queue"],
  ["prune [--older-than 30d]", "delete old finished tasks"],
  ["db migrate | db check", "migrate or check the database file"],
  ["mcp", "serve the MCP tools on stdio for agents"],
  ["work --exec CMD [-n N]", "run ready tasks through a command, N at a time"]
]

/** `abathur` and `abathur --help`: the commands at a glance. */
export const overview = (c: Colors): string =>
  [
    `${c.bold("abathur")} ${VERSION}: a task queue for swarms of AI agents, on one SQLite file.`,
    "",
    `${c.bold("Usage")}: abathur [--db PATH|URL] [--json] [--log-level LEVEL] COMMAND [ARGS] [FLAGS]`,
    "",
    c.bold("Commands"),
    ...commandSummaries.map(([usage, what]) => `  ${usage.padEnd(34)}${c.dim(what)}`),
    "",
    c.bold("Global options") + c.dim(" (before or after the command name)"),
    `  ${"--db PATH|URL".padEnd(34)}${c.dim(`the database file (env ABATHUR_DB; default ${DEFAULT_DB}), or a postgres:// URL`)}`,
    `  ${"--json".padEnd(34)}${c.dim("one JSON document on stdout; errors as JSON on stderr")}`,
    `  ${"--log-level LEVEL".padEnd(34)}${c.dim("trace, debug, info (default; env ABATHUR_LOG_LEVEL), warning, error, none")}`,
    "",
    c.bold("Examples"),
    `  abathur submit "Design the schema" --priority 8`,
    `  abathur next --worker coder-1 --json`,
    `  abathur status`,
    "",
    c.dim("Run `abathur COMMAND --help` for a command's flags and examples.")
  ].join("\n")

export const root = Command.make("abathur", globalOptions, () =>
  Effect.flatMap(App, (app) =>
    Effect.sync(() => {
      app.terminal.stdout.write(`${overview(app.terminal.out)}\n`)
    })
  )
)
