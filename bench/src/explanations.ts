/**
 * What the measurements of a missed target mean and what would close it, per workload.
 * Written from the analysis runs and the side experiments noted in the text (same machine,
 * same schema); printed in BENCHMARKS.md only when the target is missed.
 */
export const EXPLANATIONS: Readonly<Record<string, { readonly reason: string; readonly close: string }>> = {
  W1: {
    reason:
      "Each submit is one write transaction, and on this machine the commit is the biggest cost for both sides: " +
      "SQLite writes each WAL frame with its own write() calls, which take about 9 µs each here. At the rate the " +
      "floor reaches, no design that uses one transaction per task gets to 20,000 tasks/s on this machine. Compared " +
      "with the floor, Abathur does more work per task: it writes an audit row (task_audit and its index: more WAL " +
      "pages per transaction), validates the input with zod, computes the priority and the claim rank, maps the row " +
      "with 32 named parameters, and goes through the Effect runtime on every call.",
    close:
      "Run again on a quiet machine first: STACK.md's ~115k single-row transactions/s leaves about 40 µs per submit " +
      "for everything besides the commit. Then (1) offer a batch submit for independent tasks (one transaction, as " +
      "submitPlan does), because the commit dominates the cost; a server already shares commits between concurrent " +
      "requests (group commit, see H1). (2) Read the clock once in `TaskQueue.write` without the " +
      "`flatMap`/`suspend` layers."
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
      "columns. Write the plan's audit rows with one multi-row INSERT. Schema v5 dropped idx_tasks_status_submitted and narrowed " +
      "idx_tasks_open_depth (bench/scripts/pages.mjs counts the pages each index costs a write); idx_tasks_source_created " +
      "(a seed index) is on no hot path. Reaching 100,000 tasks/s needs about 10 µs per task including its edges and audit row, which is about what " +
      "SQLite itself costs on a quiet machine (~1M rows/s in one transaction)."
  },
  W3: {
    reason:
      "Both sides use two write transactions per task. Abathur's transactions are heavier: an audit row per state " +
      "change, 7 statements per claim instead of the floor's 1 (recover check, due-refresh check, the heads of the " +
      "two rank classes, SELECT *, UPDATE, audit) and 4 per complete instead of 2; a 32-column `SELECT *` row " +
      "mapped (with JSON.parse) twice per pair; zod validation and the Effect runtime on every call. Checkpoints " +
      "run on a background thread (storage's checkpointer), so the p99 no longer pays for them; the floor still " +
      "checkpoints in its commits.",
    close:
      "(1) Claim with one statement per rank class: `UPDATE ... WHERE id = (SELECT ... LIMIT 1) RETURNING *` once " +
      "the better head is known, replacing the SELECT * + UPDATE. (2) Check the recover and refresh conditions " +
      "against values cached in memory (the earliest lease expiry and the earliest refresh time), updated by each " +
      "transaction, with `data_version` detecting other processes. (3) Trim the Effect path in TaskQueue.write (see " +
      "W1). The share-of-floor target is the meaningful one on a shared machine; the 20,000 tasks/s target needs a " +
      "quiet one."
  },
  W4: {
    reason:
      "At the median a claim costs about twice the floor's (more statements, see W3). The floor's p99 is set by WAL " +
      "checkpoints: one every 1,000 pages, an fsync each, on the committing thread. Abathur's connection leaves " +
      "them to a background thread (passive checkpoints every 100 ms; the writer checkpoints itself only at 64 MiB " +
      "of WAL), which takes its p99 to about 1 ms; what remains above it is preemption on a shared 2-core machine " +
      "and the claims that re-rank tasks falling due. Claims no longer re-rank the queue as time passes: starvation " +
      "grows at the same rate for every waiting task, so each stores a time-invariant rank, and only deadline tasks " +
      "(urgency up half a point) and tasks crossing the one-hour starvation horizon (once each, spread over the " +
      "last refresh step by task id) fall due. A queue left idle for 10 minutes therefore costs its next claim only " +
      "the deadline tasks due (the 10-minute row). One left idle past the horizon pays every crossing at once (the " +
      "2-hour row): one UPDATE of the rank per task, once in its life.",
    close:
      "Bound the crossing work of one claim without losing the freshness bound: tasks below a head that has not " +
      "crossed can never beat it (their true score is capped below the head's), so a claim could cross only the " +
      "heads that have. A queue submitted in one plan still needs each of its tasks moved once; doing it on a timer " +
      "in a server, or set-wise in one UPDATE, would keep it off the claims. A 1 ms p99 is measurable only on a " +
      "machine that is not shared."
  },
  W5: {
    reason:
      "Completing the root resolves its 1,000 edges with one `UPDATE ... RETURNING`, finds the dependents it " +
      "unblocked with their priority facts in one query, and writes each one's state and rank with one UPDATE, then " +
      "the audit rows 100 per INSERT. The floor runs one guarded UPDATE per dependent. Each state UPDATE changes " +
      "`status`, which appears in most indexes of tasks (many partial on status), plus the statistics trigger: that " +
      "is most of the time on both sides, and 1,000 such UPDATEs take the floor itself far longer than 10 ms on " +
      "this machine. Abathur's extra per dependent: the rank and refresh columns, a count of the dependent's own " +
      "open dependents for its priority, and the audit row.",
    close:
      "Write the dependents' new state in one `UPDATE ... FROM (VALUES ...)` and take their open-dependent counts " +
      "from one grouped query. Fewer indexes help both sides: schema v5 dropped idx_tasks_status_submitted and narrowed " +
      "idx_tasks_open_depth; bench/scripts/pages.mjs counts what each remaining index and trigger costs a write."
  },
  W6: {
    reason:
      "At the median, addDependency costs about twice the floor, because it does more than the edge. It walks " +
      "prerequisites in JavaScript with one query per visited node (prerequisiteDepths). After every add it builds " +
      "a full `detail`: the task, its prerequisites, dependents and children, and a priority breakdown with an " +
      "open-dependent count, which is about 5 more queries. It also refreshes the prerequisite's priority and " +
      "writes an audit row when the dependent becomes BLOCKED. The p99 is set by the edges whose walk visits many " +
      "nodes, and by preemption; the floor's p99 also pays its checkpoints.",
    close:
      "Return a light result (the edge and the dependent's new status) and let callers ask for the detail. Walk " +
      "with one recursive CTE pruned by depth, as the floor does."
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
      "A cycle is two requests, each one write operation committed before the answer, through the same TaskQueue " +
      "that the in-process loop uses, on the server's one thread. The server runs with group commit: operations " +
      "that arrive in the same turn of the event loop share one SQLite transaction (a savepoint each), and the " +
      "wake-ups and metrics listen to commits synchronously instead of resuming a fiber per publish; with both, the " +
      "server spends well under twice the in-process CPU per cycle (it was 2.7 times before them). What is left is " +
      "HTTP through Effect's platform: every request is a fiber of its own through the router, the auth, error and " +
      "metrics wrappers, the body reader and the JSON answer (GET /healthz alone costs the server about 150-200 µs " +
      "of CPU where bare node:http costs 55-60 µs). The client and the server also share the 2 cores with each " +
      "other and with everything else running, and each answer wakes the other process; the profile samples wall " +
      "time, so the time the server loses when it is preempted right after waking the client shows up under " +
      "`writev`.",
    close:
      "(1) Measure on a quiet machine: the in-process row and the bare floor show what the queue and the transport " +
      "allow there, and the target needs both well above 5,000 cycles/s. (2) Fewer round trips per cycle: a request " +
      "that completes a task and claims the next one, or claims of several tasks at once. (3) A fast path for the " +
      "two hot routes on plain node:http (same auth, body limit, error documents and metrics) instead of a fiber " +
      "per request through the platform router. Already done: group commit, synchronous commit listeners, no " +
      "per-request tracing span (no tracer is configured), request log records built only at debug level."
  }
}
