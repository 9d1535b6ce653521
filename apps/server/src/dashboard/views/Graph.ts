/** `#/graph` and `#/graph/<id>`: the graph of open work, or one task's neighbourhood, laid out by dagre. */
import dagre from "@dagrejs/dagre"
import { debounce, h, notice, pill, s } from "../Dom.js"
import { api, fail } from "../Fetch.js"
import { type GraphData, type GraphNode, STATUSES, type Task, type View } from "../Types.js"

export const NODE_W = 210
export const NODE_H = 58

export const graphView = (focus: string | null): View => ({
  mount(root) {
    const info = h("div", { class: "graph-info muted", id: "graph-info" })
    const focusInput = h("input", {
      type: "text",
      id: "graph-focus",
      placeholder: "focus on: a task id, or words of its prompt",
      value: focus ?? "",
      "aria-label": "focus task"
    }) as HTMLInputElement
    const depth = h(
      "select",
      { id: "graph-depth", "aria-label": "depth" },
      [1, 2, 3, 4, 6].map((d) => h("option", { value: d, text: `${d} step${d === 1 ? "" : "s"}`, selected: d === 2 }))
    ) as HTMLSelectElement
    const toolbar = h(
      "div",
      { class: "row toolbar" },
      h(
        "form",
        {
          class: "row",
          onsubmit: (e: Event) => {
            e.preventDefault()
            focusOn(focusInput.value.trim())
          }
        },
        focusInput,
        depth,
        h("button", { type: "submit", text: "Focus" })
      ),
      focus === null ? null : h("a", { href: "#/graph", class: "button", text: "All open work" }),
      h("button", { type: "button", text: "Fit", onclick: () => fit() }),
      h(
        "span",
        { class: "legend" },
        STATUSES.map((k) => h("span", { class: `key s-${k}`, text: k })),
        h("span", { class: "key-edge", text: "→ prerequisite → dependent" }),
        h("span", { class: "key-edge dashed", text: "⇢ parent → subtask" })
      )
    )
    /** An id focuses at once; words find the most important matching task. */
    const focusOn = (v: string) => {
      if (v === "") location.hash = "#/graph"
      else if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(v)) location.hash = `#/graph/${v}`
      else {
        api<Array<Task>>("GET", `/v1/tasks?${new URLSearchParams({ text: v, limit: "2" })}`).then((found) => {
          if (found.length === 0) notice(`No task matches “${v}”.`)
          else location.hash = `#/graph/${found[0]!.id}`
        }, fail)
      }
    }
    const svg = s("svg", { id: "graph-svg", class: "graph", "data-testid": "graph" }) as SVGSVGElement
    const side = h("div", { class: "graph-side panel", id: "graph-side", hidden: true })
    root.append(
      h(
        "section",
        { class: "panel graph-panel" },
        h("h2", { text: focus === null ? "Open work" : "Neighbourhood" }),
        toolbar,
        info,
        h("div", { class: "graph-wrap" }, svg, side)
      )
    )
    depth.addEventListener("change", () => load())

    // pan and zoom through the viewBox
    let view = { x: 0, y: 0, w: 1000, h: 600 }
    let bounds = { w: 1000, h: 600 }
    const apply = () => svg.setAttribute("viewBox", `${view.x} ${view.y} ${view.w} ${view.h}`)
    const fit = () => {
      const r = svg.getBoundingClientRect()
      const aspect = r.width > 0 && r.height > 0 ? r.width / r.height : 1.6
      let w = bounds.w + 40
      let hh = bounds.h + 40
      if (w / hh < aspect) w = hh * aspect
      else hh = w / aspect
      // Never smaller than life: a small graph stays readable.
      const minW = r.width > 0 ? r.width : 1000
      if (w < minW) {
        hh *= minW / w
        w = minW
      }
      // Never so small that tasks become dots: past 1/3 of life size, show the top and let the user pan.
      const maxW = minW * 3
      if (w > maxW) {
        hh *= maxW / w
        w = maxW
      }
      view = { x: (bounds.w - w) / 2, y: -20, w, h: hh }
      apply()
    }
    svg.addEventListener(
      "wheel",
      (e) => {
        e.preventDefault()
        const r = svg.getBoundingClientRect()
        const k = e.deltaY > 0 ? 1.15 : 1 / 1.15
        const px = view.x + ((e.clientX - r.left) / r.width) * view.w
        const py = view.y + ((e.clientY - r.top) / r.height) * view.h
        view = { x: px - (px - view.x) * k, y: py - (py - view.y) * k, w: view.w * k, h: view.h * k }
        apply()
      },
      { passive: false }
    )
    let drag: { x: number; y: number; vx: number; vy: number } | null = null
    svg.addEventListener("pointerdown", (e) => {
      if ((e.target as Element).closest("g.node") === null) drag = { x: e.clientX, y: e.clientY, vx: view.x, vy: view.y }
    })
    window.addEventListener("pointerup", () => {
      drag = null
    })
    svg.addEventListener("pointermove", (e) => {
      if (drag === null) return
      const r = svg.getBoundingClientRect()
      view.x = drag.vx - ((e.clientX - drag.x) / r.width) * view.w
      view.y = drag.vy - ((e.clientY - drag.y) / r.height) * view.h
      apply()
    })

    let first = true
    function draw(g: GraphData) {
      const r = svg.getBoundingClientRect()
      const placed = layoutGraph(g, r.width > 0 && r.height > 0 ? r.width / r.height : 1.8)
      bounds = { w: placed.width, h: placed.height }
      svg.textContent = ""
      const defs = s("defs")
      for (const [id, cls] of [
        ["arrow", "arrow"],
        ["arrow-done", "arrow done"]
      ] as const) {
        const m = s("marker", { id, viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" })
        m.appendChild(s("path", { d: "M 0 0 L 10 5 L 0 10 z", class: cls }))
        defs.appendChild(m)
      }
      svg.appendChild(defs)
      const edgeLayer = s("g", { class: "edges" })
      const nodeLayer = s("g", { class: "nodes" })
      svg.append(edgeLayer, nodeLayer)
      g.edges.forEach((e, i) => {
        const pts = placed.edges[i] ?? []
        if (pts.length === 0) return
        const d = pts.map((p, j) => `${j === 0 ? "M" : "L"} ${p.x.toFixed(1)} ${p.y.toFixed(1)}`).join(" ")
        const path = s("path", {
          d,
          class: `edge ${e.kind} ${e.resolved ? "resolved" : "open"}`,
          "data-from": e.from,
          "data-to": e.to,
          "data-kind": e.kind,
          "marker-end": `url(#${e.resolved ? "arrow-done" : "arrow"})`
        })
        path.appendChild(
          s(
            "title",
            {},
            e.kind === "parent"
              ? "parent → subtask"
              : `prerequisite → dependent${e.resolved ? " (resolved)" : ""}${e.onFailure ? `, on failure: ${e.onFailure}` : ""}`
          )
        )
        edgeLayer.appendChild(path)
      })
      const labels: Array<[SVGTextElement, string]> = []
      for (const n of g.nodes) {
        const p = placed.nodes.get(n.id)!
        const x = p.x - NODE_W / 2
        const y = p.y - NODE_H / 2
        const grp = s("g", {
          class: `node s-${n.status}${n.context ? " context" : ""}${n.id === g.focus ? " focus" : ""}`,
          "data-task-id": n.id,
          "data-status": n.status,
          transform: `translate(${x.toFixed(1)},${y.toFixed(1)})`,
          tabindex: 0
        })
        grp.appendChild(s("title", {}, `${n.summary}\n${n.status}${n.worker ? ` · held by ${n.worker}` : ""}\n${n.id}`))
        grp.appendChild(s("rect", { width: NODE_W, height: NODE_H, rx: 7, class: "box" }))
        grp.appendChild(s("rect", { width: 6, height: NODE_H, rx: 3, class: "stripe" }))
        const label = s("text", { x: 14, y: 20, class: "label" }, n.summary) as SVGTextElement
        grp.appendChild(label)
        labels.push([label, n.summary])
        const meta = `${n.status}${n.worker ? ` · ${n.worker}` : ""} · ${n.calculatedPriority.toFixed(0)}`
        grp.appendChild(s("text", { x: 14, y: 37, class: "meta" }, meta))
        if (n.subtree !== undefined && n.subtree.total > 0) {
          const t = n.subtree
          const W = NODE_W - 24
          const done = (t.completed / t.total) * W
          const bad = ((t.failed + t.cancelled) / t.total) * W
          grp.appendChild(s("rect", { x: 14, y: 44, width: W, height: 5, rx: 2, class: "progress-bg" }))
          grp.appendChild(s("rect", { x: 14, y: 44, width: done, height: 5, rx: 2, class: "progress-done" }))
          if (bad > 0) grp.appendChild(s("rect", { x: 14 + done, y: 44, width: bad, height: 5, class: "progress-bad" }))
          const txt = s(
            "text",
            { x: NODE_W - 10, y: 37, class: "meta progress-text", "text-anchor": "end", "data-testid": "subtree" },
            `${t.completed}/${t.total} ${t.scope === "subtree" ? "in subtree" : "subtasks"}`
          )
          grp.appendChild(txt)
        }
        grp.addEventListener("click", () => select(n))
        grp.addEventListener("dblclick", () => {
          location.hash = `#/task/${n.id}`
        })
        nodeLayer.appendChild(grp)
      }
      fitLabels(labels, NODE_W - 22)
      const shown = g.nodes.filter((n) => !n.context).length
      info.textContent =
        g.focus === null
          ? `${shown} open task${shown === 1 ? "" : "s"}${g.openTotal !== null ? ` of ${g.openTotal}` : ""}${g.truncated ? ` (the ${g.limit} most important: focus on a task to see its neighbourhood)` : ""}; faded: finished prerequisites and parents. Click a task for details, double-click to open it.`
          : `${shown} task${shown === 1 ? "" : "s"} within ${depth.value} step${depth.value === "1" ? "" : "s"} of the focus${g.truncated ? ` (cut at ${g.limit})` : ""}. Click a task for details, double-click to open it.`
      if (first) {
        fit()
        first = false
      }
    }

    function select(n: GraphNode) {
      side.hidden = false
      side.textContent = ""
      side.append(
        ...(
          [
            h("h3", { class: "wrap", text: n.summary }),
            h("p", {}, pill(n.status), " ", h("span", { class: "mono muted", text: n.id })),
            n.worker ? h("p", { text: `held by ${n.worker}` }) : null,
            n.subtree
              ? h("p", {
                  text: `subtasks: ${n.subtree.completed} completed, ${n.subtree.open} open, ${n.subtree.failed} failed, ${n.subtree.cancelled} cancelled of ${n.subtree.total}`
                })
              : null,
            h(
              "p",
              { class: "row" },
              h("a", { href: `#/task/${n.id}`, class: "button", text: "Open task page" }),
              h("a", { href: `#/graph/${n.id}`, class: "button", text: "Focus here" }),
              h("button", {
                type: "button",
                text: "×",
                onclick: () => {
                  side.hidden = true
                }
              })
            )
          ] as Array<Node | null>
        ).filter((x): x is Node => x !== null)
      )
    }

    let seq = 0
    function load() {
      const q = new URLSearchParams({ limit: "300" })
      if (focus !== null) {
        q.set("id", focus)
        q.set("depth", depth.value)
      }
      const mine = ++seq
      api<GraphData>("GET", `/v1/dashboard/graph?${q}`).then(
        (g) => {
          if (mine === seq) draw(g)
        },
        (e) => {
          fail(e)
          info.textContent = ""
        }
      )
    }
    load()
    const reload = debounce(load, 1000)
    return { onChange: reload, onSync: reload }
  }
})

/**
 * Lays the graph out with dagre, one connected part at a time, and packs the parts in rows towards
 * the view's aspect ratio (hundreds of unrelated tasks make a grid, not one endless rank).
 */
export function layoutGraph(g: GraphData, aspect: number) {
  const index = new Map(g.nodes.map((n, i) => [n.id, i]))
  const parent = g.nodes.map((_, i) => i)
  const find = (i: number): number => (parent[i] === i ? i : (parent[i] = find(parent[i]!)))
  for (const e of g.edges) {
    const a = index.get(e.from)
    const b = index.get(e.to)
    if (a !== undefined && b !== undefined) parent[find(a)] = find(b)
  }
  const parts = new Map<number, Array<GraphNode>>()
  g.nodes.forEach((n, i) => {
    const root = find(i)
    parts.set(root, [...(parts.get(root) ?? []), n])
  })
  const GAP = 36
  type Part = {
    ids: Set<string>
    width: number
    height: number
    nodes: Map<string, { x: number; y: number }>
    edges: Map<number, Array<{ x: number; y: number }>>
  }
  const laid: Array<Part> = []
  for (const members of parts.values()) {
    const ids = new Set(members.map((n) => n.id))
    if (members.length === 1) {
      laid.push({ ids, width: NODE_W, height: NODE_H, nodes: new Map([[members[0]!.id, { x: NODE_W / 2, y: NODE_H / 2 }]]), edges: new Map() })
      continue
    }
    const layout = new dagre.graphlib.Graph({ multigraph: true })
    layout.setGraph({ rankdir: "TB", nodesep: 24, ranksep: 56, marginx: 0, marginy: 0 })
    layout.setDefaultEdgeLabel(() => ({}))
    for (const n of members) layout.setNode(n.id, { width: NODE_W, height: NODE_H })
    g.edges.forEach((e, i) => {
      if (ids.has(e.from) && ids.has(e.to)) layout.setEdge(e.from, e.to, { weight: e.kind === "dependency" ? 2 : 1, minlen: 1 }, `e${i}`)
    })
    dagre.layout(layout)
    const label = layout.graph() as { width?: number; height?: number }
    const nodes = new Map(members.map((n) => [n.id, layout.node(n.id) as { x: number; y: number }]))
    const edges = new Map<number, Array<{ x: number; y: number }>>()
    g.edges.forEach((e, i) => {
      if (!ids.has(e.from) || !ids.has(e.to)) return
      const pts = (layout.edge({ v: e.from, w: e.to, name: `e${i}` }) as { points?: Array<{ x: number; y: number }> } | undefined)?.points
      if (pts !== undefined) edges.set(i, pts)
    })
    laid.push({ ids, width: label.width ?? NODE_W, height: label.height ?? NODE_H, nodes, edges })
  }
  // Bigger parts first (they keep the top), singletons fill the rows below.
  laid.sort((a, b) => b.ids.size - a.ids.size || b.height - a.height)
  const area = laid.reduce((n, p) => n + (p.width + GAP) * (p.height + GAP), 0)
  const rowWidth = Math.max(...laid.map((p) => p.width), Math.sqrt(area * aspect))
  const nodes = new Map<string, { x: number; y: number }>()
  const edges: Array<Array<{ x: number; y: number }> | undefined> = []
  let x = 0
  let y = 0
  let rowHeight = 0
  let width = 0
  for (const p of laid) {
    if (x > 0 && x + p.width > rowWidth) {
      x = 0
      y += rowHeight + GAP
      rowHeight = 0
    }
    for (const [id, at] of p.nodes) nodes.set(id, { x: at.x + x, y: at.y + y })
    for (const [i, pts] of p.edges) edges[i] = pts.map((q) => ({ x: q.x + x, y: q.y + y }))
    x += p.width + GAP
    width = Math.max(width, x - GAP)
    rowHeight = Math.max(rowHeight, p.height)
  }
  return { nodes, edges, width, height: y + rowHeight }
}

/** Shortens labels that do not fit `max` pixels, with an ellipsis (measured once, then trimmed). */
export function fitLabels(labels: ReadonlyArray<[SVGTextElement, string]>, max: number) {
  for (const [el, text] of labels) {
    const full = el.getComputedTextLength()
    if (full <= max) continue
    let n = Math.max(1, Math.floor((text.length * max) / full) - 1)
    el.textContent = `${text.slice(0, n).trimEnd()}…`
    while (n > 1 && el.getComputedTextLength() > max) {
      n--
      el.textContent = `${text.slice(0, n).trimEnd()}…`
    }
  }
}
