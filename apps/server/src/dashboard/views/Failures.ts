/** `#/failures`: the failed tasks (with paging) and the failed attempts of the last 24 hours. */
import { $, ago, debounce, h, notice, pill, taskLink, when } from "../Dom.js"
import { api, fail } from "../Fetch.js"
import { type Activity, type AuditEntry, PAGE, type QueueStatus, type Task, type View } from "../Types.js"

export const failuresView = (): View => ({
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
