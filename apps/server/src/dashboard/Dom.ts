/** Building the page: elements (only ever with textContent), formats of times, notices, the token form. */
import { generationNow } from "./State.js"

export type Child = Node | string | null | undefined | false
export const h = <K extends keyof HTMLElementTagNameMap>(
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

export const SVG = "http://www.w3.org/2000/svg"
export const s = (tag: string, attrs: Record<string, string | number> = {}, text?: string): SVGElement => {
  const e = document.createElementNS(SVG, tag)
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v))
  if (text !== undefined) e.textContent = text
  return e
}

export const $ = (id: string): HTMLElement => document.getElementById(id)!

export const pill = (status: string) => h("span", { class: `pill s-${status}`, "data-status": status, text: status })
export const shortId = (id: string) => id.slice(0, 8)
export const taskLink = (id: string, text?: string) => h("a", { href: `#/task/${id}`, "data-task-link": id, text: text ?? shortId(id) })

export const duration = (seconds: number): string => {
  const s = Math.max(0, Math.round(seconds))
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`
}
export const ago = (iso: string | null | undefined): string => (iso ? `${duration((Date.now() - Date.parse(iso)) / 1000)} ago` : "–")
export const when = (iso: string | null | undefined): string => {
  if (!iso) return "–"
  const d = new Date(iso)
  return `${d.toLocaleString(undefined, { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit" })}`
}
export const leaseLeft = (iso: string | null | undefined): string => {
  if (!iso) return "–"
  const left = (Date.parse(iso) - Date.now()) / 1000
  return left >= 0 ? duration(left) : `expired ${duration(-left)} ago`
}

export const notice = (message: string, kind: "error" | "ok" = "error") => {
  const n = $("notice")
  n.textContent = message
  n.className = `notice ${kind}`
  n.hidden = message === ""
  if (kind === "ok" && message !== "")
    setTimeout(() => {
      if (n.textContent === message) n.hidden = true
    }, 4000)
}

/** Calls `f` at most once per `ms` (trailing). */
export const debounce = (f: () => void, ms: number) => {
  let timer: ReturnType<typeof setTimeout> | null = null
  const mine = generationNow()
  return () => {
    if (timer !== null) return
    timer = setTimeout(() => {
      timer = null
      if (mine === generationNow()) f()
    }, ms)
  }
}

export function showTokenForm(needed: boolean) {
  const f = $("token-form")
  f.hidden = false
  $("token-hint").textContent = needed
    ? "This server needs its token (ABATHUR_TOKEN): it is kept in this tab only."
    : "The bearer token, kept in this tab only."
  if (needed) ($("token-input") as HTMLInputElement).focus()
}
