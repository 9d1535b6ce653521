/**
 * The `abathur` command tree, composed from the command groups under commands/ (the app's context and
 * global options in App.ts, how a command is made in Command.ts, the root in Root.ts).
 */
import type { Task } from "@abathur/domain"
import type { TaskDetail } from "@abathur/queue"
import { Command } from "@effect/cli"
import { cancel, prune, recover, retry } from "./commands/AdminCommands.js"
import { mcp, work } from "./commands/AgentCommands.js"
import { describe } from "./commands/Command.js"
import { db } from "./commands/DatabaseCommands.js"
import { deps } from "./commands/DependencyCommands.js"
import { graph, plan, status, tree } from "./commands/ReadCommands.js"
import { root } from "./commands/Root.js"
import { list, show, submit } from "./commands/TaskCommands.js"
import { complete, fail, heartbeat, next, release } from "./commands/WorkerCommands.js"
import { VERSION } from "./Version.js"

export {
  App,
  type AppContext,
  type DatabaseSettings,
  DEFAULT_DB,
  type Env,
  type MainLayer,
  type QueueServices
} from "./commands/App.js"
export { overview } from "./commands/Root.js"

export { VERSION }

/** The whole command tree. */
export const abathur = root.pipe(
  Command.withDescription(
    describe(
      `A task queue for swarms of AI agents: submit tasks with dependencies and subtasks, claim the most
      important ready one, report back. One SQLite file, no server needed (or PostgreSQL for many machines:
      --db postgres://...). Global options (--db, --json,
      --log-level) go before or after the command name.`,
      `abathur submit "Design the schema" --priority 8`,
      "abathur next --worker me --json",
      "abathur status"
    )
  ),
  Command.withSubcommands([
    submit,
    show,
    list,
    next,
    heartbeat,
    complete,
    fail,
    cancel,
    retry,
    release,
    deps,
    status,
    plan,
    tree,
    graph,
    recover,
    prune,
    db,
    mcp,
    work
  ])
)

export type { Task, TaskDetail }
