/**
 * `GET /`: the dashboard, one self-contained page (no network but this server's API).
 * It shows the queue's status and its tasks, and keeps both current from `GET /v1/events`
 * (refetching when another process changed the database). With a token, open it as
 * `/?access_token=TOKEN`: the page sends the token on its own requests.
 *
 * The script below is plain ES2020 without template literals (it lives in one); it builds every
 * element with textContent, so task text is never parsed as HTML.
 */
const script = String.raw`
"use strict";
(function () {
  var token = new URLSearchParams(location.search).get("access_token");
  var STATUSES = ["ready", "running", "blocked", "pending", "completed", "failed", "cancelled"];
  var state = { tasks: new Map(), filter: "open", events: [], selected: null };
  var $ = function (id) { return document.getElementById(id); };

  function api(method, path, body) {
    var headers = { accept: "application/json" };
    if (token) headers.authorization = "Bearer " + token;
    if (body !== undefined) headers["content-type"] = "application/json";
    return fetch(path, { method: method, headers: headers, body: body === undefined ? undefined : JSON.stringify(body) }).then(function (res) {
      if (res.status === 204) return null;
      return res.json().then(function (json) {
        if (!res.ok) throw new Error(json && json.error ? json.error._tag + ": " + json.error.message : "HTTP " + res.status);
        return json;
      });
    });
  }

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    if (attrs) for (var k in attrs) {
      if (k === "text") e.textContent = attrs[k];
      else if (k === "class") e.className = attrs[k];
      else if (k.slice(0, 2) === "on") e.addEventListener(k.slice(2), attrs[k]);
      else e.setAttribute(k, attrs[k]);
    }
    (children || []).forEach(function (c) { if (c) e.appendChild(c); });
    return e;
  }

  function ago(iso) {
    if (!iso) return "–";
    var s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
    if (s < 60) return Math.floor(s) + "s ago";
    if (s < 3600) return Math.floor(s / 60) + "m ago";
    if (s < 86400) return Math.floor(s / 3600) + "h ago";
    return Math.floor(s / 86400) + "d ago";
  }

  function setConnection(text, ok) {
    var c = $("connection");
    c.textContent = text;
    c.className = "conn " + (ok ? "ok" : "bad");
  }

  function showError(message) {
    var e = $("error");
    e.textContent = message || "";
    e.hidden = !message;
  }

  // ---- status -------------------------------------------------------------------------------
  function renderStatus(s) {
    $("count-total").textContent = String(s.total);
    STATUSES.forEach(function (st) { $("count-" + st).textContent = String(s.byStatus[st] || 0); });
    $("avg-priority").textContent = s.avgPriority === null ? "–" : s.avgPriority.toFixed(1);
    $("max-depth").textContent = s.maxDepth === null ? "–" : String(s.maxDepth);
    $("oldest").textContent = s.oldestWaitingAt === null ? "–" : ago(s.oldestWaitingAt);
    var bar = $("bar");
    bar.textContent = "";
    STATUSES.forEach(function (st) {
      var n = s.byStatus[st] || 0;
      if (n > 0 && s.total > 0) bar.appendChild(el("span", { class: "seg s-" + st, style: "flex-grow:" + n, title: st + ": " + n }));
    });
  }

  var statusTimer = null;
  function refreshStatus() {
    if (statusTimer) return;
    statusTimer = setTimeout(function () {
      statusTimer = null;
      api("GET", "/v1/status").then(renderStatus, function (e) { showError(e.message); });
    }, 100);
  }

  // ---- tasks --------------------------------------------------------------------------------
  var OPEN = { ready: 1, running: 1, blocked: 1, pending: 1 };
  function visible(t) {
    if (state.filter === "all") return true;
    if (state.filter === "open") return OPEN[t.status] === 1;
    return t.status === state.filter;
  }

  function renderTasks() {
    var body = $("tasks");
    body.textContent = "";
    var list = Array.from(state.tasks.values()).filter(visible);
    list.sort(function (a, b) {
      return b.calculatedPriority - a.calculatedPriority || (a.submittedAt < b.submittedAt ? -1 : a.submittedAt > b.submittedAt ? 1 : 0);
    });
    list.slice(0, 300).forEach(function (t) {
      var row = el("tr", { "data-task-id": t.id, class: state.selected === t.id ? "sel" : "", onclick: function () { select(t.id); } }, [
        el("td", {}, [el("span", { class: "pill s-" + t.status, text: t.status })]),
        el("td", { class: "num", text: t.calculatedPriority.toFixed(1) }),
        el("td", { class: "summary", text: t.summary || t.prompt, title: t.prompt }),
        el("td", { text: t.agentType }),
        el("td", { text: t.source }),
        el("td", { class: "muted", text: ago(t.lastUpdatedAt) }),
        el("td", { class: "mono muted", text: t.id.slice(0, 8) })
      ]);
      body.appendChild(row);
    });
    $("tasks-empty").hidden = list.length > 0;
    $("tasks-shown").textContent = list.length > 300 ? "showing 300 of " + list.length : list.length + " shown";
  }

  var tasksTimer = null;
  function scheduleRenderTasks() {
    if (tasksTimer) return;
    tasksTimer = setTimeout(function () { tasksTimer = null; renderTasks(); }, 50);
  }

  function loadTasks() {
    var q = state.filter === "all" ? "?limit=500" : state.filter === "open" ? "?status=ready,running,blocked,pending&limit=500" : "?status=" + state.filter + "&limit=500";
    return api("GET", "/v1/tasks" + q).then(function (tasks) {
      state.tasks = new Map();
      tasks.forEach(function (t) { state.tasks.set(t.id, t); });
      renderTasks();
    }, function (e) { showError(e.message); });
  }

  var pending = new Set();
  function fetchTask(id) {
    if (pending.has(id)) return;
    pending.add(id);
    api("GET", "/v1/tasks/" + id).then(function (t) {
      pending.delete(id);
      state.tasks.set(t.id, t);
      scheduleRenderTasks();
      if (state.selected === id) renderDetail(t);
    }, function () { pending.delete(id); });
  }

  function select(id) {
    state.selected = id;
    renderTasks();
    api("GET", "/v1/tasks/" + id).then(renderDetail, function (e) { showError(e.message); });
  }

  function renderDetail(t) {
    var d = $("detail");
    d.hidden = false;
    $("detail-title").textContent = t.summary || t.prompt;
    $("detail-json").textContent = JSON.stringify(t, null, 2);
    var actions = $("detail-actions");
    actions.textContent = "";
    function act(label, path) {
      actions.appendChild(el("button", { type: "button", text: label, onclick: function () {
        api("POST", path).then(function () { fetchTask(t.id); refreshStatus(); }, function (e) { showError(e.message); });
      } }));
    }
    if (OPEN[t.status] === 1) act("Cancel", "/v1/tasks/" + t.id + "/cancel");
    if (t.status === "failed") act("Retry", "/v1/tasks/" + t.id + "/retry");
  }

  // ---- events -------------------------------------------------------------------------------
  function addEvent(change) {
    state.events.unshift(change);
    if (state.events.length > 50) state.events.length = 50;
    var feed = $("events");
    var t = state.tasks.get(change.taskId);
    var item = el("li", { "data-task-id": change.taskId }, [
      el("span", { class: "muted", text: new Date(change.at).toLocaleTimeString() + " " }),
      el("span", { class: "mono", text: change.taskId.slice(0, 8) + " " }),
      change.from ? el("span", { class: "pill s-" + change.from, text: change.from }) : el("span", { class: "muted", text: "new" }),
      el("span", { text: " → " }),
      el("span", { class: "pill s-" + change.to, text: change.to }),
      t ? el("span", { class: "muted", text: " " + (t.summary || "").slice(0, 60) }) : null
    ]);
    feed.insertBefore(item, feed.firstChild);
    while (feed.children.length > 50) feed.removeChild(feed.lastChild);
  }

  function onChange(change) {
    addEvent(change);
    var t = state.tasks.get(change.taskId);
    if (t) {
      t.status = change.to;
      t.lastUpdatedAt = change.at;
      scheduleRenderTasks();
    }
    fetchTask(change.taskId);
    refreshStatus();
  }

  var source = null;
  var poller = null;
  function connect() {
    var url = "/v1/events" + (token ? "?access_token=" + encodeURIComponent(token) : "");
    source = new EventSource(url);
    source.onopen = function () {
      setConnection("live", true);
      if (poller) { clearInterval(poller); poller = null; }
      refreshStatus();
      loadTasks();
    };
    source.addEventListener("task", function (e) { onChange(JSON.parse(e.data)); });
    source.addEventListener("sync", function () { refreshStatus(); loadTasks(); });
    source.onerror = function () {
      setConnection("reconnecting…", false);
      if (!poller) poller = setInterval(function () { refreshStatus(); }, 5000);
    };
  }

  // ---- wiring -------------------------------------------------------------------------------
  Array.prototype.forEach.call(document.querySelectorAll("[data-filter]"), function (b) {
    b.addEventListener("click", function () {
      state.filter = b.getAttribute("data-filter");
      Array.prototype.forEach.call(document.querySelectorAll("[data-filter]"), function (o) { o.classList.toggle("on", o === b); });
      loadTasks();
    });
  });
  $("submit-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var prompt = $("prompt").value;
    var priority = Number($("priority").value);
    api("POST", "/v1/tasks", { prompt: prompt, priority: priority }).then(function (t) {
      $("prompt").value = "";
      showError("");
      state.tasks.set(t.id, t);
      scheduleRenderTasks();
      refreshStatus();
    }, function (err) { showError(err.message); });
  });
  $("detail-close").addEventListener("click", function () { $("detail").hidden = true; state.selected = null; renderTasks(); });
  STATUSES.forEach(function (st) {
    var card = document.querySelector("[data-card='" + st + "']");
    if (card) card.addEventListener("click", function () { var b = document.querySelector("[data-filter='" + st + "']"); if (b) b.click(); });
  });
  setInterval(function () { refreshStatus(); }, 30000);

  api("GET", "/v1/status").then(renderStatus, function (e) { showError(e.message); });
  loadTasks();
  connect();
})();
`

const card = (status: string, label: string) =>
  `<div class="card s-${status}" data-card="${status}"><div class="n" id="count-${status}" data-testid="count-${status}">–</div><div class="l">${label}</div></div>`

export const dashboardHtml = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E%3Ccircle cx='8' cy='8' r='7' fill='%235b3cc4'/%3E%3C/svg%3E">
<title>Abathur · dashboard</title>
<style>
:root { color-scheme: light dark; --fg: #1d2230; --muted: #6b7388; --bg: #f6f7fb; --card: #fff; --line: #e3e6ef; --accent: #5b3cc4;
  --ready: #2563eb; --running: #d97706; --blocked: #7c3aed; --pending: #64748b; --completed: #059669; --failed: #dc2626; --cancelled: #9ca3af; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6e8ef; --muted: #98a1b6; --bg: #12141a; --card: #1b1e26; --line: #2b2f3a; --accent: #a58cff; } }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; align-items: center; gap: 1rem; padding: .75rem 1.5rem; border-bottom: 1px solid var(--line); background: var(--card); }
header h1 { font-size: 18px; margin: 0; } header nav { margin-left: auto; display: flex; gap: 1rem; } header a { color: var(--accent); text-decoration: none; }
.conn { font-size: 12px; padding: .1rem .5rem; border-radius: 999px; } .conn.ok { background: color-mix(in srgb, var(--completed) 18%, transparent); color: var(--completed); }
.conn.bad { background: color-mix(in srgb, var(--failed) 18%, transparent); color: var(--failed); }
main { padding: 1rem 1.5rem; display: grid; grid-template-columns: minmax(0, 1fr) 340px; gap: 1rem; }
.cards { display: grid; grid-template-columns: repeat(8, minmax(0, 1fr)); gap: .5rem; grid-column: 1 / -1; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: .6rem .75rem; border-top: 3px solid var(--line); cursor: pointer; }
.card .n { font-size: 24px; font-weight: 650; font-variant-numeric: tabular-nums; } .card .l { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
${["ready", "running", "blocked", "pending", "completed", "failed", "cancelled"].map((s) => `.card.s-${s} { border-top-color: var(--${s}); } .pill.s-${s} { background: color-mix(in srgb, var(--${s}) 16%, transparent); color: var(--${s}); } .seg.s-${s} { background: var(--${s}); }`).join("\n")}
.bar { grid-column: 1 / -1; display: flex; height: 8px; border-radius: 4px; overflow: hidden; background: var(--line); } .seg { min-width: 2px; }
.facts { grid-column: 1 / -1; display: flex; gap: 1.5rem; color: var(--muted); font-size: 13px; } .facts b { color: var(--fg); font-weight: 600; }
section.panel { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: .75rem 1rem; min-width: 0; }
section.panel h2 { font-size: 14px; margin: 0 0 .5rem; display: flex; align-items: center; gap: .5rem; }
.filters { display: flex; flex-wrap: wrap; gap: .25rem; margin-bottom: .5rem; }
.filters button, form button, #detail-actions button { border: 1px solid var(--line); background: transparent; color: inherit; border-radius: 6px; padding: .2rem .6rem; cursor: pointer; font: inherit; font-size: 12px; }
.filters button.on { background: var(--accent); border-color: var(--accent); color: #fff; }
table { width: 100%; border-collapse: collapse; font-size: 13px; table-layout: fixed; } td, th { padding: .35rem .4rem; border-top: 1px solid var(--line); text-align: left; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
th { color: var(--muted); font-weight: 600; font-size: 12px; } tr[data-task-id] { cursor: pointer; } tr[data-task-id]:hover, tr.sel { background: color-mix(in srgb, var(--accent) 8%, transparent); }
td.summary { width: 40%; } .num { text-align: right; font-variant-numeric: tabular-nums; } .muted { color: var(--muted); } .mono { font-family: ui-monospace, Menlo, monospace; font-size: 12px; }
.pill { display: inline-block; padding: 0 .45rem; border-radius: 999px; font-size: 11.5px; font-weight: 600; }
#events { list-style: none; margin: 0; padding: 0; font-size: 12.5px; max-height: 60vh; overflow: auto; } #events li { padding: .25rem 0; border-top: 1px solid var(--line); white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
form { display: flex; gap: .5rem; margin-bottom: .75rem; } form input[type=text] { flex: 1; min-width: 0; } form input { border: 1px solid var(--line); background: var(--bg); color: inherit; border-radius: 6px; padding: .3rem .5rem; font: inherit; }
form input[type=number] { width: 4.5em; }
#error { color: var(--failed); margin: 0 0 .5rem; } #detail pre { font-size: 12px; max-height: 40vh; overflow: auto; background: var(--bg); padding: .5rem; border-radius: 6px; }
aside { display: flex; flex-direction: column; gap: 1rem; min-width: 0; }
@media (max-width: 1000px) { main { grid-template-columns: 1fr; } .cards { grid-template-columns: repeat(4, minmax(0, 1fr)); } }
</style></head>
<body>
<header><h1>Abathur</h1><span id="connection" class="conn bad">connecting…</span>
<nav><a href="/docs">API docs</a><a href="/openapi.json">openapi.json</a><a href="/metrics">metrics</a></nav></header>
<main>
<div class="cards">
<div class="card" data-card="all"><div class="n" id="count-total" data-testid="count-total">–</div><div class="l">total</div></div>
${card("ready", "ready")}${card("running", "running")}${card("blocked", "blocked")}${card("pending", "pending")}${card("completed", "completed")}${card("failed", "failed")}${card("cancelled", "cancelled")}
</div>
<div class="bar" id="bar"></div>
<div class="facts"><span>average priority (open) <b id="avg-priority">–</b></span><span>deepest open dependency <b id="max-depth">–</b></span><span>oldest waiting <b id="oldest">–</b></span></div>
<section class="panel">
<h2>Tasks <span class="muted" id="tasks-shown"></span></h2>
<p id="error" hidden></p>
<form id="submit-form"><input type="text" id="prompt" placeholder="Submit a task: describe the work" required aria-label="prompt">
<input type="number" id="priority" min="0" max="10" value="5" aria-label="priority" title="priority 0..10"><button type="submit">Submit</button></form>
<div class="filters">
<button type="button" data-filter="open" class="on">open</button><button type="button" data-filter="all">all</button>
${["ready", "running", "blocked", "completed", "failed", "cancelled"].map((s) => `<button type="button" data-filter="${s}">${s}</button>`).join("")}
</div>
<table><thead><tr><th style="width:7.5em">status</th><th class="num" style="width:4.5em">priority</th><th>summary</th><th style="width:8em">agent</th><th style="width:10em">source</th><th style="width:6.5em">updated</th><th style="width:6.5em">id</th></tr></thead>
<tbody id="tasks"></tbody></table>
<p id="tasks-empty" class="muted" hidden>No tasks here.</p>
</section>
<aside>
<section class="panel" id="detail" hidden><h2><span id="detail-title"></span><button type="button" id="detail-close" style="margin-left:auto">×</button></h2>
<div id="detail-actions"></div><pre id="detail-json"></pre></section>
<section class="panel"><h2>Live changes</h2><ul id="events" data-testid="events"></ul></section>
</aside>
</main>
<script>${script}</script>
</body></html>`
