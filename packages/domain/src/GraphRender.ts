import type { TaskStatus } from "./TaskStatus.js"

/** What the renderers need of a task. */
export interface GraphTask {
  readonly id: string
  readonly summary: string
  readonly status: TaskStatus
}

/**
 * An edge drawn from prerequisite to dependent (the direction work flows), or, with kind
 * `subtask`, from a parent to its child in the hierarchy.
 */
export interface GraphEdge {
  readonly from: string
  readonly to: string
  readonly resolved: boolean
  readonly kind?: "dependency" | "subtask" | undefined
}

const short = (id: string) => id.slice(0, 8)
const label = (t: GraphTask, max = 48) => {
  const s = t.summary.length > max ? `${t.summary.slice(0, max - 1)}…` : t.summary
  return `${short(t.id)} ${s} (${t.status})`
}

const statusColours: Readonly<Record<TaskStatus, string>> = {
  pending: "#e0e0e0",
  blocked: "#f5d0a9",
  ready: "#a9d0f5",
  running: "#f3f781",
  completed: "#a9f5a9",
  failed: "#f5a9a9",
  cancelled: "#d8d8d8"
}

/** The graph as a Mermaid flowchart (renders in GitHub, GitLab, mermaid.live). */
export const renderMermaid = (tasks: ReadonlyArray<GraphTask>, edges: ReadonlyArray<GraphEdge>): string => {
  const node = (id: string) => `t${id.replaceAll("-", "")}`
  const esc = (s: string) => s.replaceAll('"', "#quot;").replace(/[\r\n]+/g, " ")
  const lines = ["flowchart TD"]
  for (const t of tasks) lines.push(`  ${node(t.id)}["${esc(label(t))}"]:::${t.status}`)
  const subtaskLinks: Array<number> = []
  edges.forEach((e, i) => {
    if (e.kind === "subtask") subtaskLinks.push(i)
    lines.push(`  ${node(e.from)} ${e.resolved && e.kind !== "subtask" ? "-->" : "-.->"} ${node(e.to)}`)
  })
  for (const [status, colour] of Object.entries(statusColours)) lines.push(`  classDef ${status} fill:${colour},stroke:#555`)
  // Parent -> child links: dotted and grey, apart from the dependencies.
  if (subtaskLinks.length > 0) lines.push(`  linkStyle ${subtaskLinks.join(",")} stroke:#999,stroke-width:1px`)
  return `${lines.join("\n")}\n`
}

/** The graph in Graphviz DOT (`dot -Tsvg`). */
export const renderDot = (tasks: ReadonlyArray<GraphTask>, edges: ReadonlyArray<GraphEdge>): string => {
  const q = (s: string) =>
    `"${s
      .replaceAll("\\", "\\\\")
      .replaceAll('"', '\\"')
      .replace(/[\r\n]+/g, " ")}"`
  const lines = ["digraph abathur {", "  rankdir=LR;", '  node [shape=box, style="rounded,filled", fontname="Helvetica"];']
  for (const t of tasks) lines.push(`  ${q(t.id)} [label=${q(label(t))}, fillcolor=${q(statusColours[t.status])}];`)
  for (const e of edges) {
    const attrs = e.kind === "subtask" ? ' [style=dashed, color="#999999", arrowhead=odot]' : e.resolved ? "" : " [style=dashed]"
    lines.push(`  ${q(e.from)} -> ${q(e.to)}${attrs};`)
  }
  lines.push("}")
  return `${lines.join("\n")}\n`
}
