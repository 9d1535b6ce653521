import { describe, expect, it } from "vitest"
import { type GraphEdge, type GraphTask, renderDot, renderMermaid } from "@abathur/domain"

const A = "3f2b8c1e-9d4a-4f6b-8e2a-1c5d7e9f0a2b"
const B = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
const C = "6ba7b810-9dad-11d1-80b4-00c04fd430c8"

const tasks: ReadonlyArray<GraphTask> = [
  { id: A, summary: "Build", status: "completed" },
  { id: B, summary: "Test", status: "ready" },
  { id: C, summary: "Deploy", status: "blocked" }
]
const edges: ReadonlyArray<GraphEdge> = [
  { from: A, to: B, resolved: true },
  { from: B, to: C, resolved: false }
]

describe("renderMermaid", () => {
  const text = renderMermaid(tasks, edges)

  it("is a flowchart with one node per task, labelled by short id, summary and status", () => {
    expect(text.startsWith("flowchart")).toBe(true)
    expect(text).toContain("3f2b8c1e Build (completed)")
    expect(text).toContain("7c9e6679 Test (ready)")
    expect(text).toContain("6ba7b810 Deploy (blocked)")
  })

  it("draws resolved edges solid and open ones dashed, from prerequisite to dependent", () => {
    const lines = text.split("\n")
    const ab = lines.find((l) => l.includes("3f2b8c1e9d4a4f6b8e2a1c5d7e9f0a2b") && l.includes("7c9e6679742540de944be07fc1f90ae7"))
    const bc = lines.find((l) => l.includes("7c9e6679742540de944be07fc1f90ae7") && l.includes("6ba7b8109dad11d180b400c04fd430c8"))
    expect(ab).toMatch(/t3f2b8c1e\w* --> t7c9e6679/)
    expect(bc).toMatch(/t7c9e6679\w* -\.-> t6ba7b810/)
  })

  it("keeps quotes and line breaks in a summary from breaking the diagram", () => {
    const out = renderMermaid([{ id: A, summary: 'Say "hi"\nthen leave', status: "ready" }], [])
    const nodeLine = out.split("\n").find((l) => l.includes("Say"))!
    expect(nodeLine).not.toMatch(/"hi"/)
    expect(nodeLine).toContain("then leave")
    expect(out.split("\n").filter((l) => l.includes("then leave"))).toHaveLength(1)
  })

  it("shortens a long summary", () => {
    const out = renderMermaid([{ id: A, summary: "x".repeat(200), status: "ready" }], [])
    expect(out).not.toContain("x".repeat(60))
    expect(out).toContain("…")
  })

  it("renders an empty graph", () => {
    expect(renderMermaid([], []).startsWith("flowchart")).toBe(true)
  })
})

describe("renderDot", () => {
  const text = renderDot(tasks, edges)

  it("is a digraph with a node per task and an edge per dependency", () => {
    expect(text.startsWith("digraph")).toBe(true)
    expect(text.trimEnd().endsWith("}")).toBe(true)
    expect(text).toContain(`"${A}" [label="3f2b8c1e Build (completed)"`)
    expect(text).toContain(`"${A}" -> "${B}";`)
    expect(text).toContain(`"${B}" -> "${C}" [style=dashed];`)
  })

  it("escapes quotes, backslashes and line breaks in labels", () => {
    const out = renderDot([{ id: A, summary: 'C:\\tmp "x"\ny', status: "failed" }], [])
    expect(out).toContain('C:\\\\tmp \\"x\\" y')
  })
})
