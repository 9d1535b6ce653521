/**
 * What the measurements of a missed target mean and what would close it, per workload.
 * Written from the analysis runs and the side experiments noted in the text (same machine,
 * same schema); printed in BENCHMARKS.md only when the target is missed.
 */
export const EXPLANATIONS: Readonly<Record<string, { readonly reason: string; readonly close: string }>> = {
  W1: {
      reason:
        "Each submit is one write transaction, and on this machine the commit is the biggest cost for both sides: SQLite " +
        "writes each WAL frame with its own write() calls, which take about 9 µs each here. At the rate the floor reaches, no " +
        "design that uses one transaction per task gets to 20,000 tasks/s on this machine. Compared with the floor, Abathur " +
        "does more work per task: it writes an audit row (task_audit, its index, and sqlite_sequence because the table uses " +
        "AUTOINCREMENT, which is about 3.4 more WAL pages per transaction), validates the input with zod, computes the priority " +
        "and its next refresh time (a bisection of about 40 formula evaluations), maps the row with 30 named parameters, and " +
        "goes through the Effect runtime on every call.",
      close:
        "Run again on a quiet machine first: STACK.md's ~115k single-row transactions/s leaves about 40 µs per submit for " +
        "everything besides the commit. Then (1) drop AUTOINCREMENT from task_audit in a migration. `INTEGER PRIMARY KEY` " +
        "already increases, and dropping AUTOINCREMENT saves one page write per transaction. In a side experiment, adding the " +
        "audit INSERT to the floor's claim + complete took it from about 2,000 to 1,440 pairs/s, and from about 1,850 pairs/s " +
        "without AUTOINCREMENT. (2) In `TaskQueue.write`, skip `PubSub.publishAll` when nobody subscribes, and read the clock " +
        "once without the `flatMap`/`suspend` layers. (3) Offer a batch submit for independent tasks (one transaction, as " +
        "submitPlan does), because the commit dominates the cost."
    },
  W2: {
    reason:
      "The plan is one transaction of 10,000 task rows, about 18,000 edges and 10,000 audit rows. Most of the time goes to " +
      "SQLite inserting them: the tasks table has 12 indexes, and each insert touches every one of them. The floor pays that " +
      "too and reaches only a few thousand tasks/s on this machine. Abathur's extra costs: insertTask binds 30 named parameters " +
      "(the floor binds 12 positional ones and lets defaults fill the rest); one audit row per task; and per-task JavaScript " +
      "in the domain package. `facts()` parses the ISO submission time back with regular expressions (parseTimestamp), " +
      "formatTimestamp runs for every row and edge, and priorityRank computes every task's claim rank.",
    close:
      "Work out the shared values once per plan: every task of a plan has the same submission time, and without a deadline " +
      "the same next-refresh time, because starvation grows at the same rate for every task. Pass epoch milliseconds into the " +
      "priority functions instead of re-parsing ISO strings. Insert through a positional statement with only the non-default " +
      "columns. Write the plan's audit rows with one multi-row INSERT. Review which of the 12 tasks indexes the hot queries " +
      "actually use: idx_tasks_ready_submitted overlaps idx_tasks_status_submitted, and idx_tasks_source_created is on no " +
      "hot path. Reaching 100,000 tasks/s needs about 10 µs per task including its edges and audit row, which is about what " +
      "SQLite itself costs on a quiet machine (~1M rows/s in one transaction)."
  },
  W3: {
    reason:
      "Both sides use two write transactions per task. Abathur's transactions are heavier. Its audit rows add about 40% to " +
      "the WAL pages per pair (24 against 17, measured with autocheckpoint off), so it also checkpoints about 40% more often. " +
      "It runs 6 statements per claim instead of the floor's 1 (recover check, due-refresh check, pick, SELECT *, UPDATE, " +
      "audit) and 4 per complete instead of 2. It maps a 30-column `SELECT *` row (with JSON.parse) twice per pair. Every call " +
      "goes through zod validation and the Effect runtime. The mean rate is also pulled down by stalls that the p50 figures " +
      "do not show: WAL checkpoints (an fsync each), preemption on a loaded 2-core machine, and, when a run lasts more than " +
      "about 3.6 minutes, claims that refresh a whole plan's worth of stored scores at once (W4's last row).",
    close:
      "(1) Drop AUTOINCREMENT from task_audit (see W1). (2) Claim with one statement: `UPDATE ... WHERE id = (SELECT ... " +
      "LIMIT 1) RETURNING *`, which replaces nextReady + getTask + UPDATE. (3) Check the recover and refresh conditions " +
      "against values cached in memory (the earliest lease expiry and the earliest refresh time), updated by each " +
      "transaction, with `data_version` detecting other processes. (4) Trim the Effect path in TaskQueue.write (see W1). " +
      "(5) Spread refresh times: give each task a small offset, or refresh at most N due tasks per claim, the most overdue " +
      "first, plus the top candidates. One transaction's refresh must then not grow with the queue. The share-of-floor " +
      "target is the meaningful one on a shared machine; the 20,000 tasks/s target needs a quiet one."
  },
  W4: {
    reason:
      "At the median, a claim costs about twice the floor's. The p99 comes from stalls that the floor suffers too (its own " +
      "p99 is far above 1 ms here). A WAL checkpoint runs every 1,000 pages, which is every ~80 claims, so more than 1% of " +
      "claims pay for copying pages and an fsync. With a load average around 5 to 9 on 2 cores, a few percent of calls are " +
      "also preempted. In a side experiment with the floor's claim, raising wal_autocheckpoint from 1,000 to 10,000 cut the " +
      "p99 from ~15 ms to ~4.5 ms; the remaining 2-3% of claims over 1 ms were preemption. Separately, when every stored " +
      "score falls due at once (a queue left alone for about 3.6 minutes, because starvation moves the score by the refresh " +
      "step in that time), the next claim refreshes every task in its own transaction: seconds at 100,000 tasks (row above).",
    close:
      "Move checkpoints off the claim path: set `wal_autocheckpoint` to 0 on worker connections, and checkpoint PASSIVE from " +
      "a timer, or from the server process when it is idle. Write fewer pages per claim (audit without AUTOINCREMENT). Bound " +
      "the refresh work a claim can do, and spread the due times (see W3). Only then is a 1 ms p99 measurable, on a machine " +
      "that is not shared."
  },
  W5: {
    reason:
      "For each dependent, Abathur runs 5 statements where the floor runs 1 guarded UPDATE: a SELECT * of the dependent, a " +
      "count of its open prerequisites, the UPDATE of its state and refreshed priority, the audit INSERT, and a count of its " +
      "open dependents for the priority. Before the Engine change listed below it ran 6: the priority was a second UPDATE. Each " +
      "state UPDATE changes `status`, which appears in 8 indexes of tasks, 6 of them partial on status. The floor pays for " +
      "that too: 1,000 such UPDATEs take it far longer than 10 ms on this machine.",
    close:
      "Complete set-wise. Run one `UPDATE tasks SET status = 'ready' ... WHERE status = 'blocked' AND id IN (SELECT " +
      "dependent_task_id FROM task_dependencies WHERE prerequisite_task_id = ?) AND NOT EXISTS (open prerequisite) " +
      "RETURNING id, priority, source, deadline, estimated_duration_seconds, submitted_at`. Follow it with one `INSERT INTO " +
      "task_audit SELECT ...`, compute the priorities in JavaScript from the returned rows (their open-dependent counts come " +
      "from one grouped query), and write them back with one `UPDATE ... FROM (VALUES ...)`. That takes the statement count " +
      "from 5,000 to about 4. Fewer status indexes would help both sides."
  },
  W6: {
    reason:
      "The p99 is the same stall story as W4: the floor's p99 is about the same as Abathur's. At the median, addDependency " +
      "costs about three times the floor, because it does more than the edge. It walks prerequisites in JavaScript with one " +
      "query per visited node (prerequisiteDepths). After every add it builds a full `detail`: the task, its prerequisites, " +
      "dependents and children, and a priority breakdown with an open-dependent count, which is about 5 more queries. It also " +
      "refreshes the prerequisite's priority and writes an audit row when the dependent becomes BLOCKED. A refused cycle " +
      "still loads both tasks, counts prerequisites and walks, then builds a tagged error that the Effect runtime turns into " +
      "a failure.",
    close:
      "Return a light result (the edge and the dependent's new status) and let callers ask for the detail. Walk with one " +
      "recursive CTE pruned by depth, as the floor does. Move checkpoints off the request path (see W4)."
  },
  W7: {
    reason:
      "executionPlan reads the open ids with an ORDER BY that needs a temporary B-tree, fetches the edges in IN-lists of 500 " +
      "ids, and layers them in the domain package. status() reads task_stats plus three index lookups; before the " +
      "TaskRepository change listed below, the max-open-depth query read every open task (the unhinted row).",
    close:
      "Read the edges among open tasks with one join on status, as the floor does, and layer them over integer indexes. " +
      "Keep status() on task_stats and the partial indexes, checked with EXPLAIN QUERY PLAN in a test."
  },
  MEM: {
    reason:
      "The engine keeps no per-task state in memory. Its resident set is Node, the loaded modules and SQLite's page cache " +
      "(2 MB by default); the row of the same process opening nothing gives the baseline.",
    close: "Look for a read that loads many rows (list, graph or tree without a limit) reached on open or on claim."
  },
  H1: {
    reason:
      "A cycle is two requests, and each is one write transaction committed before the answer, through the same TaskQueue " +
      "that the in-process loop uses. The server runs them one after another on one thread, whatever the number of workers. " +
      "The CPU rows split the cost: the in-process row is the queue's work, and the server spends two to three times that " +
      "per cycle. The difference has two parts. First, HTTP through Effect's platform: every request is a fiber of its own " +
      "through the router, the auth, error and metrics wrappers, the body reader and the JSON answer. Side measurements with " +
      "the same client: GET /healthz costs the server about 150-200 µs of CPU per request where bare node:http costs 55-60 µs. " +
      "Second, every commit publishes its changes to the server's subscribers (the wake-ups and the metrics). Each publish " +
      "resumes a fiber. The in-process loop has no subscriber. In a side experiment, one subscriber added about 200 µs of " +
      "CPU per claim + complete cycle (+30%) to that loop, and a second one added little more. The client " +
      "and the server also share the 2 cores with each other and with everything else running, and each answer wakes the " +
      "other process. The profile samples wall time, so the time the server loses when it is preempted right after waking " +
      "the client shows up under `writev`, the socket write. When the machine is busy, even the bare server does not reach " +
      "5,000 cycles/s (10,000 requests/s) with this client (notes above).",
    close:
      "(1) Measure on a quiet machine. The in-process row and the bare floor show what the queue and the transport allow " +
      "there, and the target needs both well above 5,000 cycles/s. (2) Fewer transactions and round trips per cycle: a " +
      "request that completes a task and claims the next one (one round trip and one transaction instead of two), or claims " +
      "of several tasks at once. (3) Group commit in the server: concurrent claims and completions already run one after " +
      "another on one connection, so the queue could run the ones that arrive together in one SQLite transaction, with one " +
      "commit for several operations (a change to TaskQueue/Engine). (4) A fast path for the two hot routes on plain " +
      "node:http (same auth, body limit, error documents and metrics) instead of a fiber per request through the platform " +
      "router; it would save most of the per-request overhead measured here. (5) Give subscribers the changes without a " +
      "fiber per publish: for example, TaskQueue could call synchronous listeners after the commit, and the wake-ups and " +
      "metrics only count and signal. Already done: the platform's per-request " +
      "tracing span is off (no tracer is configured, so it went nowhere), and request log records are built only at debug " +
      "level. In alternating A/B runs at the same moment, those two changes cut the server's CPU per cycle by about a fifth."
  }
}
