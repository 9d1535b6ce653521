/**
 * `GET /`: the operator's dashboard, one self-contained page: its script (src/dashboard/client.ts,
 * with dagre for the graph layout) is bundled into it by build.mjs, so the page fetches nothing but
 * this server's API. The page holds no data: with a token, it asks for it (kept in the tab's
 * sessionStorage and sent as `Authorization: Bearer`) or takes `/?access_token=TOKEN` once.
 */
import client from "abathur:dashboard-client"

const STATUSES = ["ready", "running", "blocked", "pending", "completed", "failed", "cancelled"]

const css = `
:root { color-scheme: light dark; --fg: #1d2230; --muted: #5f6779; --bg: #f6f7fb; --card: #fff; --line: #e3e6ef; --accent: #5b3cc4;
  --ready: #2563eb; --running: #d97706; --blocked: #7c3aed; --pending: #64748b; --completed: #059669; --failed: #dc2626; --cancelled: #8b929c;
  --retried: #f59e0b; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6e8ef; --muted: #a2abbf; --bg: #12141a; --card: #1b1e26; --line: #2b2f3a; --accent: #a58cff; } }
* { box-sizing: border-box; } [hidden] { display: none !important; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
a { color: var(--accent); text-decoration: none; } a:hover { text-decoration: underline; }
header { display: flex; align-items: center; flex-wrap: wrap; gap: .75rem 1rem; padding: .6rem 1.25rem; border-bottom: 1px solid var(--line); background: var(--card); position: sticky; top: 0; z-index: 5; }
header h1 { font-size: 18px; margin: 0; }
nav.tabs { display: flex; gap: .25rem; } nav.tabs a { padding: .3rem .7rem; border-radius: 6px; color: var(--fg); }
nav.tabs a.on { background: color-mix(in srgb, var(--accent) 14%, transparent); color: var(--accent); font-weight: 600; }
header .links { margin-left: auto; display: flex; gap: 1rem; align-items: center; font-size: 13px; }
.conn { font-size: 12px; padding: .1rem .5rem; border-radius: 999px; } .conn.ok { background: color-mix(in srgb, var(--completed) 18%, transparent); color: var(--completed); }
.conn.bad { background: color-mix(in srgb, var(--failed) 18%, transparent); color: var(--failed); }
#token-form { flex-basis: 100%; display: flex; gap: .5rem; align-items: center; }
#token-form input { width: 22em; }
.notice { margin: .6rem 1.25rem 0; padding: .5rem .75rem; border-radius: 6px; white-space: pre-wrap; overflow-wrap: anywhere; }
.notice.error { background: color-mix(in srgb, var(--failed) 12%, var(--card)); color: var(--failed); border: 1px solid color-mix(in srgb, var(--failed) 40%, transparent); }
.notice.ok { background: color-mix(in srgb, var(--completed) 12%, var(--card)); color: var(--completed); }
main { padding: .9rem 1.25rem 2rem; }
button, .button, input, select { font: inherit; font-size: 13px; color: inherit; }
button, .button { border: 1px solid var(--line); background: var(--card); border-radius: 6px; padding: .25rem .65rem; cursor: pointer; display: inline-block; }
button:hover, .button:hover { border-color: var(--accent); text-decoration: none; } button:disabled { opacity: .45; cursor: default; }
button.small { font-size: 12px; padding: .1rem .45rem; }
button.action[data-action=cancel] { border-color: color-mix(in srgb, var(--failed) 50%, transparent); color: var(--failed); }
button.action[data-action=retry] { border-color: color-mix(in srgb, var(--ready) 50%, transparent); color: var(--ready); }
button.action[data-action=release] { border-color: color-mix(in srgb, var(--running) 50%, transparent); color: var(--running); }
input, select { border: 1px solid var(--line); background: var(--bg); border-radius: 6px; padding: .28rem .5rem; }
.row { display: flex; gap: .5rem; align-items: center; flex-wrap: wrap; margin-bottom: .6rem; }
.cards { display: grid; grid-template-columns: repeat(8, minmax(0, 1fr)); gap: .5rem; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: .5rem .7rem; border-top: 3px solid var(--line); cursor: pointer; min-width: 0; }
.card .n { font-size: 22px; font-weight: 650; font-variant-numeric: tabular-nums; } .card .l { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
${STATUSES.map((s) => `.card.s-${s} { border-top-color: var(--${s}); } .pill.s-${s}, .pill[data-status=${s}] { background: color-mix(in srgb, var(--${s}) 16%, transparent); color: var(--${s}); } .seg.s-${s} { background: var(--${s}); } .key.s-${s}::before { background: var(--${s}); } g.node.s-${s} .box { fill: color-mix(in srgb, var(--${s}) 13%, var(--card)); stroke: var(--${s}); } g.node.s-${s} .stripe { fill: var(--${s}); } .timeline li.s-${s} { border-left-color: var(--${s}); }`).join("\n")}
.bar { display: flex; height: 8px; border-radius: 4px; overflow: hidden; background: var(--line); margin: .6rem 0 .4rem; } .seg { min-width: 2px; }
.facts { display: flex; flex-wrap: wrap; gap: 1.5rem; color: var(--muted); font-size: 13px; margin-bottom: .8rem; } .facts b { color: var(--fg); font-weight: 600; }
section.panel { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: .7rem .9rem; min-width: 0; margin-bottom: .9rem; }
section.panel h2 { font-size: 15px; margin: 0 0 .55rem; display: flex; align-items: baseline; gap: .5rem; flex-wrap: wrap; }
section.panel h3 { font-size: 13px; margin: .6rem 0 .3rem; color: var(--muted); text-transform: uppercase; letter-spacing: .03em; }
.split { display: grid; grid-template-columns: minmax(0, 1fr) 330px; gap: .9rem; }
.split2 { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: .9rem; }
.filters { display: flex; flex-wrap: wrap; gap: .25rem; margin-bottom: .5rem; }
.filters button.on { background: var(--accent); border-color: var(--accent); color: #fff; }
#search { flex: 1; min-width: 12em; } #submit-form input[type=text] { flex: 1; min-width: 0; } #submit-form input[type=number] { width: 4.5em; }
table { width: 100%; border-collapse: collapse; font-size: 13px; table-layout: fixed; }
td, th { padding: .35rem .4rem; border-top: 1px solid var(--line); text-align: left; vertical-align: top; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
td.wrap, .wrap { white-space: pre-wrap; overflow-wrap: anywhere; word-break: break-word; }
th { color: var(--muted); font-weight: 600; font-size: 12px; } tr[data-task-id] { cursor: pointer; } tr[data-task-id]:hover { background: color-mix(in srgb, var(--accent) 7%, transparent); }
.num { text-align: right; font-variant-numeric: tabular-nums; } .muted { color: var(--muted); } .mono { font-family: ui-monospace, Menlo, monospace; font-size: 12px; }
.warn { color: var(--running); font-weight: 600; } .bad { color: var(--failed); font-weight: 600; }
.pill { display: inline-block; padding: 0 .45rem; border-radius: 999px; font-size: 11.5px; font-weight: 600; white-space: nowrap; }
.pager { display: flex; gap: .75rem; align-items: center; justify-content: flex-end; margin-top: .5rem; }
#events { list-style: none; margin: 0; padding: 0; font-size: 12.5px; max-height: 62vh; overflow: auto; }
#events li { padding: .3rem 0; border-top: 1px solid var(--line); }
.ev-head { display: flex; flex-wrap: wrap; gap: .35rem; align-items: center; } .arrow { color: var(--muted); }
.ev-summary { display: block; overflow-wrap: anywhere; }
.chart { display: block; max-width: 100%; } .chart .axis { stroke: var(--line); } .chart .tick { fill: var(--muted); font-size: 10px; }
.bar-completed { fill: var(--completed); } .bar-retried { fill: var(--retried); } .bar-failed { fill: var(--failed); }
/* graph */
.graph-panel .toolbar form { margin: 0; } #graph-focus { width: 24em; }
.legend { display: flex; flex-wrap: wrap; gap: .6rem; font-size: 12px; color: var(--muted); }
.key::before { content: ""; display: inline-block; width: .8em; height: .8em; border-radius: 2px; margin-right: .25rem; vertical-align: -1px; }
.key-edge.dashed { font-style: italic; }
.graph-info { font-size: 12.5px; margin-bottom: .4rem; }
.graph-wrap { position: relative; }
svg.graph { width: 100%; height: calc(100vh - 235px); min-height: 380px; border: 1px solid var(--line); border-radius: 6px; background: var(--bg); cursor: grab; display: block; touch-action: none; }
g.node { cursor: pointer; } g.node .box { stroke-width: 1.5; } g.node.context { opacity: .55; } g.node.focus .box { stroke-width: 3.5; }
g.node:hover .box, g.node:focus .box { stroke-width: 3; } g.node text { fill: var(--fg); } g.node .label { font-size: 12.5px; font-weight: 600; } g.node .meta { font-size: 11px; fill: var(--muted); }
.progress-bg { fill: var(--line); } .progress-done { fill: var(--completed); } .progress-bad { fill: var(--failed); }
path.edge { fill: none; stroke: var(--muted); stroke-width: 1.6; } path.edge.resolved { stroke-opacity: .45; } path.edge.parent { stroke-dasharray: 5 4; stroke: var(--accent); stroke-opacity: .7; }
marker path.arrow { fill: var(--muted); } marker path.arrow.done { fill: var(--muted); fill-opacity: .45; }
.graph-side { position: absolute; top: .6rem; right: .6rem; width: 300px; box-shadow: 0 4px 18px rgba(0,0,0,.12); }
.graph-side h3 { text-transform: none; color: var(--fg); font-size: 14px; letter-spacing: 0; }
/* task page */
.title-row { display: flex; gap: .75rem; align-items: baseline; } .title-row h2 { font-size: 18px; }
.error-box { border: 1px solid color-mix(in srgb, var(--failed) 45%, transparent); background: color-mix(in srgb, var(--failed) 8%, var(--card)); border-radius: 6px; padding: .5rem .7rem; margin-bottom: .6rem; color: var(--failed); }
.error-box pre, pre.error { margin: .25rem 0 0; font-size: 12.5px; color: var(--failed); }
pre { font-family: ui-monospace, Menlo, monospace; font-size: 12.5px; background: var(--bg); border-radius: 6px; padding: .5rem .6rem; margin: 0; }
pre.prompt { max-height: 40vh; overflow: auto; font-family: inherit; font-size: 13.5px; }
pre.wrap { white-space: pre-wrap; overflow-wrap: anywhere; }
pre.log { max-height: 340px; overflow: auto; white-space: pre-wrap; overflow-wrap: anywhere; }
pre.json { max-height: 300px; overflow: auto; }
dl.fields { display: grid; grid-template-columns: 7.5em minmax(0, 1fr) 7.5em minmax(0, 1fr); gap: .25rem 1rem; margin: .7rem 0 0; }
dl.fields dt { color: var(--muted); } dl.fields dd { margin: 0; overflow-wrap: anywhere; }
table.breakdown { table-layout: auto; } table.breakdown td, table.breakdown th { white-space: nowrap; } table.breakdown td.wrap { white-space: normal; width: 100%; }
table.breakdown tfoot td { font-weight: 600; }
.meter { display: inline-block; width: 3.5em; height: 6px; background: var(--line); border-radius: 3px; overflow: hidden; vertical-align: middle; } .meter span { display: block; height: 100%; background: var(--accent); }
.links ul { list-style: none; margin: 0; padding: 0; } .links li { padding: .2rem 0; overflow-wrap: anywhere; }
ol.timeline { list-style: none; margin: 0; padding: 0; max-height: 420px; overflow: auto; }
ol.timeline li { border-left: 3px solid var(--line); padding: .25rem .6rem; margin-bottom: .35rem; font-size: 13px; }
ol.timeline.compact { max-height: none; margin-top: .4rem; } .actor { font-weight: 600; } .reason { color: var(--muted); margin-top: .1rem; }
table.workers td.worker { font-weight: 600; }
@media (max-width: 1100px) { .split, .split2 { grid-template-columns: minmax(0, 1fr); } .cards { grid-template-columns: repeat(4, minmax(0, 1fr)); } }
`

export const dashboardHtml = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E%3Ccircle cx='8' cy='8' r='7' fill='%235b3cc4'/%3E%3C/svg%3E">
<title>Abathur · dashboard</title>
<style>${css}</style></head>
<body>
<header><h1>Abathur</h1>
<nav class="tabs"><a href="#/" data-view="overview">Overview</a><a href="#/graph" data-view="graph">Graph</a><a href="#/workers" data-view="workers">Workers</a><a href="#/failures" data-view="failures">Failures</a></nav>
<span id="connection" class="conn bad">connecting…</span>
<span class="links"><button type="button" id="token-button">Token</button><a href="/docs">API docs</a><a href="/metrics">metrics</a></span>
<form id="token-form" hidden><span id="token-hint" class="muted"></span><input type="password" id="token-input" autocomplete="off" placeholder="ABATHUR_TOKEN" aria-label="token"><button type="submit">Use token</button></form>
</header>
<p id="notice" class="notice" hidden></p>
<main id="view"></main>
<script>${client}</script>
</body></html>`
