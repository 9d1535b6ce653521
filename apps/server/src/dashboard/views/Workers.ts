/** `#/workers`: the running tasks by worker, with their leases. */
import { $, debounce, duration, h, leaseLeft, notice, taskLink } from "../Dom.js"
import { api, fail } from "../Fetch.js"
import type { Task, View } from "../Types.js"

export const workersView = (): View => ({
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
