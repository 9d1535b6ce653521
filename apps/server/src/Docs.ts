/**
 * `GET /docs`: the OpenAPI document rendered as one self-contained HTML page (no scripts, no
 * network): operations grouped by tag with their parameters, bodies and answers, then every
 * schema as a table of fields.
 */

type Json = Record<string, unknown>

const esc = (s: unknown): string => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;")

/** Inline `code` spans of the descriptions (the only markdown used). */
const prose = (s: unknown): string => esc(s ?? "").replace(/`([^`]+)`/g, "<code>$1</code>")

const isObj = (u: unknown): u is Json => typeof u === "object" && u !== null && !Array.isArray(u)

const refName = (ref: string): string => ref.replace(/^#\/components\/schemas\//, "")

/** A short type expression for a schema, linking to named schemas. */
const typeOf = (schema: unknown, depth = 0): string => {
  if (!isObj(schema)) return "any"
  if (typeof schema["$ref"] === "string") {
    const name = refName(schema["$ref"])
    return `<a href="#schema-${esc(name)}">${esc(name)}</a>`
  }
  if (Array.isArray(schema["enum"])) return schema["enum"].map((v) => `<code>${esc(JSON.stringify(v))}</code>`).join(" | ")
  if ("const" in schema) return `<code>${esc(JSON.stringify(schema["const"]))}</code>`
  for (const key of ["anyOf", "oneOf"]) {
    const alts = schema[key]
    if (Array.isArray(alts)) return alts.map((a) => typeOf(a, depth + 1)).join(" or ")
  }
  if (Array.isArray(schema["allOf"])) return schema["allOf"].map((a) => typeOf(a, depth + 1)).join(" and ")
  const type = schema["type"]
  if (Array.isArray(type)) return type.map((t) => esc(t)).join(" or ")
  if (type === "array") return `array of ${typeOf(schema["items"], depth + 1)}`
  if (type === "object") {
    if (isObj(schema["properties"]) && depth > 0) return "object (below)"
    if (isObj(schema["additionalProperties"])) return `object of ${typeOf(schema["additionalProperties"], depth + 1)}`
    return "object"
  }
  if (typeof type === "string") return esc(type) + (typeof schema["format"] === "string" ? ` (${esc(schema["format"])})` : "")
  return "any"
}

const constraints = (schema: unknown): string => {
  if (!isObj(schema)) return ""
  const out: Array<string> = []
  const add = (label: string, key: string) => {
    if (schema[key] !== undefined && !(key === "maximum" && schema[key] === Number.MAX_SAFE_INTEGER))
      out.push(`${label} ${esc(JSON.stringify(schema[key]))}`)
  }
  add("default", "default")
  add("min", "minimum")
  add("max", "maximum")
  add("min length", "minLength")
  add("max length", "maxLength")
  add("min items", "minItems")
  add("pattern", "pattern")
  if (typeof schema["description"] === "string") out.push(prose(schema["description"]))
  for (const key of ["anyOf", "oneOf"]) {
    const alts = schema[key]
    if (Array.isArray(alts))
      for (const a of alts)
        if (isObj(a)) {
          const c = constraints(a)
          if (c !== "") out.push(c)
        }
  }
  return out.join("; ")
}

/** A table of an object schema's fields (following allOf parts). */
const fieldsTable = (schema: unknown): string => {
  if (!isObj(schema)) return ""
  const parts: Array<string> = []
  if (Array.isArray(schema["allOf"])) {
    for (const part of schema["allOf"]) {
      if (isObj(part) && typeof part["$ref"] === "string") parts.push(`<p>All fields of ${typeOf(part)}, and:</p>`)
      else parts.push(fieldsTable(part))
    }
    return parts.join("")
  }
  const props = schema["properties"]
  if (!isObj(props)) return ""
  const required = new Set(Array.isArray(schema["required"]) ? schema["required"] : [])
  const rows = Object.entries(props)
    .map(
      ([name, s]) =>
        `<tr><td><code>${esc(name)}</code>${required.has(name) ? ' <span class="req">required</span>' : ""}</td><td>${typeOf(s, 1)}</td><td>${constraints(s)}</td></tr>` +
        (isObj(s) && s["type"] === "object" && isObj(s["properties"]) ? `<tr><td></td><td colspan="2">${fieldsTable(s)}</td></tr>` : "")
    )
    .join("")
  const closed = schema["additionalProperties"] === false ? '<p class="note">Other fields are refused.</p>' : ""
  return `<table><thead><tr><th>field</th><th>type</th><th>notes</th></tr></thead><tbody>${rows}</tbody></table>${closed}`
}

const schemaBlock = (schema: unknown): string => {
  if (!isObj(schema)) return ""
  const table = fieldsTable(schema)
  return `<div class="type">${typeOf(schema)}</div>${table}`
}

/** The page. */
export const docsHtml = (doc: Json): string => {
  const info = isObj(doc["info"]) ? doc["info"] : {}
  const paths = isObj(doc["paths"]) ? doc["paths"] : {}
  const components = isObj(doc["components"]) && isObj(doc["components"]["schemas"]) ? doc["components"]["schemas"] : {}
  const tags = Array.isArray(doc["tags"]) ? (doc["tags"] as Array<Json>) : []
  const ops: Array<{ tag: string; method: string; path: string; op: Json }> = []
  for (const [path, item] of Object.entries(paths)) {
    if (!isObj(item)) continue
    for (const [method, op] of Object.entries(item)) {
      if (isObj(op)) ops.push({ tag: Array.isArray(op["tags"]) ? String(op["tags"][0]) : "other", method, path, op })
    }
  }
  /** The fields of a named body schema, shown with the operation itself. */
  const inlineFields = (schema: unknown): string => {
    if (!isObj(schema) || typeof schema["$ref"] !== "string") return ""
    const target = components[refName(schema["$ref"])]
    return isObj(target) ? fieldsTable(target) : ""
  }
  const anchor = (method: string, path: string) => `op-${method}-${path.replace(/[^A-Za-z0-9]+/g, "-")}`
  const nav = tags
    .map(
      (t) =>
        `<li><b>${esc(t["name"])}</b><ul>${ops
          .filter((o) => o.tag === t["name"])
          .map(
            (o) => `<li><a href="#${anchor(o.method, o.path)}"><span class="m m-${o.method}">${o.method.toUpperCase()}</span> ${esc(o.path)}</a></li>`
          )
          .join("")}</ul></li>`
    )
    .join("")
  const operation = ({ method, path, op }: (typeof ops)[number]): string => {
    const params = Array.isArray(op["parameters"]) ? (op["parameters"] as Array<Json>) : []
    const body = isObj(op["requestBody"]) ? op["requestBody"] : undefined
    const bodySchema =
      body && isObj(body["content"]) && isObj(body["content"]["application/json"]) ? body["content"]["application/json"]["schema"] : undefined
    const responses = isObj(op["responses"]) ? op["responses"] : {}
    return `<section class="op" id="${anchor(method, path)}">
<h3><span class="m m-${method}">${method.toUpperCase()}</span> <code>${esc(path)}</code> <span class="summary">${esc(op["summary"])}</span></h3>
<p>${prose(op["description"])}</p>
${
  params.length > 0
    ? `<h4>Parameters</h4><table><thead><tr><th>name</th><th>in</th><th>type</th><th>notes</th></tr></thead><tbody>${params
        .map(
          (p) =>
            `<tr><td><code>${esc(p["name"])}</code>${p["required"] === true ? ' <span class="req">required</span>' : ""}</td><td>${esc(p["in"])}</td><td>${typeOf(p["schema"])}</td><td>${prose(p["description"])}</td></tr>`
        )
        .join("")}</tbody></table>`
    : ""
}
${body !== undefined ? `<h4>Body (JSON${body["required"] === true ? ", required" : ", optional"})</h4>${schemaBlock(bodySchema)}${inlineFields(bodySchema)}` : ""}
<h4>Answers</h4><table><tbody>${Object.entries(responses)
      .map(([status, r]) => {
        const res = isObj(r) ? r : {}
        const content = isObj(res["content"]) ? res["content"] : {}
        const types = Object.entries(content)
          .map(([type, c]) => `<code>${esc(type)}</code> ${isObj(c) ? typeOf(c["schema"]) : ""}`)
          .join("<br>")
        return `<tr><td class="status s${status[0]}">${esc(status)}</td><td>${prose(res["description"])}</td><td>${types}</td></tr>`
      })
      .join("")}</tbody></table>
</section>`
  }
  const sections = tags
    .map(
      (t) =>
        `<h2 id="tag-${esc(t["name"])}">${esc(t["name"])}</h2><p>${prose(t["description"])}</p>${ops
          .filter((o) => o.tag === t["name"])
          .map(operation)
          .join("")}`
    )
    .join("")
  const schemas = Object.entries(components)
    .map(([name, s]) => `<section class="schema" id="schema-${esc(name)}"><h3>${esc(name)}</h3>${schemaBlock(s)}</section>`)
    .join("")
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E%3Ccircle cx='8' cy='8' r='7' fill='%235b3cc4'/%3E%3C/svg%3E">
<title>${esc(info["title"])} API ${esc(info["version"])}</title>
<style>
:root { color-scheme: light dark; --fg: #1d2230; --muted: #5b6478; --bg: #fbfbfd; --card: #fff; --line: #e2e5ee; --accent: #5b3cc4; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6e8ef; --muted: #9aa3b8; --bg: #14161c; --card: #1c1f27; --line: #2c303b; --accent: #a58cff; } }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); display: grid; grid-template-columns: 300px 1fr; }
nav { position: sticky; top: 0; height: 100vh; overflow: auto; padding: 1rem; border-right: 1px solid var(--line); font-size: 13px; }
nav ul { list-style: none; padding-left: .5rem; margin: .25rem 0 .75rem; } nav a { color: inherit; text-decoration: none; } nav a:hover { color: var(--accent); }
main { padding: 1.5rem 2rem; max-width: 1100px; }
h1 { margin-top: 0; } h2 { border-bottom: 2px solid var(--line); padding-bottom: .25rem; margin-top: 2.5rem; text-transform: capitalize; }
.op, .schema { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: .75rem 1rem; margin: 1rem 0; }
.op h3 { margin: 0 0 .25rem; font-size: 16px; } .summary { color: var(--muted); font-weight: normal; margin-left: .5rem; }
h4 { margin: .75rem 0 .25rem; font-size: 13px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); }
table { border-collapse: collapse; width: 100%; font-size: 13px; margin: .25rem 0; } td, th { border-top: 1px solid var(--line); padding: .3rem .5rem; text-align: left; vertical-align: top; }
th { color: var(--muted); font-weight: 600; } code { font: 12.5px ui-monospace, SFMono-Regular, Menlo, monospace; background: color-mix(in srgb, var(--line) 50%, transparent); padding: 0 .25rem; border-radius: 3px; }
.m { display: inline-block; min-width: 3.2em; text-align: center; font: 600 11px ui-monospace, monospace; padding: .1rem .3rem; border-radius: 4px; color: #fff; background: #6b7280; }
.m-get { background: #2563eb; } .m-post { background: #059669; } .m-delete { background: #dc2626; }
.req { color: #c2410c; font-size: 11px; } .note { color: var(--muted); font-size: 12px; margin: .25rem 0; } .type { font-size: 13px; margin: .25rem 0; }
.status { font: 600 13px ui-monospace, monospace; width: 4em; } .s2 { color: #059669; } .s4 { color: #c2410c; } .s5 { color: #dc2626; }
a { color: var(--accent); }
</style></head>
<body>
<nav><p><b>${esc(info["title"])}</b> <span class="note">v${esc(info["version"])}</span></p><ul>${nav}<li><a href="#schemas"><b>schemas</b></a></li></ul>
<p class="note"><a href="/openapi.json">openapi.json</a> · <a href="/">dashboard</a></p></nav>
<main>
<h1>${esc(info["title"])} API</h1>
<p>${prose(info["description"])}</p>
${sections}
<h2 id="schemas">schemas</h2>
<p>Generated from the zod schemas the queue validates with.</p>
${schemas}
</main></body></html>`
}
