import BetterSqlite3 from "better-sqlite3"
import { connect } from "node:net"

/** What came back on a raw connection. */
export interface RawReply {
  /** 0 when the server closed the connection without an answer. */
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly text: string
  /** The body parsed when the answer says it is JSON (else undefined). */
  readonly json: any
}

/** The request did not get an answer (nor a close) in time. */
export class Hang extends Error {}

const parseHead = (raw: Buffer, end: number): { status: number; headers: Record<string, string> } => {
  const head = raw.subarray(0, end).toString("latin1").split("\r\n")
  const headers: Record<string, string> = {}
  for (const line of head.slice(1)) {
    const colon = line.indexOf(":")
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
  }
  return { status: Number(head[0]!.split(" ")[1]), headers }
}

const reply = (status: number, headers: Record<string, string>, body: Buffer): RawReply => {
  const text = body.toString("utf8")
  let json: unknown
  if ((headers["content-type"] ?? "").includes("json") && text !== "") {
    try {
      json = JSON.parse(text)
    } catch {
      json = undefined
    }
  }
  return { status, headers, text, json }
}

/** A complete answer, or undefined while more is to come. */
const parseReply = (raw: Buffer): RawReply | undefined => {
  const end = raw.indexOf("\r\n\r\n")
  if (end < 0) return undefined
  const { status, headers } = parseHead(raw, end)
  let body = raw.subarray(end + 4)
  if (headers["transfer-encoding"] === "chunked") {
    const parts: Array<Buffer> = []
    let at = 0
    for (;;) {
      const eol = body.indexOf("\r\n", at)
      if (eol < 0) return undefined
      const size = parseInt(body.subarray(at, eol).toString("latin1"), 16)
      if (size === 0) break
      if (body.length < eol + 2 + size) return undefined
      parts.push(body.subarray(eol + 2, eol + 2 + size))
      at = eol + 2 + size + 2
    }
    body = Buffer.concat(parts)
  } else if (headers["content-length"] !== undefined) {
    const length = Number(headers["content-length"])
    if (body.length < length) return undefined
    body = body.subarray(0, length)
  } else if (status !== 204 && status !== 304) {
    return undefined // read until the connection closes
  }
  return reply(status, headers, body)
}

export interface RawOptions {
  /** Give up (reject with Hang) after this long; default 5 s. */
  readonly timeoutMs?: number
  /** Pieces written one after the other with a pause between them (a slow client). */
  readonly pauseMs?: number
}

/**
 * Sends exactly these bytes (or pieces of them) on a new connection and reads one answer: the
 * status, headers and body once complete, or status 0 when the server closes without one.
 */
export const rawRequest = (port: number, data: string | Buffer | ReadonlyArray<string | Buffer>, options: RawOptions = {}): Promise<RawReply> =>
  new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port })
    const chunks: Array<Buffer> = []
    let done = false
    const finish = (result: RawReply | Error) => {
      if (done) return
      done = true
      clearTimeout(timer)
      socket.destroy()
      if (result instanceof Error) reject(result)
      else resolve(result)
    }
    const timer = setTimeout(() => finish(new Hang(`no answer in ${options.timeoutMs ?? 5_000} ms`)), options.timeoutMs ?? 5_000)
    socket.on("data", (d: Buffer) => {
      chunks.push(d)
      const reply = parseReply(Buffer.concat(chunks))
      if (reply !== undefined) finish(reply)
    })
    const closed = () => {
      const all = Buffer.concat(chunks)
      const end = all.indexOf("\r\n\r\n")
      if (end < 0) return finish({ status: 0, headers: {}, text: all.toString("latin1"), json: undefined })
      // an answer ended by the close: what arrived of it
      const { status, headers } = parseHead(all, end)
      finish(parseReply(all) ?? reply(status, headers, all.subarray(end + 4)))
    }
    socket.on("end", closed)
    socket.on("close", closed)
    socket.on("error", () => {
      // ECONNRESET after the server answered and closed: what arrived is the answer
      closed()
    })
    const pieces = Array.isArray(data) ? (data as ReadonlyArray<string | Buffer>) : [data as string | Buffer]
    void (async () => {
      for (let i = 0; i < pieces.length && !done; i++) {
        if (i > 0 && options.pauseMs !== undefined) await new Promise((r) => setTimeout(r, options.pauseMs))
        if (!done && socket.writable) socket.write(pieces[i]!)
      }
    })()
  })

export interface RequestParts {
  readonly host?: string | null
  readonly headers?: Readonly<Record<string, string>>
  /** A string body (its Content-Length is added unless a header says otherwise). */
  readonly body?: string
}

/** A well-formed HTTP/1.1 request (Connection: close) with the given Host (default this server's). */
export const httpText = (port: number, method: string, path: string, parts: RequestParts = {}): string => {
  const lines = [`${method} ${path} HTTP/1.1`]
  const host = parts.host === undefined ? `127.0.0.1:${port}` : parts.host
  if (host !== null) lines.push(`Host: ${host}`)
  const headers = { connection: "close", ...parts.headers }
  const named = new Set(Object.keys(headers).map((k) => k.toLowerCase()))
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`)
  if (parts.body !== undefined && !named.has("content-length") && !named.has("transfer-encoding")) {
    lines.push(`Content-Length: ${Buffer.byteLength(parts.body)}`)
  }
  return `${lines.join("\r\n")}\r\n\r\n${parts.body ?? ""}`
}

/**
 * Every row of every table of a database file, as one JSON text (to compare before and after):
 * read through a connection of its own while the server has the file open.
 */
export const dumpDatabase = (filename: string): string => {
  const db = new BetterSqlite3(filename, { fileMustExist: true })
  try {
    const tables = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as Array<{
      name: string
    }>
    const out: Record<string, unknown> = {}
    for (const { name } of tables) out[name] = db.prepare(`SELECT * FROM "${name}" ORDER BY 1`).all()
    return JSON.stringify(out)
  } finally {
    db.close()
  }
}
