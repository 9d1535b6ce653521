/**
 * The dashboard's script, run in the browser (bundled by build.mjs into the page, with dagre for
 * the graph layout: nothing is fetched from anywhere but this server). Views by URL hash:
 * `#/` overview (status, throughput, tasks with search and paging, live changes), `#/graph` and
 * `#/graph/<id>` (open work, or one task's neighbourhood), `#/task/<id>` (a task's page),
 * `#/workers`, `#/failures`. Every element is built with textContent: task text is never markup.
 * This module routes between the views (one module each under views/) and follows the event
 * stream; Fetch.ts talks to the server, Dom.ts builds elements, Types.ts holds the API's shapes.
 */
import { $, notice, showTokenForm } from "./Dom.js"
import { TOKEN_KEY, api, token } from "./Fetch.js"
import { nextGeneration } from "./State.js"
import type { TaskChange, View } from "./Types.js"
import { failuresView } from "./views/Failures.js"
import { graphView } from "./views/Graph.js"
import { overview } from "./views/Overview.js"
import { taskView } from "./views/TaskPage.js"
import { workersView } from "./views/Workers.js"

let current: ReturnType<View["mount"]> = {}

function route() {
  current.leave?.()
  nextGeneration()
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
