/**
 * The dashboard's script, run in the browser (bundled by build.mjs into the page, with dagre for
 * the graph layout: nothing is fetched from anywhere but this server). Views by URL hash:
 * `#/` overview (status, throughput, tasks with search and paging, live changes), `#/graph` and
 * `#/graph/<id>` (open work, or one task's neighbourhood), `#/task/<id>` (a task's page),
 * `#/workers`, `#/failures`. Every element is built with textContent: task text is never markup.
 */
import type { PriorityExplanation } from "@abathur/domain"
import dagre from "@dagrejs/dagre"

// ---- shapes the API answers with ----------------------------------------------------------------

type Status = "pending" | "blocked" | "ready" | "running" | "completed" | "failed" | "cancelled"

interface Task {
  id: string
  prompt: string
  summary: string
  agentType: string
  priority: number
  status: Status
  source: string
  dependencyType: string
  calculatedPriority: number
  deadline: string | null
  estimatedDurationSeconds: number | null
  dependencyDepth: number
  parentTaskId: string | null
  sessionId: string | null
  inputData: unknown
  resultData: unknown
  errorMessage: string | null
  retryCount: number
  maxRetries: number
  maxExecutionTimeoutSeconds: number
  submittedAt: string
  startedAt: string | null
  completedAt: string | null
  lastUpdatedAt: string
  createdBy: string | null
  worker?: string | null
  leaseExpiresAt?: string | null
  notBefore?: string | null
  stallCount?: number
}

interface Link {
  taskId: string
  dependencyType: string
  resolvedAt: string | null
  onFailure?: string
}

interface Subtree {
  total: number
  completed: number
  open: number
  failed: number
  cancelled: number
}

interface TaskDetail extends Task {
  prerequisites: Array<Link>
  dependents: Array<Link>
  children: Array<string>
  priorityBreakdown: { base: number; urgency: number; dependency: number; starvation: number; source: number }
  /** The breakdown explained with the queue's configured weights. */
  priorityExplanation: PriorityExplanation
  subtree?: Subtree
}

interface AuditEntry {
  taskId: string
  fromStatus: Status | null
  toStatus: Status
  at: string
  actor: string | null
  reason: string | null
}

interface QueueStatus {
  total: number
  byStatus: Record<Status, number>
  avgPriority: number | null
  maxDepth: number | null
  oldestWaitingAt: string | null
}

interface Activity {
  since: string
  until: string
  minutes: Array<{ minute: string; completed: number; retried: number; failed: number }>
  recentFailures: Array<AuditEntry>
}

interface GraphNode {
  id: string
  summary: string
  status: Status
  calculatedPriority: number
  parentTaskId: string | null
  worker?: string | null
  subtree?: Subtree & { scope: "subtree" | "children" }
  context: boolean
}

interface GraphData {
  focus: string | null
  limit: number
  truncated: boolean
  openTotal: number | null
  nodes: Array<GraphNode>
  edges: Array<{ from: string; to: string; kind: "dependency" | "parent"; resolved: boolean; onFailure?: string }>
}

interface TaskChange {
  taskId: string
  from: Status | null
  to: Status
  at: string
}

const STATUSES: ReadonlyArray<Status> = ["ready", "running", "blocked", "pending", "completed", "failed", "cancelled"]
const OPEN: ReadonlyArray<Status> = ["ready", "running", "blocked", "pending"]
const PAGE = 50

// ---- the token -----------------------------------------------------------------------------------

const TOKEN_KEY = "abathur-token"
{
  // A token given in the address is kept for this tab, then taken out of the address bar.
  const params = new URLSearchParams(location.search)
  const given = params.get("access_token")
  if (given !== null && given !== "") {
    sessionStorage.setItem(TOKEN_KEY, given)
    params.delete("access_token")
    const rest = params.toString()
    history.replaceState(null, "", location.pathname + (rest === "" ? "" : `?${rest}`) + location.hash)
  }
}
const token = (): string | null => sessionStorage.getItem(TOKEN_KEY)

// ---- small helpers -------------------------------------------------------------------------------

class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly tag: string,
    message: string
  ) {
    super(message)
  }
}

/** Bumped when the view changes: answers and timers of a view that is gone are dropped. */
let generation = 0

const api = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
  const mine = generation
  const answer = await request<T>(method, path, body)
  // The view that asked is gone: its callbacks never run (they would write into a page that left).
  return mine === generation ? answer : new Promise<T>(() => {})
}

const request = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
  const headers: Record<string, string> = { accept: "application/json", "x-abathur-actor": "dashboard" }
  const t = token()
  if (t !== null) headers["authorization"] = `Bearer ${t}`
  if (body !== undefined) headers["content-type"] = "application/json"
  const res = await fetch(path, { method, headers, body: body === undefined ? null : JSON.stringify(body), credentials: "same-origin" })
  if (res.status === 204) return null as T
  const text = await res.text()
  let json: unknown = null
  try {
    json = text === "" ? null : JSON.parse(text)
  } catch {
    // not JSON: reported below
  }
  if (!res.ok) {
    const e = (json as { error?: { _tag?: string; message?: string } } | null)?.error
    // Only when the token sent is still the one in use (not an answer to a request sent before it was entered).
    if (res.status === 401 && t === token()) showTokenForm(true)
    throw new ApiFailure(res.status, e?._tag ?? `HTTP ${res.status}`, e?.message ?? (text.slice(0, 300) || res.statusText))
  }
  return json as T
}

type Child = Node | string | null | undefined | false
const h = <K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number | boolean | ((e: Event) => void) | undefined> = {},
  ...children: Array<Child | Array<Child>>
): HTMLElementTagNameMap[K] => {
  const e = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue
    if (typeof v === "function") e.addEventListener(k.replace(/^on/, ""), v)
    else if (k === "class") e.className = String(v)
    else if (k === "text") e.textContent = String(v)
    else e.setAttribute(k, v === true ? "" : String(v))
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue
    e.appendChild(typeof c === "string" ? document.createTextNode(c) : c)
  }
  return e
}

const SVG = "http://www.w3.org/2000/svg"
const s = (tag: string, attrs: Record<string, string | number> = {}, text?: string): SVGElement => {
  const e = document.createElementNS(SVG, tag)
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v))
  if (text !== undefined) e.textContent = text
  return e
}

const $ = (id: string): HTMLElement => document.getElementById(id)!

const pill = (status: string) => h("span", { class: `pill s-${status}`, "data-status": status, text: status })
const shortId = (id: string) => id.slice(0, 8)
const taskLink = (id: string, text?: string) => h("a", { href: `#/task/${id}`, "data-task-link": id, text: text ?? shortId(id) })

const duration = (seconds: number): string => {
  const s = Math.max(0, Math.round(seconds))
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`
}
const ago = (iso: string | null | undefined): string => (iso ? `${duration((Date.now() - Date.parse(iso)) / 1000)} ago` : "–")
const when = (iso: string | null | undefined): string => {
  if (!iso) return "–"
  const d = new Date(iso)
  return `${d.toLocaleString(undefined, { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit" })}`
}
const leaseLeft = (iso: string | null | undefined): string => {
  if (!iso) return "–"
  const left = (Date.parse(iso) - Date.now()) / 1000
  return left >= 0 ? duration(left) : `expired ${duration(-left)} ago`
}

const notice = (message: string, kind: "error" | "ok" = "error") => {
  const n = $("notice")
  n.textContent = message
  n.className = `notice ${kind}`
  n.hidden = message === ""
  if (kind === "ok" && message !== "")
    setTimeout(() => {
      if (n.textContent === message) n.hidden = true
    }, 4000)
}
const fail = (e: unknown) => notice(e instanceof ApiFailure ? `${e.tag}: ${e.message}` : e instanceof Error ? e.message : String(e))

/** Calls `f` at most once per `ms` (trailing). */
const debounce = (f: () => void, ms: number) => {
  let timer: ReturnType<typeof setTimeout> | null = null
  const mine = generation
  return () => {
    if (timer !== null) return
    timer = setTimeout(() => {
      timer = null
      if (mine === generation) f()
    }, ms)
  }
}

// ---- the token form ------------------------------------------------------------------------------

function showTokenForm(needed: boolean) {
  const f = $("token-form")
  f.hidden = false
  $("token-hint").textContent = needed
    ? "This server needs its token (ABATHUR_TOKEN): it is kept in this tab only."
    : "The bearer token, kept in this tab only."
  if (needed) ($("token-input") as HTMLInputElement).focus()
}

// ---- views ---------------------------------------------------------------------------------------

interface View {
  /** Draws into `root`; returns what to do on a task change and on leaving. */
  mount(root: HTMLElement): { onChange?: (c: TaskChange) => void; onSync?: () => void; leave?: () => void }
}

let status: QueueStatus | null = null

// ---- overview: cards, throughput, tasks with search and paging, live feed -----------------------

const overview = (): View => ({
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
function addEvent(feed: HTMLElement, c: TaskChange, names: Map<string, string>, lookup: () => void) {
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
const feedNames = (feed: HTMLElement, names: Map<string, string>) => {
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
function loadActivity(box: HTMLElement, sum: HTMLElement) {
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

// ---- graph ---------------------------------------------------------------------------------------

const NODE_W = 210
const NODE_H = 58

const graphView = (focus: string | null): View => ({
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
function layoutGraph(g: GraphData, aspect: number) {
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
function fitLabels(labels: ReadonlyArray<[SVGTextElement, string]>, max: number) {
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

// ---- task page -----------------------------------------------------------------------------------

const FACTORS = ["base", "urgency", "dependency", "starvation", "source"] as const

const taskView = (id: string): View => ({
  mount(root) {
    const box = h("div", { class: "task-page", id: "task-page" }, h("p", { class: "muted", text: "Loading…" }))
    root.append(box)
    let seq = 0
    function load() {
      const mine = ++seq
      api<{ task: TaskDetail; related: Record<string, { summary: string; status: Status }>; audit: Array<AuditEntry> }>(
        "GET",
        `/v1/dashboard/tasks/${encodeURIComponent(id)}`
      ).then(
        (d) => {
          if (mine === seq) render(d.task, d.related, d.audit)
        },
        (e) => {
          fail(e)
          box.textContent = ""
          box.append(h("p", { class: "muted", text: e instanceof ApiFailure && e.status === 404 ? "No such task." : "Could not load the task." }))
        }
      )
    }

    const act = (label: string, title: string, run: () => Promise<unknown>, done: string) =>
      h("button", {
        type: "button",
        class: "action",
        "data-action": label.toLowerCase(),
        title,
        text: label,
        onclick: (e: Event) => {
          const b = e.currentTarget as HTMLButtonElement
          b.disabled = true
          run().then(
            () => {
              notice(done, "ok")
              load()
            },
            (err) => {
              fail(err)
              b.disabled = false
            }
          )
        }
      })

    function render(t: TaskDetail, related: Record<string, { summary: string; status: Status }>, audit: Array<AuditEntry>) {
      box.textContent = ""
      const actions = h("div", { class: "actions row" })
      if (OPEN.includes(t.status))
        actions.append(
          act(
            "Cancel",
            "Cancel this task, its open dependents and subtasks",
            () => api("POST", `/v1/tasks/${t.id}/cancel`, { reason: "cancelled from the dashboard" }),
            "Cancelled."
          )
        )
      if (t.status === "failed")
        actions.append(
          act(
            "Retry",
            "Back to READY with its retries reset; revives what its failure cancelled",
            () => api("POST", `/v1/tasks/${t.id}/retry`, {}),
            "Retried."
          )
        )
      if (t.status === "running")
        actions.append(
          act(
            "Release",
            "Give the task back to the queue (READY) without spending a retry",
            () => api("POST", `/v1/tasks/${t.id}/release`, { reason: "released from the dashboard" }),
            "Released."
          )
        )
      actions.append(h("a", { class: "button", href: `#/graph/${t.id}`, text: "Graph around it" }))

      const row = (label: string, value: Child | Array<Child>, attrs: Record<string, string> = {}) => [
        h("dt", { text: label }),
        h("dd", attrs, ...(Array.isArray(value) ? value : [value]))
      ]
      const fields = h(
        "dl",
        { class: "fields", "data-testid": "fields" },
        row("status", [pill(t.status), t.status === "running" && t.worker !== undefined ? ` held by ${t.worker ?? "an unnamed worker"}` : ""]),
        t.status === "running"
          ? row(
              "lease",
              `ends in ${leaseLeft(t.leaseExpiresAt)} (${when(t.leaseExpiresAt)}); running for ${t.startedAt ? duration((Date.now() - Date.parse(t.startedAt)) / 1000) : "–"}`
            )
          : null,
        row("priority", `${t.calculatedPriority.toFixed(1)} of 100 (base priority ${t.priority} of 10)`),
        row("source", t.source),
        row("agent type", t.agentType),
        row("dependencies", `${t.dependencyType}; depth ${t.dependencyDepth}`),
        row(
          "attempts",
          `${t.retryCount} retr${t.retryCount === 1 ? "y" : "ies"} spent of ${t.maxRetries}${t.stallCount ? `; ${t.stallCount} stalled lease${t.stallCount === 1 ? "" : "s"}` : ""}`
        ),
        row("timeout", duration(t.maxExecutionTimeoutSeconds)),
        row(
          "deadline",
          t.deadline === null
            ? "none"
            : `${when(t.deadline)} (${Date.parse(t.deadline) > Date.now() ? `in ${duration((Date.parse(t.deadline) - Date.now()) / 1000)}` : "passed"})`
        ),
        row("estimate", t.estimatedDurationSeconds === null ? "none" : duration(t.estimatedDurationSeconds)),
        t.notBefore ? row("not before", when(t.notBefore)) : null,
        row("submitted", `${when(t.submittedAt)} (${ago(t.submittedAt)})${t.createdBy ? ` by ${t.createdBy}` : ""}`),
        row("started", t.startedAt ? `${when(t.startedAt)} (${ago(t.startedAt)})` : "not yet"),
        row("finished", t.completedAt ? `${when(t.completedAt)} (${ago(t.completedAt)})` : "not yet"),
        row("last change", `${when(t.lastUpdatedAt)} (${ago(t.lastUpdatedAt)})`),
        t.sessionId ? row("session", t.sessionId) : null,
        row("id", t.id, { class: "mono" })
      )

      const bd = t.priorityBreakdown
      // The queue explains the score with its own weights (not the defaults).
      const { weights, contributions, score: nowScore, starvationHorizonSeconds } = t.priorityExplanation
      const openDependents = t.dependents.filter((l) => l.resolvedAt === null).length
      const explain: Record<(typeof FACTORS)[number], string> = {
        base: `submitted priority ${t.priority} × 10`,
        urgency:
          t.deadline === null
            ? "no deadline"
            : Date.parse(t.deadline) <= Date.now()
              ? "the deadline has passed"
              : `deadline in ${duration((Date.parse(t.deadline) - Date.now()) / 1000)}${t.estimatedDurationSeconds !== null ? `, estimate ${duration(t.estimatedDurationSeconds)}` : ""}: rises as it nears`,
        dependency: `${openDependents} open dependent${openDependents === 1 ? " waits" : "s wait"} on it: 33.33 × log10(1 + ${openDependents})`,
        starvation: `waiting since ${ago(t.submittedAt)}: grows with waiting time, 100 after the horizon (${duration(starvationHorizonSeconds)})`,
        source: `source ${t.source} (human 100, agent_requirements 75, agent_planner 50, agent_implementation 25)`
      }
      const priority = h(
        "table",
        { class: "breakdown", "data-testid": "priority-breakdown" },
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            h("th", { text: "factor" }),
            h("th", { class: "num", text: "score" }),
            h("th", { class: "num", text: "weight" }),
            h("th", { class: "num", text: "adds" }),
            h("th", { text: "why" })
          )
        ),
        h(
          "tbody",
          {},
          FACTORS.map((k) =>
            h(
              "tr",
              { "data-factor": k },
              h("td", { text: k }),
              h(
                "td",
                { class: "num" },
                h("span", { class: "meter" }, h("span", { style: `width:${Math.min(100, bd[k])}%` })),
                ` ${bd[k].toFixed(1)}`
              ),
              h("td", { class: "num", text: `× ${weights[k]}` }),
              h("td", { class: "num", text: contributions[k].toFixed(1) }),
              h("td", { class: "wrap", text: explain[k] })
            )
          )
        ),
        h(
          "tfoot",
          {},
          h(
            "tr",
            {},
            h("td", { text: "score" }),
            h("td", {}),
            h("td", {}),
            h("td", { class: "num", text: nowScore.toFixed(1) }),
            h("td", {
              class: "muted wrap",
              text: `weighted mean with the queue's weights (sum ${FACTORS.reduce((n, k) => n + weights[k], 0)}); the stored score is ${t.calculatedPriority.toFixed(1)}`
            })
          )
        )
      )

      const linkItem = (tid: string, extra: Child | Array<Child> = null) => {
        const r = related[tid]
        return h(
          "li",
          { "data-related": tid },
          r ? pill(r.status) : null,
          " ",
          taskLink(tid, r?.summary ?? shortId(tid)),
          " ",
          h("span", { class: "mono muted", text: shortId(tid) }),
          ...(Array.isArray(extra) ? extra : [extra])
        )
      }
      const removeEdge = (pre: string) =>
        h("button", {
          type: "button",
          class: "small",
          "data-action": "remove-edge",
          "data-prerequisite": pre,
          text: "remove edge",
          onclick: (e: Event) => {
            const b = e.currentTarget as HTMLButtonElement
            b.disabled = true
            api("DELETE", `/v1/tasks/${t.id}/dependencies/${pre}`).then(
              () => {
                notice("Edge removed.", "ok")
                load()
              },
              (err) => {
                b.disabled = false
                if (err instanceof ApiFailure && (err.status === 405 || (err.status === 404 && err.tag === "NotFound"))) {
                  notice(
                    "This server cannot remove edges yet: it has no DELETE /v1/tasks/{id}/dependencies/{prerequisiteId}. Update abathur-server, or use the CLI (abathur deps remove) once it has it."
                  )
                } else fail(err)
              }
            )
          }
        })
      const links = h(
        "div",
        { class: "links" },
        h(
          "div",
          {},
          h("h3", { text: `Prerequisites (${t.prerequisites.length})` }),
          t.prerequisites.length === 0
            ? h("p", { class: "muted", text: "none" })
            : h(
                "ul",
                { "data-testid": "prerequisites" },
                t.prerequisites.map((l) =>
                  linkItem(l.taskId, [
                    h("span", {
                      class: "muted",
                      text: ` ${l.resolvedAt ? "resolved" : "waiting"}${l.onFailure ? `, on failure ${l.onFailure}` : ""} `
                    }),
                    removeEdge(l.taskId)
                  ])
                )
              )
        ),
        h(
          "div",
          {},
          h("h3", { text: `Dependents (${t.dependents.length})` }),
          t.dependents.length === 0
            ? h("p", { class: "muted", text: "none" })
            : h(
                "ul",
                { "data-testid": "dependents" },
                t.dependents.map((l) => linkItem(l.taskId, h("span", { class: "muted", text: l.resolvedAt ? " resolved" : " waiting" })))
              )
        ),
        h(
          "div",
          {},
          h("h3", { text: "Parent" }),
          t.parentTaskId === null
            ? h("p", { class: "muted", text: "none (a root task)" })
            : h("ul", { "data-testid": "parent" }, linkItem(t.parentTaskId))
        ),
        h(
          "div",
          {},
          h("h3", { text: `Subtasks (${t.children.length})` }),
          t.subtree
            ? h("p", {
                class: "muted",
                "data-testid": "subtree",
                text: `whole subtree: ${t.subtree.completed} completed, ${t.subtree.open} open, ${t.subtree.failed} failed, ${t.subtree.cancelled} cancelled of ${t.subtree.total}`
              })
            : null,
          t.children.length === 0
            ? h("p", { class: "muted", text: "none" })
            : h(
                "ul",
                { "data-testid": "children" },
                t.children.map((c) => linkItem(c))
              )
        )
      )

      const timeline = h(
        "ol",
        { class: "timeline", "data-testid": "audit" },
        audit.map((a) =>
          h(
            "li",
            { class: `s-${a.toStatus}` },
            h(
              "div",
              { class: "ev-head" },
              h("span", { class: "muted", title: a.at, text: when(a.at) }),
              a.fromStatus ? pill(a.fromStatus) : h("span", { class: "muted", text: "new" }),
              h("span", { class: "arrow", text: "→" }),
              pill(a.toStatus),
              h("span", { class: "actor", text: a.actor ? `by ${a.actor}` : "by the queue" })
            ),
            a.reason ? h("div", { class: "wrap reason", text: a.reason }) : null
          )
        )
      )

      const log = h("pre", { class: "log", id: "log", "data-testid": "log", text: "…" })
      const logInfo = h("span", { class: "muted", id: "log-info" })
      const loadLog = () =>
        api<{ size: number; truncated: boolean; updatedAt: string; text: string }>("GET", `/v1/tasks/${t.id}/log?kib=64`).then(
          (l) => {
            log.textContent = l.text === "" ? "(empty)" : l.text
            logInfo.textContent = `${l.size.toLocaleString()} bytes${l.truncated ? ", the last 64 KiB" : ""}; written ${ago(l.updatedAt)}`
            log.scrollTop = log.scrollHeight
          },
          (e) => {
            log.textContent =
              e instanceof ApiFailure && e.status === 404
                ? "No log: `abathur work` keeps logs/<task id>.log beside the database when it runs a task."
                : `Could not read the log: ${e instanceof Error ? e.message : String(e)}`
            logInfo.textContent = ""
          }
        )

      box.append(
        h(
          "section",
          { class: "panel" },
          h("div", { class: "title-row" }, h("h2", { class: "wrap", id: "task-title", text: t.summary || t.prompt }), pill(t.status)),
          actions,
          t.errorMessage
            ? h(
                "div",
                { class: "error-box", "data-testid": "error-message" },
                h("b", { text: "Error" }),
                h("pre", { class: "wrap", text: t.errorMessage })
              )
            : null,
          h("h3", { text: "Prompt" }),
          h("pre", { class: "prompt wrap", "data-testid": "prompt", text: t.prompt }),
          fields
        ),
        h(
          "div",
          { class: "split2" },
          h("section", { class: "panel" }, h("h2", { text: "Priority, factor by factor" }), priority),
          h("section", { class: "panel" }, h("h2", { text: "Related tasks" }), links)
        ),
        h(
          "div",
          { class: "split2" },
          h("section", { class: "panel" }, h("h2", { text: `Audit trail (${audit.length})` }), timeline),
          h(
            "section",
            { class: "panel" },
            h("h2", {}, "Work log ", logInfo, h("button", { type: "button", class: "small", text: "refresh", onclick: () => void loadLog() })),
            log
          )
        ),
        h(
          "div",
          { class: "split2" },
          h("section", { class: "panel" }, h("h2", { text: "Input data" }), jsonBlock(t.inputData, "input")),
          h("section", { class: "panel" }, h("h2", { text: "Result" }), jsonBlock(t.resultData, "result"))
        )
      )
      void loadLog()
    }
    load()
    const reload = debounce(load, 300)
    return {
      onChange(c) {
        if (c.taskId === id) reload()
      },
      onSync: reload
    }
  }
})

/** A JSON value for people: key: value lines, nested values indented (wrapped, never cut). */
function jsonBlock(v: unknown, name: string): HTMLElement {
  if (v === null || v === undefined || (typeof v === "object" && Object.keys(v as object).length === 0))
    return h("p", { class: "muted", text: "none" })
  return h("pre", { class: "json wrap", "data-testid": name, text: JSON.stringify(v, null, 2) })
}

// ---- workers -------------------------------------------------------------------------------------

const workersView = (): View => ({
  mount(root) {
    const body = h("tbody", { id: "workers" })
    const summary = h("span", { class: "muted", id: "workers-summary" })
    root.append(
      h(
        "section",
        { class: "panel" },
        h("h2", {}, "Workers: who holds what ", summary),
        h(
          "table",
          { class: "workers" },
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              h("th", { style: "width:12em", text: "worker" }),
              h("th", { text: "task" }),
              h("th", { style: "width:8em", text: "agent" }),
              h("th", { style: "width:9em", text: "running for" }),
              h("th", { style: "width:11em", text: "lease left" }),
              h("th", { style: "width:6.5em", text: "" })
            )
          ),
          body
        ),
        h("p", { class: "muted", id: "workers-empty", hidden: true, text: "No task is running." })
      )
    )
    let tasks: Array<Task> = []
    const tick = () => {
      body.textContent = ""
      const byWorker = new Map<string, Array<Task>>()
      for (const t of tasks) {
        const w = t.worker ?? "(unnamed)"
        byWorker.set(w, [...(byWorker.get(w) ?? []), t])
      }
      for (const [w, list] of [...byWorker.entries()].sort(([a], [b]) => a.localeCompare(b))) {
        list.forEach((t, i) => {
          const left = t.leaseExpiresAt ? Date.parse(t.leaseExpiresAt) - Date.now() : null
          body.appendChild(
            h(
              "tr",
              { "data-task-id": t.id, "data-worker": w },
              h("td", { class: i === 0 ? "worker" : "worker muted", text: i === 0 ? w : "" }),
              h("td", { class: "wrap" }, taskLink(t.id, t.summary)),
              h("td", { text: t.agentType }),
              h("td", { "data-testid": "running-for", text: t.startedAt ? duration((Date.now() - Date.parse(t.startedAt)) / 1000) : "–" }),
              h("td", {
                "data-testid": "lease-left",
                class: left !== null && left < 0 ? "bad" : left !== null && left < 60_000 ? "warn" : "",
                text: leaseLeft(t.leaseExpiresAt)
              }),
              h(
                "td",
                {},
                h("button", {
                  type: "button",
                  class: "small",
                  "data-action": "release",
                  text: "release",
                  onclick: () => {
                    api("POST", `/v1/tasks/${t.id}/release`, { reason: "released from the dashboard" }).then(() => {
                      notice("Released.", "ok")
                      load()
                    }, fail)
                  }
                })
              )
            )
          )
        })
      }
      $("workers-empty").hidden = tasks.length > 0
      summary.textContent = `${tasks.length} running task${tasks.length === 1 ? "" : "s"}, ${byWorker.size} worker${byWorker.size === 1 ? "" : "s"}`
    }
    const load = () =>
      api<Array<Task>>("GET", "/v1/tasks?status=running&limit=1000").then((t) => {
        tasks = t
        tick()
      }, fail)
    load()
    const timer = setInterval(tick, 1000)
    const poll = setInterval(load, 10_000)
    const reload = debounce(load, 300)
    return {
      onChange(c) {
        if (c.from === "running" || c.to === "running") reload()
      },
      onSync: reload,
      leave() {
        clearInterval(timer)
        clearInterval(poll)
      }
    }
  }
})

// ---- failures ------------------------------------------------------------------------------------

const failuresView = (): View => ({
  mount(root) {
    const recent = h("ol", { class: "timeline", id: "recent-failures", "data-testid": "recent-failures" })
    const body = h("tbody", { id: "failed" })
    let offset = 0
    const pager = h(
      "div",
      { class: "pager" },
      h("button", {
        type: "button",
        id: "failed-prev",
        text: "← previous",
        onclick: () => {
          offset = Math.max(0, offset - PAGE)
          loadFailed()
        }
      }),
      h("span", { class: "muted", id: "failed-info" }),
      h("button", {
        type: "button",
        id: "failed-next",
        text: "next →",
        onclick: () => {
          offset += PAGE
          loadFailed()
        }
      })
    )
    root.append(
      h(
        "div",
        { class: "split2" },
        h(
          "section",
          { class: "panel" },
          h("h2", {}, "Failed tasks ", h("span", { class: "muted", id: "failed-count" })),
          h(
            "table",
            { class: "failed" },
            h(
              "thead",
              {},
              h(
                "tr",
                {},
                h("th", { text: "task and error" }),
                h("th", { style: "width:6em", text: "retries" }),
                h("th", { style: "width:8em", text: "failed" }),
                h("th", { style: "width:10em", text: "" })
              )
            ),
            body
          ),
          h("p", { class: "muted", id: "failed-empty", hidden: true, text: "No failed task." }),
          pager
        ),
        h("section", { class: "panel" }, h("h2", { text: "Failed attempts, last 24 hours (retried or final)" }), recent)
      )
    )

    const history = (t: Task, cell: HTMLElement) =>
      api<Array<AuditEntry>>("GET", `/v1/tasks/${t.id}/audit`).then((entries) => {
        const attempts = entries.filter(
          (a) =>
            a.toStatus === "failed" || (a.fromStatus === "running" && a.toStatus === "ready") || a.toStatus === "running" || a.reason === "retried"
        )
        cell.textContent = ""
        cell.appendChild(
          h(
            "ol",
            { class: "timeline compact", "data-testid": "retry-history" },
            attempts.map((a) =>
              h(
                "li",
                { class: `s-${a.toStatus}` },
                h(
                  "div",
                  { class: "ev-head" },
                  h("span", { class: "muted", text: when(a.at) }),
                  pill(a.toStatus),
                  h("span", { class: "actor", text: a.actor ? `by ${a.actor}` : "" })
                ),
                a.reason ? h("div", { class: "wrap reason", text: a.reason }) : null
              )
            )
          )
        )
      }, fail)

    function loadFailed() {
      api<Array<Task>>("GET", `/v1/tasks?status=failed&limit=${PAGE + 1}&offset=${offset}`).then((tasks) => {
        body.textContent = ""
        for (const t of tasks.slice(0, PAGE)) {
          const hist = h("div", { class: "history" })
          body.appendChild(
            h(
              "tr",
              { "data-task-id": t.id },
              h(
                "td",
                { class: "wrap" },
                taskLink(t.id, t.summary),
                h("pre", { class: "error wrap", "data-testid": "error", text: t.errorMessage ?? "(no message)" }),
                hist
              ),
              h("td", { text: `${t.retryCount} of ${t.maxRetries}` }),
              h("td", { class: "muted", text: ago(t.completedAt ?? t.lastUpdatedAt) }),
              h(
                "td",
                {},
                h("button", { type: "button", class: "small", "data-action": "history", text: "history", onclick: () => void history(t, hist) }),
                h("button", {
                  type: "button",
                  class: "small",
                  "data-action": "retry",
                  text: "retry",
                  onclick: () => {
                    api("POST", `/v1/tasks/${t.id}/retry`, {}).then(() => {
                      notice("Retried.", "ok")
                      loadFailed()
                      loadRecent()
                    }, fail)
                  }
                })
              )
            )
          )
        }
        const shown = Math.min(PAGE, tasks.length)
        $("failed-empty").hidden = shown > 0
        $("failed-info").textContent = shown === 0 ? "" : `${offset + 1}–${offset + shown}`
        ;($("failed-prev") as HTMLButtonElement).disabled = offset === 0
        ;($("failed-next") as HTMLButtonElement).disabled = tasks.length <= PAGE
      }, fail)
      api<QueueStatus>("GET", "/v1/status").then((s) => {
        $("failed-count").textContent = `(${s.byStatus.failed})`
      }, fail)
    }
    function loadRecent() {
      api<Activity>("GET", "/v1/activity?minutes=1440&failures=100").then((a) => {
        recent.textContent = ""
        if (a.recentFailures.length === 0) recent.appendChild(h("li", { class: "muted", text: "No failed attempt." }))
        const names = new Map<string, HTMLElement>()
        for (const f of a.recentFailures) {
          const link = taskLink(f.taskId)
          names.set(f.taskId, link)
          recent.appendChild(
            h(
              "li",
              { class: `s-${f.toStatus}`, "data-task-id": f.taskId },
              h(
                "div",
                { class: "ev-head" },
                h("span", { class: "muted", text: when(f.at) }),
                link,
                h("span", { class: "pill", "data-status": f.toStatus, text: f.toStatus === "failed" ? "failed for good" : "retried" }),
                h("span", { class: "actor", text: f.actor ? `by ${f.actor}` : "" })
              ),
              f.reason ? h("div", { class: "wrap reason", text: f.reason }) : null
            )
          )
        }
        for (const id of names.keys()) {
          api<Task>("GET", `/v1/tasks/${id}`).then(
            (t) => {
              for (const l of Array.from(recent.querySelectorAll<HTMLElement>(`a[data-task-link="${t.id}"]`))) l.textContent = t.summary
            },
            () => {}
          )
        }
      }, fail)
    }
    loadFailed()
    loadRecent()
    const reload = debounce(() => {
      loadFailed()
      loadRecent()
    }, 500)
    return {
      onChange(c) {
        if (c.to === "failed" || c.from === "failed" || (c.from === "running" && c.to === "ready")) reload()
      },
      onSync: reload
    }
  }
})

// ---- routing and the event stream ----------------------------------------------------------------

let current: ReturnType<View["mount"]> = {}

function route() {
  current.leave?.()
  generation++
  notice("")
  const root = $("view")
  root.textContent = ""
  const hash = location.hash.replace(/^#\/?/, "")
  const [name, arg] = hash.split("/") as [string, string | undefined]
  for (const a of Array.from(document.querySelectorAll<HTMLAnchorElement>("nav.tabs a")))
    a.classList.toggle("on", a.dataset["view"] === (name === "" ? "overview" : name))
  const view =
    name === "graph"
      ? graphView(arg ?? null)
      : name === "task" && arg
        ? taskView(arg)
        : name === "workers"
          ? workersView()
          : name === "failures"
            ? failuresView()
            : overview()
  document.title = `Abathur · ${name === "" ? "dashboard" : name}`
  current = view.mount(root)
}

function setConnection(text: string, ok: boolean) {
  const c = $("connection")
  c.textContent = text
  c.className = `conn ${ok ? "ok" : "bad"}`
}

let source: EventSource | null = null
function connect() {
  source?.close()
  const t = token()
  source = new EventSource(`/v1/events${t ? `?access_token=${encodeURIComponent(t)}` : ""}`)
  source.onopen = () => setConnection("live", true)
  source.addEventListener("task", (e) => current.onChange?.(JSON.parse((e as MessageEvent<string>).data) as TaskChange))
  source.addEventListener("sync", () => current.onSync?.())
  source.onerror = () => {
    setConnection("reconnecting…", false)
    // A refused stream (no token) is not retried by the browser: check, and ask for the token.
    if (source?.readyState === EventSource.CLOSED) {
      api("GET", "/v1/status").then(
        () => setTimeout(connect, 2000),
        () => {}
      )
    }
  }
}

$("token-form").addEventListener("submit", (e) => {
  e.preventDefault()
  const v = ($("token-input") as HTMLInputElement).value.trim()
  if (v === "") sessionStorage.removeItem(TOKEN_KEY)
  else sessionStorage.setItem(TOKEN_KEY, v)
  ;($("token-input") as HTMLInputElement).value = ""
  $("token-form").hidden = true
  connect()
  route()
})
$("token-button").addEventListener("click", () => {
  const f = $("token-form")
  if (f.hidden) showTokenForm(false)
  else f.hidden = true
})
window.addEventListener("hashchange", route)
route()
connect()
