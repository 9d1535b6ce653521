/** `#/`: status cards, throughput, tasks with search and paging, the live feed. */
import { $, ago, debounce, h, notice, pill, s, shortId, taskLink } from "../Dom.js"
import { api, fail } from "../Fetch.js"
import { type Activity, OPEN, PAGE, type QueueStatus, STATUSES, type Status, type Task, type TaskChange, type View } from "../Types.js"

let status: QueueStatus | null = null

export const overview = (): View => ({
  mount(root) {
    const st = { filter: "open" as string, text: "", offset: 0 }
    /** Summaries by id, for the live feed (from the table and from look-ups). */
    const names = new Map<string, string>()
    const cards = h(
      "div",
      { class: "cards" },
      h(
        "div",
        { class: "card", "data-card": "all" },
        h("div", { class: "n", id: "count-total", "data-testid": "count-total", text: "–" }),
        h("div", { class: "l", text: "total" })
      ),
      STATUSES.map((s) =>
        h(
          "div",
          { class: `card s-${s}`, "data-card": s, onclick: () => setFilter(s) },
          h("div", { class: "n", id: `count-${s}`, "data-testid": `count-${s}`, text: "–" }),
          h("div", { class: "l", text: s })
        )
      )
    )
    const facts = h(
      "div",
      { class: "facts" },
      h("span", {}, "average priority (open) ", h("b", { id: "avg-priority", text: "–" })),
      h("span", {}, "deepest open dependency ", h("b", { id: "max-depth", text: "–" })),
      h("span", {}, "oldest waiting ", h("b", { id: "oldest", text: "–" }))
    )
    const search = h("input", {
      type: "search",
      id: "search",
      placeholder: "Search prompt, summary or id prefix",
      "aria-label": "search tasks"
    }) as HTMLInputElement
    const filters = h(
      "div",
      { class: "filters" },
      ["open", "all", ...STATUSES].map((f) =>
        h("button", { type: "button", "data-filter": f, class: f === "open" ? "on" : "", text: f, onclick: () => setFilter(f) })
      )
    )
    const body = h("tbody", { id: "tasks" })
    const pager = h(
      "div",
      { class: "pager" },
      h("button", {
        type: "button",
        id: "page-prev",
        text: "← previous",
        onclick: () => {
          st.offset = Math.max(0, st.offset - PAGE)
          load()
        }
      }),
      h("span", { id: "page-info", class: "muted" }),
      h("button", {
        type: "button",
        id: "page-next",
        text: "next →",
        onclick: () => {
          st.offset += PAGE
          load()
        }
      })
    )
    const form = h(
      "form",
      { id: "submit-form", class: "row" },
      h("input", { type: "text", id: "prompt", placeholder: "Submit a task: describe the work", required: true, "aria-label": "prompt" }),
      h("input", { type: "number", id: "priority", min: 0, max: 10, value: 5, "aria-label": "priority", title: "priority 0..10" }),
      h("button", { type: "submit", text: "Submit" })
    )
    form.addEventListener("submit", (e) => {
      e.preventDefault()
      const prompt = ($("prompt") as HTMLInputElement).value
      api<Task>("POST", "/v1/tasks", { prompt, priority: Number(($("priority") as HTMLInputElement).value) }).then(() => {
        ;($("prompt") as HTMLInputElement).value = ""
        notice("")
        reload()
      }, fail)
    })
    const feed = h(
      "ul",
      { id: "events", "data-testid": "events" },
      h("li", { class: "muted placeholder", text: "Changes appear here as they happen." })
    )
    root.append(
      h(
        "div",
        { class: "overview" },
        cards,
        h("div", { class: "bar", id: "bar" }),
        facts,
        h(
          "section",
          { class: "panel throughput" },
          h("h2", {}, "Throughput, last hour ", h("span", { class: "muted", id: "throughput-sum" })),
          h("div", { id: "throughput" })
        ),
        h(
          "div",
          { class: "split" },
          h(
            "section",
            { class: "panel" },
            h("h2", {}, "Tasks ", h("span", { class: "muted", id: "tasks-shown" })),
            form,
            h("div", { class: "row" }, search),
            filters,
            h(
              "table",
              { class: "tasks" },
              h(
                "thead",
                {},
                h(
                  "tr",
                  {},
                  h("th", { style: "width:7.5em", text: "status" }),
                  h("th", { class: "num", style: "width:5.5em", text: "priority" }),
                  h("th", { text: "summary" }),
                  h("th", { style: "width:8em", text: "agent" }),
                  h("th", { style: "width:10.5em", text: "who · when" }),
                  h("th", { style: "width:6.5em", text: "id" })
                )
              ),
              body
            ),
            h("p", { id: "tasks-empty", class: "muted", hidden: true, text: "No tasks here." }),
            pager
          ),
          h("section", { class: "panel feed" }, h("h2", { text: "Live changes" }), feed)
        )
      )
    )
    search.addEventListener(
      "input",
      debounce(() => {
        st.text = search.value.trim()
        st.offset = 0
        load()
      }, 250)
    )

    function setFilter(f: string) {
      st.filter = f
      st.offset = 0
      for (const b of Array.from(root.querySelectorAll<HTMLButtonElement>("[data-filter]"))) b.classList.toggle("on", b.dataset["filter"] === f)
      load()
    }

    function renderStatus(s: QueueStatus) {
      status = s
      $("count-total").textContent = String(s.total)
      for (const k of STATUSES) $(`count-${k}`).textContent = String(s.byStatus[k] ?? 0)
      $("avg-priority").textContent = s.avgPriority === null ? "–" : s.avgPriority.toFixed(1)
      $("max-depth").textContent = s.maxDepth === null ? "–" : String(s.maxDepth)
      $("oldest").textContent = s.oldestWaitingAt === null ? "–" : ago(s.oldestWaitingAt)
      const bar = $("bar")
      bar.textContent = ""
      for (const k of STATUSES) {
        const n = s.byStatus[k] ?? 0
        if (n > 0) bar.appendChild(h("span", { class: `seg s-${k}`, style: `flex-grow:${n}`, title: `${k}: ${n}` }))
      }
    }

    /** How many tasks the filter matches, when the status counts tell (no text search). */
    const matching = (): number | null => {
      if (status === null || st.text !== "") return null
      if (st.filter === "all") return status.total
      if (st.filter === "open") return OPEN.reduce((n, k) => n + (status!.byStatus[k] ?? 0), 0)
      return status.byStatus[st.filter as Status] ?? 0
    }

    let page: { shown: number; more: boolean } | null = null
    function updatePageInfo() {
      if (page === null) return
      const total = matching()
      const range = page.shown === 0 ? "none" : `${st.offset + 1}–${st.offset + page.shown}`
      $("page-info").textContent =
        total === null ? `${range}${page.more ? " of more" : ""}` : `${range} of ${Math.max(total, st.offset + page.shown)}`
    }

    let seq = 0
    function load() {
      const q = new URLSearchParams()
      if (st.filter === "open") q.set("status", OPEN.join(","))
      else if (st.filter !== "all") q.set("status", st.filter)
      if (st.text !== "") q.set("text", st.text)
      q.set("limit", String(PAGE + 1))
      q.set("offset", String(st.offset))
      const mine = ++seq
      api<Array<Task>>("GET", `/v1/tasks?${q}`).then((tasks) => {
        if (mine !== seq) return
        const more = tasks.length > PAGE
        body.textContent = ""
        for (const t of tasks.slice(0, PAGE)) {
          names.set(t.id, t.summary)
          if (names.size > 1000) names.delete(names.keys().next().value!)
          body.appendChild(
            h(
              "tr",
              {
                "data-task-id": t.id,
                onclick: () => {
                  location.hash = `#/task/${t.id}`
                }
              },
              h("td", {}, pill(t.status)),
              h("td", { class: "num", text: t.calculatedPriority.toFixed(1) }),
              h("td", { class: "summary", title: t.prompt, text: t.summary || t.prompt }),
              h("td", { text: t.agentType }),
              h("td", { class: "muted", text: t.status === "running" && t.worker ? `▶ ${t.worker}` : ago(t.lastUpdatedAt) }),
              h("td", { class: "mono muted", text: shortId(t.id) })
            )
          )
        }
        page = { shown: Math.min(tasks.length, PAGE), more }
        $("tasks-empty").hidden = page.shown > 0
        updatePageInfo()
        $("tasks-shown").textContent = st.text === "" ? "" : `matching “${st.text}”`
        ;($("page-prev") as HTMLButtonElement).disabled = st.offset === 0
        ;($("page-next") as HTMLButtonElement).disabled = !more
      }, fail)
    }

    // The tasks and the counts load side by side; the page line is written again once the counts are in.
    const refreshStatus = () => {
      load()
      api<QueueStatus>("GET", "/v1/status").then((s) => {
        renderStatus(s)
        updatePageInfo()
      }, fail)
    }
    const reload = debounce(refreshStatus, 300)
    const reloadActivity = debounce(() => loadActivity($("throughput"), $("throughput-sum")), 2000)
    refreshStatus()
    loadActivity($("throughput"), $("throughput-sum"))
    const timer = setInterval(() => {
      refreshStatus()
      loadActivity($("throughput"), $("throughput-sum"))
    }, 30_000)

    const lookup = feedNames(feed, names)
    return {
      onChange(c) {
        addEvent(feed, c, names, lookup)
        reload()
        if (c.to === "completed" || c.to === "failed" || (c.from === "running" && c.to === "ready")) reloadActivity()
      },
      onSync() {
        reload()
        reloadActivity()
      },
      leave() {
        clearInterval(timer)
      }
    }
  }
})

/** One line of the live feed: time, the task, from -> to (never cut: it wraps). */
export function addEvent(feed: HTMLElement, c: TaskChange, names: Map<string, string>, lookup: () => void) {
  const known = names.get(c.taskId)
  const item = h(
    "li",
    { "data-task-id": c.taskId },
    h(
      "div",
      { class: "ev-head" },
      h("span", { class: "muted", text: new Date(c.at).toLocaleTimeString() }),
      taskLink(c.taskId),
      c.from ? pill(c.from) : h("span", { class: "muted", text: "new" }),
      h("span", { class: "arrow", text: "→" }),
      pill(c.to)
    ),
    h("span", { class: "ev-summary muted", text: known ?? "" })
  )
  feed.querySelector(".placeholder")?.remove()
  feed.insertBefore(item, feed.firstChild)
  while (feed.children.length > 50) feed.removeChild(feed.lastChild!)
  if (known === undefined) lookup()
}

/**
 * Fills in the summaries the feed lacks: at most 10 look-ups a round, newest first, one round at
 * a time (a burst of thousands of changes costs a few requests, not one each).
 */
export const feedNames = (feed: HTMLElement, names: Map<string, string>) => {
  let busy = false
  const fill = () => {
    for (const li of Array.from(feed.querySelectorAll<HTMLElement>("li[data-task-id]"))) {
      const label = li.querySelector(".ev-summary")
      const name = names.get(li.dataset["taskId"]!)
      if (label !== null && name !== undefined && label.textContent === "") label.textContent = name
    }
  }
  const round = () => {
    // Names the table has loaded meanwhile count too.
    fill()
    if (busy) return
    const missing = [
      ...new Set(
        Array.from(feed.querySelectorAll<HTMLElement>("li[data-task-id]"))
          .map((li) => li.dataset["taskId"]!)
          .filter((id) => !names.has(id))
      )
    ].slice(0, 10)
    if (missing.length === 0) return
    busy = true
    Promise.all(
      missing.map((id) =>
        api<Task>("GET", `/v1/tasks/${id}`).then(
          (t) => names.set(t.id, t.summary),
          () => names.set(id, "")
        )
      )
    ).then(() => {
      busy = false
      fill()
      lookup()
    })
  }
  const lookup = debounce(round, 400)
  return lookup
}

/** Completions (green), retried attempts (amber) and failures (red) per minute, as bars. */
export function loadActivity(box: HTMLElement, sum: HTMLElement) {
  api<Activity>("GET", "/v1/activity?minutes=60&failures=0").then((a) => {
    const start = Date.parse(a.since)
    const slots = Array.from({ length: 60 }, () => ({ completed: 0, retried: 0, failed: 0 }))
    for (const m of a.minutes) {
      const i = Math.floor((Date.parse(`${m.minute}:00.000Z`) - start) / 60000)
      const slot = slots[Math.min(59, Math.max(0, i))]!
      slot.completed += m.completed
      slot.retried += m.retried
      slot.failed += m.failed
    }
    const peak = Math.max(1, ...slots.map((x) => x.completed + x.retried + x.failed))
    const W = Math.max(300, Math.round(box.clientWidth || 600))
    const H = 90
    const bw = W / 60
    const svg = s("svg", { viewBox: `0 0 ${W} ${H + 16}`, width: W, height: H + 16, class: "chart", role: "img", "data-testid": "throughput-chart" })
    svg.appendChild(s("line", { x1: 0, x2: W, y1: H, y2: H, class: "axis" }))
    slots.forEach((x, i) => {
      let y = H
      for (const [k, n] of [
        ["completed", x.completed],
        ["retried", x.retried],
        ["failed", x.failed]
      ] as const) {
        if (n === 0) continue
        const hh = (n / peak) * (H - 4)
        y -= hh
        const r = s("rect", { x: i * bw + 1, y, width: bw - 2, height: hh, class: `bar-${k}`, "data-minute": i, "data-kind": k, "data-count": n })
        r.appendChild(s("title", {}, `${60 - i} min ago: ${n} ${k}`))
        svg.appendChild(r)
      }
    })
    for (const [x, label] of [
      [0, "−60 min"],
      [W / 2, "−30 min"],
      [W, "now"]
    ] as const) {
      svg.appendChild(s("text", { x, y: H + 13, class: "tick", "text-anchor": x === 0 ? "start" : x === W ? "end" : "middle" }, label))
    }
    box.textContent = ""
    box.appendChild(svg)
    const total = (k: "completed" | "retried" | "failed") => slots.reduce((n, x) => n + x[k], 0)
    sum.textContent = `${total("completed")} completed · ${total("retried")} retried · ${total("failed")} failed · peak ${peak === 1 && total("completed") + total("retried") + total("failed") === 0 ? 0 : peak}/min`
    sum.setAttribute("data-testid", "throughput-sum")
  }, fail)
}
