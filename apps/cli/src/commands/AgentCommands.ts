/** Commands for agents and their runners: `mcp` (MCP on stdio) and `work` (run tasks through a command). */
import type { TaskQueue } from "@abathur/queue"
import { Effect } from "effect"
import { command, describe, withQueue } from "./Command.js"
import { Runtime } from "effect"
import { displayDb } from "../Store.js"
import { VERSION } from "../Version.js"
import { runWork, workOptions } from "../work/Work.js"

export const mcp = command(
  "mcp",
  {},
  describe(
    `Serve the MCP tools (task_enqueue, task_plan_submit, task_get, task_list, task_claim,
    task_heartbeat, task_complete, task_fail, task_release, task_cancel, task_retry, task_queue_status,
    task_execution_plan, ...; see docs/mcp.md) on stdio, for agents. They take whole task ids. Register
    it with your MCP client as the command \`abathur --db PATH mcp\`.`,
    "abathur mcp --db ~/work/.abathur/abathur.db"
  ),
  (_, ctx) =>
    withQueue(
      ctx,
      Effect.gen(function* () {
        const { makeMcpServer, serveStdio } = yield* Effect.promise(() => import("@abathur/mcp"))
        const runtime = yield* Effect.runtime<TaskQueue>()
        const server = makeMcpServer({ run: (effect) => Runtime.runPromiseExit(runtime)(effect), version: VERSION })
        yield* Effect.logDebug(`serving MCP on stdio for ${displayDb(ctx.db)}`)
        yield* Effect.promise(() => {
          const stop = () => void server.close()
          process.once("SIGINT", stop)
          process.once("SIGTERM", stop)
          return serveStdio(server)
        })
      }),
      { longRunning: true, serve: true }
    )
)

export const work = command(
  "work",
  workOptions,
  describe(
    `Run tasks through a command: claim ready tasks, most important first, and run CMD once per task,
    at most N at a time. The child reads the task as JSON on stdin and finds ABATHUR_TASK_ID,
    ABATHUR_TASK_PROMPT and ABATHUR_DB in its environment (so it can submit subtasks with --parent
    $ABATHUR_TASK_ID). Exit 0 completes the task (result: the last stdout line when it is JSON, else
    the stdout tail); another exit fails it with the stderr tail (retries apply); past the task's
    timeout its process group gets SIGTERM, then SIGKILL. Output goes to logs/<task id>.log beside
    the database (./.abathur/logs for a postgres:// --db, which the children inherit in ABATHUR_DB;
    the worker then wakes on PostgreSQL's LISTEN/NOTIFY when any process makes work ready). Ctrl-C stops claiming and lets running tasks finish; a second Ctrl-C kills them and
    returns their tasks to the queue.`,
    `abathur work --exec "node agent.mjs" -n 4`,
    `abathur work --exec "./run-task.sh" --until-empty --json`,
    `abathur work --shell --exec 'claude -p "$ABATHUR_TASK_PROMPT"' --agent-type coder`
  ),
  (o, ctx) => runWork(o, ctx)
)
