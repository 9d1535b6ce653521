/** Data of the workloads: plans for the service, rows for plain SQL. Deterministic per seed. */
import { defaultPrioritySettings, priorityRank, type PlanInput, type PlanNodeInput, type TaskSource } from "@abathur/domain"
import type { Db } from "./floor.js"
import { iso } from "./floor.js"
import { prng, randInt } from "./util.js"

export const SOURCES: ReadonlyArray<TaskSource> = ["human", "agent_requirements", "agent_planner", "agent_implementation"]

interface MutableNode {
  key: string
  prompt: string
  priority?: number
  source?: TaskSource
  agentType?: string
  deadline?: string
  estimatedDurationSeconds?: number
  dependsOn?: Array<string>
  children?: Array<MutableNode>
}

const asPlan = (tasks: Array<MutableNode>): PlanInput => ({ tasks: tasks as unknown as ReadonlyArray<PlanNodeInput> }) as PlanInput

/**
 * `n` independent tasks as plans of at most `chunk` tasks: varied base priority and source,
 * and a share of them with a deadline between 1 minute and 48 hours away.
 */
export const readyPlans = (n: number, options: { chunk?: number; deadlineShare?: number; seed?: number; now?: number } = {}): Array<PlanInput> => {
  const chunk = options.chunk ?? 10_000
  const rand = prng(options.seed ?? 7)
  const now = options.now ?? Date.now()
  const plans: Array<PlanInput> = []
  for (let start = 0; start < n; start += chunk) {
    const tasks: Array<MutableNode> = []
    for (let i = start; i < Math.min(n, start + chunk); i++) {
      const node: MutableNode = {
        key: `t${i}`,
        prompt: `benchmark task ${i}: implement the next step of the plan`,
        priority: randInt(rand, 11),
        source: SOURCES[randInt(rand, SOURCES.length)]!
      }
      if (rand() < (options.deadlineShare ?? 0)) {
        node.deadline = iso(now + 60_000 + Math.floor(rand() * 48 * 3_600_000))
        node.estimatedDurationSeconds = 60 + randInt(rand, 3600)
      }
      tasks.push(node)
    }
    plans.push(asPlan(tasks))
  }
  return plans
}

/** A node of a generated graph, by index. */
export interface GenNode {
  readonly parent: number | null
  readonly deps: ReadonlyArray<number>
  readonly depth: number
}

/**
 * W2's plan: `n` tasks in a hierarchy (10 roots, each task at most 25 direct subtasks, four
 * levels) and a layered dependency DAG over the same tasks: 10 layers by index, each task
 * of a layer > 0 depending on 1 to 3 earlier tasks, one of them in the previous layer.
 * A task depends only on tasks whose whole subtree comes before it by index: an ancestor
 * would be a wait on itself, and a subtree reaching past it could wait for it through the
 * hierarchy (a deadlock the queue refuses).
 */
export const hierarchicalPlan = (n: number, seed = 11): { plan: PlanInput; nodes: Array<GenNode> } => {
  const rand = prng(seed)
  const roots = 10
  const branching = 25
  const layers = 10
  const perLayer = Math.ceil(n / layers)
  const parentOf = (i: number): number | null => (i < roots ? null : Math.floor((i - roots) / branching))
  // The largest index in each task's subtree (children have larger indices than their parent).
  const lastBelow = Array.from({ length: n }, (_, i) => i)
  for (let i = n - 1; i >= roots; i--) {
    const p = parentOf(i)!
    lastBelow[p] = Math.max(lastBelow[p]!, lastBelow[i]!)
  }
  const gen: Array<GenNode> = []
  const nodes: Array<MutableNode> = []
  const top: Array<MutableNode> = []
  for (let i = 0; i < n; i++) {
    const parent = parentOf(i)
    const layer = Math.floor(i / perLayer)
    const deps = new Set<number>()
    const pick = (from: number, count: number): void => {
      for (let attempt = 0; attempt < 20; attempt++) {
        const d = from + randInt(rand, count)
        if (lastBelow[d]! < i) {
          deps.add(d)
          return
        }
      }
    }
    if (layer > 0) {
      const k = 1 + randInt(rand, 3)
      pick((layer - 1) * perLayer, perLayer)
      for (let tries = 0; deps.size < k && tries < 10; tries++) pick(0, layer * perLayer)
    }
    const depList = [...deps]
    const depth = depList.length === 0 ? 0 : 1 + Math.max(...depList.map((d) => gen[d]!.depth))
    gen.push({ parent, deps: depList, depth })
    const node: MutableNode = {
      key: `n${i}`,
      prompt: `plan step ${i}: a unit of work an agent can finish alone`,
      priority: randInt(rand, 11),
      source: SOURCES[randInt(rand, SOURCES.length)]!,
      dependsOn: depList.map((d) => `n${d}`)
    }
    nodes.push(node)
    if (parent === null) top.push(node)
    else (nodes[parent]!.children ??= []).push(node)
  }
  return { plan: asPlan(top), nodes: gen }
}

/**
 * W6's graph: `components` independent DAGs of `size` tasks (10 + 9 x 10 tasks over depths
 * 0 to 10 for size 100), each task below depth 0 depending on one task of the previous depth
 * and up to two more of earlier depths of its component. Returned as plans of `perPlan`
 * components, plus the graph by global index.
 */
export const componentGraph = (
  components: number,
  perPlan: number,
  seed = 13
): { plans: Array<PlanInput>; nodes: Array<GenNode>; keyOf: (i: number) => string } => {
  const rand = prng(seed)
  const layerSizes = [10, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9]
  const size = layerSizes.reduce((a, b) => a + b, 0)
  const nodes: Array<GenNode> = []
  const plans: Array<PlanInput> = []
  let tasks: Array<MutableNode> = []
  for (let c = 0; c < components; c++) {
    const base = c * size
    const layerStart: Array<number> = []
    let offset = 0
    for (const s of layerSizes) {
      layerStart.push(offset)
      offset += s
    }
    for (let layer = 0; layer < layerSizes.length; layer++) {
      for (let j = 0; j < layerSizes[layer]!; j++) {
        const deps = new Set<number>()
        if (layer > 0) {
          deps.add(base + layerStart[layer - 1]! + randInt(rand, layerSizes[layer - 1]!))
          const extra = randInt(rand, 3)
          for (let e = 0; e < extra; e++) deps.add(base + randInt(rand, layerStart[layer]!))
        }
        const depList = [...deps]
        nodes.push({ parent: null, deps: depList, depth: layer })
        tasks.push({
          key: `g${nodes.length - 1}`,
          prompt: `graph task ${nodes.length - 1}`,
          priority: randInt(rand, 11),
          dependsOn: depList.map((d) => `g${d}`)
        })
      }
    }
    if ((c + 1) % perPlan === 0 || c === components - 1) {
      plans.push(asPlan(tasks))
      tasks = []
    }
  }
  return { plans, nodes, keyOf: (i) => `g${i}` }
}

/** Every column of `tasks`, for plain inserts. */
const TASK_INSERT = `INSERT INTO tasks (id, prompt, summary, agent_type, priority, status, input_data, result_data,
  error_message, retry_count, max_retries, max_execution_timeout_seconds, submitted_at, started_at, completed_at,
  last_updated_at, created_by, parent_task_id, session_id, source, dependency_type, calculated_priority, deadline,
  estimated_duration_seconds, dependency_depth, lease_token, lease_expires_at, worker_id, priority_refresh_at, cancelled_by,
  priority_rank, priority_starved)
  VALUES (?, ?, ?, 'general', ?, ?, '{}', ?, ?, 0, 3, 3600, ?, ?, ?, ?, NULL, ?, NULL, ?, 'sequential', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

export interface MillionShape {
  readonly total: number
  readonly byStatus: Readonly<Record<string, number>>
  readonly edges: number
}

/**
 * Fills a migrated database with `n` tasks of a long-lived queue, with plain SQL in one
 * transaction (the triggers keep task_stats right): submitted over the last 30 days;
 * 85% completed, 3% cancelled, 2% failed, 6% ready, 3% blocked (each on an open task),
 * 1% running with a live lease; every fifth completed task depended on an earlier one.
 * Open tasks carry the priority, claim rank and refresh time the engine would store.
 */
export const seedLongLivedQueue = (db: Db, n: number, now: number, seed = 17): MillionShape => {
  const rand = prng(seed)
  const insert = db.prepare(TASK_INSERT)
  const edge = db.prepare(
    `INSERT INTO task_dependencies (id, dependent_task_id, prerequisite_task_id, dependency_type, created_at, resolved_at)
     VALUES (?, ?, ?, 'sequential', ?, ?)`
  )
  const span = 30 * 24 * 3_600_000
  const byStatus: Record<string, number> = {}
  let edges = 0
  const settings = defaultPrioritySettings
  const open: Array<{ id: string; depth: number }> = []
  const completed: Array<{ id: string; depth: number; at: string }> = []
  db.pragma("cache_size = -262144")
  db.transaction(() => {
    for (let i = 0; i < n; i++) {
      const submitted = now - span + Math.floor((i / n) * span)
      const id = crypto.randomUUID()
      const r = rand()
      const status = r < 0.85 ? "completed" : r < 0.88 ? "cancelled" : r < 0.9 ? "failed" : r < 0.96 ? "ready" : r < 0.99 ? "blocked" : "running"
      const priority = randInt(rand, 11)
      const source = SOURCES[randInt(rand, SOURCES.length)]!
      const submittedAt = iso(submitted)
      let prereq: { id: string; depth: number; resolvedAt: string | null } | null = null
      if (status === "blocked" && open.length > 0) {
        const p = open[randInt(rand, open.length)]!
        prereq = { id: p.id, depth: p.depth, resolvedAt: null }
      } else if (status === "completed" && completed.length > 0 && i % 5 === 0) {
        const p = completed[completed.length - 1 - randInt(rand, Math.min(completed.length, 1000))]!
        prereq = { id: p.id, depth: p.depth, resolvedAt: p.at }
      }
      const effectiveStatus = status === "blocked" && prereq === null ? "ready" : status
      const depth = prereq === null ? 0 : prereq.depth + 1
      const waiting = effectiveStatus === "ready" || effectiveStatus === "blocked"
      const deadline = waiting && rand() < 0.1 ? now + 60_000 + Math.floor(rand() * 48 * 3_600_000) : null
      const estimate = deadline === null ? null : 60 + randInt(rand, 3600)
      let score = 5
      let refreshAt: string | null = null
      let rank: number | null = null
      let starved = 0
      if (waiting || effectiveStatus === "running") {
        const facts = {
          priority,
          source,
          deadline,
          estimatedDurationSeconds: estimate,
          openDependents: 0,
          waitingSince: submitted
        }
        const r = priorityRank(facts, now, settings)
        score = r.calculatedPriority
        if (waiting) {
          rank = r.rank
          starved = r.starved ? 1 : 0
          refreshAt = effectiveStatus === "ready" && r.refreshAt !== null ? iso(r.refreshAt) : null
        }
      }
      const finished = submitted + 60_000 + randInt(rand, 600_000)
      const completedAt = effectiveStatus === "completed" || effectiveStatus === "failed" ? iso(finished) : null
      const startedAt = completedAt !== null || effectiveStatus === "running" ? iso(submitted + 30_000) : null
      const running = effectiveStatus === "running"
      insert.run(
        id,
        `long-lived queue task ${i}: refactor, test and document one module`,
        `long-lived queue task ${i}: refactor, test and document one module`,
        priority,
        effectiveStatus,
        effectiveStatus === "completed" ? '{"ok":true}' : null,
        effectiveStatus === "failed" ? "tests failed" : effectiveStatus === "cancelled" ? "cancelled by the operator" : null,
        submittedAt,
        startedAt,
        completedAt,
        completedAt ?? submittedAt,
        null,
        source,
        score,
        deadline === null ? null : iso(deadline),
        estimate,
        depth,
        running ? crypto.randomUUID() : null,
        running ? iso(now + 2 * 3_600_000) : null,
        running ? "bench-worker" : null,
        refreshAt,
        null,
        rank,
        starved
      )
      if (prereq !== null) {
        edge.run(crypto.randomUUID(), id, prereq.id, submittedAt, prereq.resolvedAt)
        edges++
      }
      byStatus[effectiveStatus] = (byStatus[effectiveStatus] ?? 0) + 1
      if (effectiveStatus === "ready" || effectiveStatus === "running") open.push({ id, depth })
      if (effectiveStatus === "completed") completed.push({ id, depth, at: completedAt! })
      if (completed.length > 5000) completed.splice(0, 1000)
    }
  }).immediate()
  db.pragma("cache_size = -2000")
  return { total: n, byStatus, edges }
}
