import { MAX_CLAIM_WAIT_SECONDS } from "./Bounds.js"

/**
 * What each input field means, in one place: the CLI's flags, the MCP tools' input properties and
 * the HTTP API's OpenAPI document all read these, so that the three say the same thing.
 */
export const FieldDocs = {
  // submit fields (JSON bodies, MCP arguments, plan nodes)
  prompt: "What to do, in words an agent can act on. The first line becomes the summary unless one is given.",
  priority: "Base priority, a whole number from 0 (lowest) to 10 (highest); default 5.",
  source:
    "Who submits: human, agent_requirements, agent_planner or agent_implementation (default human; agent_planner for a subtask or through MCP). Weighs in the priority.",
  dependsOn:
    'Tasks this one waits for, each with all of its subtasks: ids of existing tasks, or {"id", "onFailure"?, "dependencyType"?}; it stays blocked until every one has completed.',
  dependencyType: "sequential (default) or parallel: how the task relates to its prerequisites (both wait for all of them).",
  parentTaskId: "The parent task: the new task is its subtask (and waits for whatever the parent waits for).",
  deadline: "An ISO-8601 time such as 2026-01-31T17:00:00Z: the priority rises as it nears. Missing it changes nothing else.",
  estimatedDurationSeconds: "Estimated run time in seconds; urgency counts it against the deadline.",
  agentType: "The kind of agent that should run the task (default general); claims may ask for one kind.",
  maxRetries: "How many failed attempts are retried before the task fails for good (default 3).",
  maxExecutionTimeoutSeconds: "Longest run in seconds (default 3600), also the default lease of a claim.",
  summary: "A short title (default: the prompt's first line, cut to 140 characters).",
  inputData: 'Input for the worker: a JSON object such as {"repo": "api"}, handed over with the task.',
  sessionId: "An id of your own that groups tasks (e.g. an agent's session); stored, never interpreted.",
  createdBy: "Who created the task, for the audit trail; stored, never interpreted.",
  notBefore: "An ISO-8601 time before which the task is not claimed (a ready task waiting for it stays ready).",
  idempotencyKey: "A key of your own (1..200 characters): submitting the same key again returns the task it created instead of a new one.",
  retryBackoffSeconds: "Seconds to wait before a failed attempt is retried, doubling with each retry (0 = retry at once).",
  onFailure:
    "What a failure (or cancellation) of the prerequisite does to this task: cancel (default) cancels it too; ignore runs it anyway once the prerequisite has finished.",
  // plans
  tasks: "The plan's tasks: a list of nodes, each with the submit fields plus a key, dependsOn (keys or ids) and children.",
  key: "A name for the node, unique in the plan; other nodes name it in dependsOn.",
  children: "Subtasks of this node: nodes of the same shape, submitted as its children.",
  // operations
  id: "The id of an existing task (a UUID).",
  taskId: "The id of the task to act on (a UUID).",
  taskIds: "Ids of the tasks to plan for; they come with their open prerequisites (default: every open task).",
  prerequisiteId: "The id of the task to wait for (the prerequisite).",
  worker: "The claiming worker's name, recorded with the claim and in the audit trail.",
  leaseSeconds: "How long the lease lasts, in seconds (default: the task's maxExecutionTimeoutSeconds). Renew it with a heartbeat.",
  waitSeconds: `Wait up to this many seconds (0..${MAX_CLAIM_WAIT_SECONDS}, default 0) for a task to become ready when none is.`,
  leaseToken: "The lease token from the claim: refused (LeaseMismatch) when the task has been claimed again since.",
  result: 'The task\'s result: any JSON value, e.g. {"pr": 42}.',
  error: "What went wrong (required): kept as the task's errorMessage.",
  reason: "Why, in words: kept in the audit trail.",
  status: "Only tasks in these statuses: pending, blocked, ready, running, completed, failed, cancelled.",
  excludeStatus: "Leave out tasks in these statuses.",
  limit: "At most this many.",
  offset: "Skip this many first (paging; default 0).",
  text: "Only tasks whose prompt or summary contains this text (any case), or whose id starts with it.",
  minutes: "How many minutes back to count (1..1440, default 60).",
  failures: "How many of the newest failed attempts to list (0..200, default 20).",
  olderThan: "Age such as 30s, 15m, 12h, 30d or 2w, counted from completion (default 30d).",
  dryRun: "Only report what would be deleted.",
  format: "mermaid (default) or dot.",
  force: "Act on a RUNNING task without its lease token: an operator overriding the worker that holds it.",
  next: "Claim the next task in the same transaction: {worker?, leaseSeconds?, agentType?}; the answer adds next."
} as const

export type DocumentedField = keyof typeof FieldDocs

/** Where a field means something more specific, by the name of the schema (component) that holds it. */
export const FieldDocsIn: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  PlanNode: {
    dependsOn:
      'Nodes (by key) or existing tasks (by id) this one waits for, each with all of its subtasks; a key of the plan wins over an id. An item may be {"key"|"id": ..., "onFailure"?, "dependencyType"?}.',
    parentTaskId: "An existing task as the parent of this node (top-level nodes only: nested nodes get their enclosing node)."
  },
  PlanInput: {
    parentTaskId: "An existing task as the parent of every top-level node that names none (the plan is adopted under it).",
    idempotencyKey:
      "A key of your own (1..200 characters): submitting the plan again with it returns the same tasks and creates nothing; another plan with the same key is IdempotencyConflict."
  },
  AddDependencyInput: {
    dependencyType: "The edge's own type: sequential or parallel (default: the dependent's)."
  },
  PruneInput: {
    status: "Only terminal tasks in these statuses: completed, failed, cancelled (default all three)."
  },
  ListTasksInput: {
    parentTaskId: "Only the direct subtasks of this task.",
    source: "Only tasks from this source: human, agent_requirements, agent_planner or agent_implementation.",
    agentType: "Only tasks for this kind of agent."
  },
  ClaimInput: {
    agentType: "Only claim tasks for this kind of agent.",
    limit: "Claim up to this many tasks (1 to 100) in one transaction; the answer is a list."
  },
  HeartbeatInput: {
    leaseSeconds: "The new lease, in seconds from now (default: the task's maxExecutionTimeoutSeconds)."
  }
}

/** The description of `field`, as the schema `within` (a component name) means it. */
export const describeField = (field: string, within?: string): string | undefined =>
  (within === undefined ? undefined : FieldDocsIn[within]?.[field]) ??
  (Object.hasOwn(FieldDocs, field) ? FieldDocs[field as DocumentedField] : undefined)

type Json = Record<string, unknown>
const isJson = (u: unknown): u is Json => typeof u === "object" && u !== null && !Array.isArray(u)

/**
 * Gives every property of every object in a JSON Schema the description of its field, where the
 * schema has none of its own. `within` names the root schema; a definition under `$defs` (or
 * `definitions`) is read as the schema of its name. Returns a new document.
 */
export const withFieldDocs = (schema: Json, within?: string): Json => {
  const visit = (node: unknown, name: string | undefined): unknown => {
    if (Array.isArray(node)) return node.map((n) => visit(n, name))
    if (!isJson(node)) return node
    const out: Json = {}
    for (const [k, v] of Object.entries(node)) {
      if ((k === "$defs" || k === "definitions") && isJson(v)) {
        out[k] = Object.fromEntries(Object.entries(v).map(([defName, def]) => [defName, visit(def, defName)]))
      } else if (k === "properties" && isJson(v)) {
        out[k] = Object.fromEntries(
          Object.entries(v).map(([field, prop]) => {
            const visited = visit(prop, name)
            const description = describeField(field, name)
            return [
              field,
              isJson(visited) && visited["description"] === undefined && description !== undefined ? { description, ...visited } : visited
            ]
          })
        )
      } else out[k] = visit(v, name)
    }
    return out
  }
  return visit(schema, within) as Json
}
