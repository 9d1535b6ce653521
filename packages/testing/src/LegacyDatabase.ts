/**
 * Realistic legacy Abathur databases (schema version 1, as the Python implementation wrote them),
 * for migration tests. Deterministic for a given seed.
 *
 * `createLegacyDatabase` is one generator kept whole on purpose: every value comes from one seeded
 * random stream, so the order of its draws is what makes a seed give the same database again.
 * The formats and tables of the Python implementation are in LegacyShapes.ts.
 */
import { SCHEMA_MIGRATIONS, TASK_COLUMNS_V1, TASKS_V1 } from "@abathur/schema"
import BetterSqlite3 from "better-sqlite3"
import { mulberry32 } from "./Builders.js"
import { formatLegacy, PYTHON_COLUMNS, SESSIONS_DDL } from "./LegacyShapes.js"

export interface LegacyDatabaseOptions {
  /** How many tasks. */
  readonly tasks: number
  /** true: a version 1 database with its schema_migrations row; false: never versioned. */
  readonly versioned: boolean
  /** The status CHECK of the tasks table (default true). */
  readonly statusCheck?: boolean
  /** Adds `sessions` and `agents` tables (agents reference tasks), with rows. */
  readonly withSessionsAndAgents?: boolean
  /** At most this many JSON dependencies per task, all on earlier tasks (default 0). */
  readonly dependencies?: number
  /**
   * The columns the old Python migration added (source, calculated_priority, deadline,
   * estimated_duration_seconds, dependency_depth, dependency_type) already present, with its
   * `task_dependencies` table holding part of the edges too.
   */
  readonly legacyColumns?: boolean
  /**
   * Damage that real databases collect: dependencies on tasks that do not exist, on the task
   * itself, duplicated or malformed; parents that do not exist; NULL retry settings.
   */
  readonly anomalies?: boolean
  /** The PRNG seed (default 1). */
  readonly seed?: number
}

export type LegacyStatus = "pending" | "running" | "completed" | "failed" | "cancelled"

/** A dependency the migration must drop (and audit on the dependent task). */
export interface DroppedLegacyDependency {
  readonly taskId: string
  readonly kind: "unknown" | "self" | "malformed"
  /** The unknown id, or the whole malformed value. */
  readonly value: string
}

export interface LegacyDatabaseSummary {
  readonly path: string
  /** Every task id, in insertion order. */
  readonly taskIds: ReadonlyArray<string>
  /** The distinct valid edges, `[dependent, prerequisite]`, that the migration must keep. */
  readonly dependencies: ReadonlyArray<readonly [string, string]>
  readonly dependencyCount: number
  /** Edges written only to the legacy `task_dependencies` table (legacyColumns). */
  readonly tableOnlyDependencyCount: number
  readonly statusCounts: Readonly<Record<LegacyStatus, number>>
  readonly runningTaskIds: ReadonlyArray<string>
  /** Tasks whose parent_task_id names an existing task. */
  readonly parentCount: number
  /** Tasks whose parent_task_id names no task (anomalies). */
  readonly danglingParentTaskIds: ReadonlyArray<string>
  readonly droppedDependencies: ReadonlyArray<DroppedLegacyDependency>
  readonly sessionIds: ReadonlyArray<string>
  readonly agentIds: ReadonlyArray<string>
  /** Tables other than tasks and schema_migrations. */
  readonly otherTables: ReadonlyArray<string>
}

const STATUSES: ReadonlyArray<readonly [LegacyStatus, number]> = [
  ["pending", 0.3],
  ["running", 0.05],
  ["completed", 0.45],
  ["failed", 0.1],
  ["cancelled", 0.1]
]
const AGENT_TYPES = ["general", "general", "python-specialist", "requirements-gatherer", "task-planner", "code-reviewer"]
const SOURCES = ["human", "agent_requirements", "agent_planner", "agent_implementation"]
const WORDS = ["implement", "parser", "review", "the", "auth", "module", "tests", "schema", "migrate", "queue", "fix", "docs", "für", "naïve", "日本"]

/**
 * Writes a legacy Abathur database at `path` (which must not exist yet) and closes it.
 * Returns what it wrote, for tests to compare against after migrating.
 */
export const createLegacyDatabase = (path: string, options: LegacyDatabaseOptions): LegacyDatabaseSummary => {
  const rand = mulberry32(options.seed ?? 1)
  const int = (n: number): number => Math.floor(rand() * n)
  const pick = <A>(items: ReadonlyArray<A>): A => items[int(items.length)]!
  const chance = (p: number): boolean => rand() < p
  const uuid = (): string => {
    const hex = Array.from({ length: 32 }, () => int(16).toString(16))
    hex[12] = "4"
    hex[16] = (8 + int(4)).toString(16)
    const s = hex.join("")
    return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`
  }
  const timestamp = (ms: number): string => {
    const style = int(5)
    // SQLite's format has whole seconds; the instant is cut to match.
    return style === 0 ? formatLegacy(ms - (ms % 1000), 0, 0) : formatLegacy(ms, style, int(1000))
  }
  const maxDeps = options.dependencies ?? 0
  const anomalies = options.anomalies === true
  const legacyColumns = options.legacyColumns === true

  const db = new BetterSqlite3(path)
  try {
    db.pragma("foreign_keys = OFF")
    db.exec(options.statusCheck === false ? TASKS_V1.replace(/ CHECK\(status IN \([^)]*\)\)/, "") : TASKS_V1)
    if (options.versioned) {
      db.exec(SCHEMA_MIGRATIONS)
      db.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (1, 'legacy-tasks', ?)").run("2025-09-01T00:00:00.000Z")
    }
    if (legacyColumns) db.exec(PYTHON_COLUMNS)
    if (options.withSessionsAndAgents === true) db.exec(SESSIONS_DDL)

    const sessionIds: Array<string> = []
    const agentIds: Array<string> = []
    const base = Date.UTC(2025, 8, 1, 8, 0, 0)
    if (options.withSessionsAndAgents === true) {
      const insertSession = db.prepare(
        "INSERT INTO sessions (id, app_name, user_id, project_id, status, events, state, metadata, created_at, last_update_time) VALUES (?, 'abathur', ?, ?, ?, ?, ?, ?, ?, ?)"
      )
      const sessions = Math.max(1, Math.ceil(options.tasks / 50))
      db.transaction(() => {
        for (let i = 0; i < sessions; i++) {
          const id = `session-${i}-${uuid().slice(0, 8)}`
          sessionIds.push(id)
          const at = base + i * 3_600_000
          insertSession.run(
            id,
            pick(["alice", "bob", "ci"]),
            chance(0.5) ? `project-${int(5)}` : null,
            pick(["created", "active", "paused", "terminated"]),
            JSON.stringify([{ type: "started", at: new Date(at).toISOString() }]),
            JSON.stringify({ step: int(10) }),
            "{}",
            formatLegacy(at - (at % 1000), 0, 0),
            formatLegacy(at + 60_000 - (at % 1000), 0, 0)
          )
        }
      })()
    }

    const columns = [
      ...TASK_COLUMNS_V1,
      ...(legacyColumns ? ["source", "calculated_priority", "deadline", "estimated_duration_seconds", "dependency_depth", "dependency_type"] : [])
    ]
    const insertTask = db.prepare(`INSERT INTO tasks (${columns.join(", ")}) VALUES (${columns.map((c) => `@${c}`).join(", ")})`)
    const insertEdge = legacyColumns
      ? db.prepare(
          "INSERT INTO task_dependencies (id, dependent_task_id, prerequisite_task_id, dependency_type, created_at, resolved_at) VALUES (?, ?, ?, ?, ?, ?)"
        )
      : undefined
    const insertAgent =
      options.withSessionsAndAgents === true
        ? db.prepare(
            "INSERT INTO agents (id, name, specialization, task_id, state, model, spawned_at, terminated_at, resource_usage, session_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
          )
        : undefined

    const taskIds: Array<string> = []
    const statusOf = new Map<string, LegacyStatus>()
    const completedAtOf = new Map<string, string | null>()
    const edges: Array<readonly [string, string]> = []
    const edgeKeys = new Set<string>()
    const dropped: Array<DroppedLegacyDependency> = []
    const dangling: Array<string> = []
    const running: Array<string> = []
    const statusCounts: Record<LegacyStatus, number> = { pending: 0, running: 0, completed: 0, failed: 0, cancelled: 0 }
    let parentCount = 0
    let tableOnly = 0

    db.transaction(() => {
      for (let i = 0; i < options.tasks; i++) {
        const id = uuid()
        let r = rand()
        let status: LegacyStatus = "pending"
        for (const [s, p] of STATUSES) {
          if (r < p) {
            status = s
            break
          }
          r -= p
        }
        statusCounts[status]++
        if (status === "running") running.push(id)

        const submitted = base + i * 37_000 + int(30_000)
        const started = status === "pending" ? null : submitted + 1_000 + int(600_000)
        const completed = started !== null && status !== "running" ? started + 1_000 + int(3_600_000) : null
        const updated = completed ?? started ?? submitted
        const submittedText = timestamp(submitted)

        const words = Array.from({ length: 3 + int(12) }, () => pick(WORDS)).join(" ")
        const prompt =
          i % 17 === 0
            ? `${"Long first line ".repeat(12)}${i}\nSecond line\n\twith details`
            : i % 5 === 0
              ? `Task ${i}: ${words}\n\nDetails: ${words}`
              : `Task ${i}: ${words}`

        const input: Record<string, unknown> = { index: i, repo: `repo-${int(7)}`, flags: [chance(0.5), int(100)] }
        if (chance(0.3)) input["nested"] = { path: `/src/${pick(WORDS)}.py`, note: pick(WORDS) }

        // Dependencies on earlier tasks.
        const deps: Array<string> = []
        const tableDeps: Array<string> = []
        if (i > 0 && maxDeps > 0) {
          const n = int(maxDeps + 1)
          for (let k = 0; k < n; k++) {
            // Mostly recent tasks, sometimes any earlier one.
            const j = chance(0.7) ? Math.max(0, i - 1 - int(20)) : int(i)
            deps.push(taskIds[j]!)
          }
        }
        for (const prerequisite of deps) {
          const key = `${id} ${prerequisite}`
          if (!edgeKeys.has(key)) {
            edgeKeys.add(key)
            edges.push([id, prerequisite])
          }
        }
        let jsonDeps: Array<unknown> = [...deps]
        if (legacyColumns && deps.length > 0 && chance(0.4)) {
          // The Python code wrote these rows too; some tasks only there.
          tableDeps.push(...new Set(deps))
          if (chance(0.25)) {
            jsonDeps = []
            tableOnly += tableDeps.length
          }
        }
        let dependencies: string | null = JSON.stringify(jsonDeps).replaceAll('","', '", "')
        if (jsonDeps.length === 0 && chance(0.2)) dependencies = chance(0.5) ? null : ""

        let parent: string | null = null
        if (i > 0 && chance(0.2)) {
          parent = taskIds[int(i)]!
          parentCount++
        }
        let retryCount: number | null = status === "failed" ? 3 : int(3)
        let maxRetries: number | null = chance(0.8) ? 3 : int(6)

        if (anomalies && i > 0 && i % 7 === 3) {
          switch (int(6)) {
            case 0: {
              const ghost = uuid()
              jsonDeps.push(ghost)
              dropped.push({ taskId: id, kind: "unknown", value: ghost })
              dependencies = JSON.stringify(jsonDeps)
              break
            }
            case 1:
              jsonDeps.push(id)
              dropped.push({ taskId: id, kind: "self", value: id })
              dependencies = JSON.stringify(jsonDeps)
              break
            case 2:
              dependencies = `[${deps.map((d) => `'${d}'`).join(", ")}`
              dropped.push({ taskId: id, kind: "malformed", value: dependencies })
              // Nothing of a malformed value is kept as an edge.
              for (const prerequisite of deps) {
                if (!tableDeps.includes(prerequisite)) {
                  const key = `${id} ${prerequisite}`
                  edgeKeys.delete(key)
                  const at = edges.findIndex(([a, b]) => a === id && b === prerequisite)
                  if (at >= 0) edges.splice(at, 1)
                }
              }
              break
            case 3:
              // Duplicates of valid ids collapse into one edge each.
              if (deps.length > 0) dependencies = JSON.stringify([...jsonDeps, ...jsonDeps])
              break
            case 4:
              parent = uuid()
              dangling.push(id)
              break
            default:
              retryCount = null
              maxRetries = null
          }
        }

        const row: Record<string, unknown> = {
          id,
          prompt,
          agent_type: pick(AGENT_TYPES),
          priority: int(11),
          status,
          input_data: JSON.stringify(input).replaceAll('":', '": ').replaceAll(',"', ', "'),
          result_data: status === "completed" ? JSON.stringify({ output: `done ${i}`, tokens: int(5000) }) : null,
          error_message: status === "failed" ? `Error: task ${i} exploded\nTraceback (most recent call last): ...` : null,
          retry_count: retryCount,
          max_retries: maxRetries,
          max_execution_timeout_seconds: pick([3600, 3600, 600, 1800, 7200]),
          submitted_at: submittedText,
          started_at: started === null ? null : timestamp(started),
          completed_at: completed === null ? null : timestamp(completed),
          last_updated_at: timestamp(updated),
          created_by: pick([null, "human", "cli", `agent:${pick(AGENT_TYPES)}`]),
          parent_task_id: parent,
          dependencies,
          session_id: sessionIds.length > 0 && chance(0.6) ? pick(sessionIds) : chance(0.1) ? `adhoc-${int(100)}` : null
        }
        if (legacyColumns) {
          row["source"] = pick(SOURCES)
          row["calculated_priority"] = Math.round(rand() * 1000) / 100
          row["deadline"] = chance(0.2) ? timestamp(submitted + 86_400_000 + int(7 * 86_400_000)) : null
          row["estimated_duration_seconds"] = chance(0.3) ? 60 * (1 + int(120)) : null
          row["dependency_depth"] = int(4)
          row["dependency_type"] = chance(0.3) ? "parallel" : "sequential"
        }
        insertTask.run(row)
        taskIds.push(id)
        statusOf.set(id, status)
        completedAtOf.set(id, row["completed_at"] as string | null)

        if (insertEdge !== undefined) {
          for (const prerequisite of tableDeps) {
            const done = statusOf.get(prerequisite) === "completed"
            insertEdge.run(
              uuid(),
              id,
              prerequisite,
              row["dependency_type"],
              formatLegacy(submitted, 1, int(1000)),
              done ? (completedAtOf.get(prerequisite) ?? null) : null
            )
          }
        }
        if (insertAgent !== undefined && (status === "running" || chance(0.1))) {
          const agentId = uuid()
          agentIds.push(agentId)
          const spawned = started ?? submitted
          insertAgent.run(
            agentId,
            `${pick(AGENT_TYPES)}-${i}`,
            pick(AGENT_TYPES),
            id,
            status === "running" ? "busy" : "terminated",
            pick(["claude-sonnet-4", "claude-opus-4"]),
            formatLegacy(spawned - (spawned % 1000), 0, 0),
            status === "running" ? null : formatLegacy(updated - (updated % 1000), 0, 0),
            JSON.stringify({ tokens: int(100_000) }),
            sessionIds.length > 0 && chance(0.8) ? pick(sessionIds) : null
          )
        }
      }
    })()

    const otherTables = (
      db
        .prepare(
          "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT IN ('tasks', 'schema_migrations') AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
        .all() as Array<{ name: string }>
    ).map((t) => t.name)

    return {
      path,
      taskIds,
      dependencies: edges,
      dependencyCount: edges.length,
      tableOnlyDependencyCount: tableOnly,
      statusCounts,
      runningTaskIds: running,
      parentCount,
      danglingParentTaskIds: dangling,
      droppedDependencies: dropped,
      sessionIds,
      agentIds,
      otherTables
    }
  } finally {
    db.close()
  }
}
