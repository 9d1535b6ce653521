/**
 * The statement layer every group of the task repository shares: one cache of prepared
 * statements per repository, and the few ways of running them (rows, one row, first column,
 * long IN lists in chunks, many rows per INSERT).
 */
import type { TaskStatus } from "@abathur/domain"
import type BetterSqlite3 from "better-sqlite3"

/** The open statuses as an SQL list. */
export const OPEN = "('pending', 'blocked', 'ready', 'running')"

/** A status as an SQL literal, from the closed set of statuses (never text from outside). */
const STATUS_LITERALS: Readonly<Record<TaskStatus, string>> = {
  pending: "'pending'",
  blocked: "'blocked'",
  ready: "'ready'",
  running: "'running'",
  completed: "'completed'",
  failed: "'failed'",
  cancelled: "'cancelled'"
}
export const statusLiteral = (status: TaskStatus): string => {
  const literal = Object.hasOwn(STATUS_LITERALS, status) ? STATUS_LITERALS[status] : undefined
  if (literal === undefined) throw new TypeError(`not a task status: ${JSON.stringify(status)}`)
  return literal
}

/** SQLite allows 32766 bound parameters; stay well below for IN lists. */
const CHUNK = 500

export const chunks = <A>(items: ReadonlyArray<A>): Array<ReadonlyArray<A>> => {
  const out: Array<ReadonlyArray<A>> = []
  for (let i = 0; i < items.length; i += CHUNK) out.push(items.slice(i, i + CHUNK))
  return out
}

export const placeholders = (n: number) => Array.from({ length: n }, () => "?").join(", ")

/** Runs a query with a long IN list in chunks and concatenates the results. */
export const inChunks = <R>(ids: ReadonlyArray<string>, sql: (ph: string) => string, run: (sql: string, ids: ReadonlyArray<string>) => Array<R>) => {
  const out: Array<R> = []
  for (const part of chunks(ids)) out.push(...run(sql(placeholders(part.length)), part))
  return out
}

/** `rows` groups of `columns` placeholders, for a VALUES list. */
export const rowsOf = (columns: number, rows: number) => {
  const one = `(${placeholders(columns)})`
  return Array.from({ length: rows }, () => one).join(", ")
}

/** The statement cache of one repository over `db`. Statements are prepared once and reused. */
export const makeSql = (db: BetterSqlite3.Database) => {
  const cache = new Map<string, BetterSqlite3.Statement>()
  const stmt = (sql: string): BetterSqlite3.Statement => {
    let s = cache.get(sql)
    if (s === undefined) {
      s = db.prepare(sql)
      cache.set(sql, s)
    }
    return s
  }
  // Statements whose rows come back as arrays of column values (raw mode), cached apart.
  const rawCache = new Map<string, BetterSqlite3.Statement>()
  const rawStmt = (sql: string): BetterSqlite3.Statement => {
    let s = rawCache.get(sql)
    if (s === undefined) {
      s = db.prepare(sql).raw(true)
      rawCache.set(sql, s)
    }
    return s
  }
  /** The first row's column values, in the order selected; undefined when there is none. */
  const values = (sql: string, ...params: ReadonlyArray<unknown>) => rawStmt(sql).get(...params) as Array<unknown> | undefined
  /** Every row's column values, in the order selected. */
  const valuesAll = (sql: string, ...params: ReadonlyArray<unknown>) => rawStmt(sql).all(...params) as Array<Array<unknown>>
  const all = <R>(sql: string, ...params: ReadonlyArray<unknown>) => stmt(sql).all(...params) as Array<R>
  const get = <R>(sql: string, ...params: ReadonlyArray<unknown>) => stmt(sql).get(...params) as R | undefined
  /** The first column of every row. */
  const pluck = (sql: string, ...params: ReadonlyArray<unknown>) => (rawStmt(sql).all(...params) as Array<Array<string>>).map((r) => r[0]!)

  /**
   * A set-based INSERT (a plan): many rows per statement, in blocks of 64, 32, ..., 1 rows, so
   * that at most seven statements are prepared. Each block size's statement is prepared once (for
   * the life of the repository, not looked up by its text per block) and bound with one array.
   */
  const insertMany = <A>(sqlFor: (rows: number) => string, values: (item: A, into: Array<unknown>) => void) => {
    const byBlock: Array<BetterSqlite3.Statement | undefined> = []
    return (items: ReadonlyArray<A>): void => {
      let i = 0
      for (let block = 64; block >= 1; block >>= 1) {
        if (items.length - i < block) continue
        const s = (byBlock[block] ??= stmt(sqlFor(block)))
        while (items.length - i >= block) {
          const params: Array<unknown> = []
          for (let k = i; k < i + block; k++) values(items[k]!, params)
          s.run(params)
          i += block
        }
      }
    }
  }

  return { stmt, all, get, pluck, values, valuesAll, insertMany }
}

/** The statement layer of one repository. */
export type Sql = ReturnType<typeof makeSql>
