/** `#/task/<id>`: a task's page, with its links, priority, audit trail and actions. */
import { type Child, ago, debounce, duration, h, leaseLeft, notice, pill, shortId, taskLink, when } from "../Dom.js"
import { ApiFailure, api, fail } from "../Fetch.js"
import { type AuditEntry, OPEN, type Status, type TaskDetail, type View } from "../Types.js"

export const FACTORS = ["base", "urgency", "dependency", "starvation", "source"] as const

export const taskView = (id: string): View => ({
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
export function jsonBlock(v: unknown, name: string): HTMLElement {
  if (v === null || v === undefined || (typeof v === "object" && Object.keys(v as object).length === 0))
    return h("p", { class: "muted", text: "none" })
  return h("pre", { class: "json wrap", "data-testid": name, text: JSON.stringify(v, null, 2) })
}
