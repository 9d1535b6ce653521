/** Talking to the server: the token (kept in the tab), requests, their failures. */
import { notice, showTokenForm } from "./Dom.js"
import { generationNow } from "./State.js"

export const TOKEN_KEY = "abathur-token"
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
export const token = (): string | null => sessionStorage.getItem(TOKEN_KEY)

export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly tag: string,
    message: string
  ) {
    super(message)
  }
}

export const api = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
  const mine = generationNow()
  const answer = await request<T>(method, path, body)
  // The view that asked is gone: its callbacks never run (they would write into a page that left).
  return mine === generationNow() ? answer : new Promise<T>(() => {})
}

export const request = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
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

export const fail = (e: unknown) => notice(e instanceof ApiFailure ? `${e.tag}: ${e.message}` : e instanceof Error ? e.message : String(e))
