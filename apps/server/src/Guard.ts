import { isIPv6 } from "node:net"

// Checks of the request line's surroundings that run before any route: the Host header (DNS
// rebinding), the Origin header (cross-site requests) and the body's media type (CSRF through a
// form or a `text/plain` fetch). They run on every request, so they are plain string work without
// regular expressions; the usual Host and Content-Type are answered by one comparison each, without
// parsing or allocating (about 30-70 ns for both on a busy 2-core machine).

/** What the Host header says: this server on loopback, another name, or nothing parseable. */
export type HostVerdict = "loopback" | "foreign" | "malformed"

const isDigit = (c: number) => c >= 48 && c <= 57

/** The port part after a colon: 1 to 5 digits, at most 65535; -1 when malformed. */
const portOf = (s: string, from: number): number => {
  const n = s.length - from
  if (n < 1 || n > 5) return -1
  let port = 0
  for (let i = from; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (!isDigit(c)) return -1
    port = port * 10 + (c - 48)
  }
  return port <= 65535 ? port : -1
}

/** A registered name or IPv4 address: letters, digits, `-`, `.`, `_` (RFC 3986 reg-name without escapes). */
const isName = (s: string, end: number): boolean => {
  if (end === 0) return false
  for (let i = 0; i < end; i++) {
    const c = s.charCodeAt(i)
    const letter = (c >= 65 && c <= 90) || (c >= 97 && c <= 122)
    if (!((letter || isDigit(c) || c === 0x2d /* - */ || c === 0x2e /* . */ || c === 0x5f) /* _ */)) return false
  }
  return true
}

/** A dotted IPv4 address 127.x.y.z (four decimal octets, the first 127). */
const isLoopbackIPv4 = (s: string): boolean => {
  if (!s.startsWith("127.")) return false
  let octets = 0
  let digits = 0
  let value = 0
  for (let i = 0; i <= s.length; i++) {
    const c = i === s.length ? 0x2e : s.charCodeAt(i)
    if (c === 0x2e) {
      if (digits === 0 || value > 255) return false
      octets++
      digits = 0
      value = 0
    } else if (isDigit(c) && digits < 3) {
      digits++
      value = value * 10 + (c - 48)
    } else return false
  }
  return octets === 4
}

/** `::1` in any spelling, or an IPv4-mapped 127.x.y.z (`::ffff:127.0.0.1`). Not on the common path. */
const isLoopbackIPv6 = (s: string): boolean => {
  let canonical: string
  try {
    canonical = new URL(`http://[${s}]/`).hostname.slice(1, -1) // "::1", "::ffff:7f00:1"
  } catch {
    return false
  }
  if (canonical === "::1") return true
  if (!canonical.startsWith("::ffff:")) return false
  const high = canonical.slice(7, canonical.indexOf(":", 7))
  return high.length === 4 && high.startsWith("7f")
}

/**
 * Reads a Host header (or the part of an Origin after `http://`): `loopback` when it names this
 * machine by a loopback name or address (`localhost` and `*.localhost`, 127.0.0.0/8, `[::1]`) with
 * the server's port or none; `foreign` for any other well-formed host; `malformed` when it is not
 * a host at all (empty, a port over 65535, an unclosed `[`, spaces, ...).
 */
export const hostVerdict = (host: string, serverPort: number): HostVerdict => {
  let name: string
  let port: number
  if (host.charCodeAt(0) === 0x5b /* [ */) {
    const close = host.indexOf("]")
    if (close < 0) return "malformed"
    name = host.slice(1, close)
    if (!isIPv6(name)) return "malformed"
    if (close === host.length - 1) port = -2
    else if (host.charCodeAt(close + 1) === 0x3a /* : */) port = portOf(host, close + 2)
    else return "malformed"
    if (port === -1) return "malformed"
    return (port === -2 || port === serverPort) && isLoopbackIPv6(name) ? "loopback" : "foreign"
  }
  const colon = host.indexOf(":")
  if (colon >= 0 && host.indexOf(":", colon + 1) >= 0) return "malformed" // an IPv6 address without brackets
  const end = colon < 0 ? host.length : colon
  if (!isName(host, end)) return "malformed"
  port = colon < 0 ? -2 : portOf(host, colon + 1)
  if (port === -1) return "malformed"
  if (port !== -2 && port !== serverPort) return "foreign"
  name = (colon < 0 ? host : host.slice(0, colon)).toLowerCase()
  if (name.endsWith(".")) name = name.slice(0, -1)
  return name === "localhost" || name.endsWith(".localhost") || isLoopbackIPv4(name) ? "loopback" : "foreign"
}

/** The usual spellings of this server's own host, compared first (no parsing on the common path). */
export interface OwnHosts {
  readonly port: number
  readonly usual: ReadonlySet<string>
}

export const ownHosts = (port: number): OwnHosts => ({
  port,
  usual: new Set([`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`])
})

/** The Host header's verdict, with the usual spellings answered at once. */
export const checkHost = (host: string, own: OwnHosts): HostVerdict => (own.usual.has(host) ? "loopback" : hostVerdict(host, own.port))

/**
 * True when an Origin header names this server: `http://` and a loopback host at the server's
 * port (the dashboard's own requests), whatever loopback name the page was opened with.
 */
export const ownOrigin = (origin: string, host: string | undefined, own: OwnHosts): boolean => {
  if (!origin.startsWith("http://")) return false
  const rest = origin.slice(7)
  if (rest === host || own.usual.has(rest)) return true
  return hostVerdict(rest, own.port) === "loopback"
}

/**
 * True when a Content-Type names JSON: `application/json` (any case, parameters such as
 * `; charset=utf-8` allowed) or a `+json` type such as `application/merge-patch+json`.
 */
export const isJsonMediaType = (contentType: string): boolean => {
  if (contentType === "application/json") return true // the usual spelling: no copy
  const semi = contentType.indexOf(";")
  const type = (semi < 0 ? contentType : contentType.slice(0, semi)).trim().toLowerCase()
  return type === "application/json" || (type.startsWith("application/") && type.endsWith("+json"))
}
