import BetterSqlite3 from "better-sqlite3"

/** What `PRAGMA quick_check` found, and how long it took. */
export interface QuickCheckReport {
  /** True when SQLite answered `ok`. */
  readonly ok: boolean
  /**
   * SQLite's findings, one line each, the b-tree named when SQLite's schema is still readable
   * (`Tree 2 (table tasks) page 35 cell 43: invalid page number 840988792`), at most about
   * `maxFindings`; empty when `ok`. A file SQLite cannot read at all gives its error here.
   */
  readonly findings: ReadonlyArray<string>
  readonly millis: number
}

/**
 * Runs `PRAGMA quick_check` on an open connection: the b-tree structure of every table and index
 * (pages, cells, free list, NOT NULL and CHECK), in time linear in the file, without the
 * index-against-table comparison of `integrity_check`. Never throws: an error reading the file
 * (e.g. "database disk image is malformed") is a finding.
 */
export const quickCheck = (db: BetterSqlite3.Database, maxFindings = 20): QuickCheckReport => {
  const started = performance.now()
  let findings: Array<string>
  try {
    const rows = db.pragma(`quick_check(${Math.max(1, Math.floor(maxFindings))})`) as Array<{ quick_check: string }>
    findings = rows.map((r) => r.quick_check)
  } catch (error) {
    findings = [(error as Error).message]
  }
  const ok = findings.length === 1 && findings[0] === "ok"
  return { ok, findings: ok ? [] : named(db, findings), millis: performance.now() - started }
}

/** One finding a line, without SQLite's `*** in database main ***` headings, trees named. */
const named = (db: BetterSqlite3.Database, findings: ReadonlyArray<string>): Array<string> => {
  const lines = findings.flatMap((f) => f.split("\n")).filter((l) => l.trim() !== "" && !l.startsWith("*** in database"))
  let trees: Map<number, string>
  try {
    const rows = db.prepare("SELECT type, name, rootpage FROM sqlite_schema WHERE rootpage > 0").all() as Array<{
      type: string
      name: string
      rootpage: number
    }>
    trees = new Map(rows.map((r) => [r.rootpage, `${r.type} ${r.name}`]))
  } catch {
    return lines
  }
  return lines.map((line) => {
    if (!line.startsWith("Tree ")) return line
    const end = line.indexOf(" ", 5)
    const what = trees.get(Number(line.slice(5, end)))
    return what === undefined || end < 0 ? line : `${line.slice(0, end)} (${what})${line.slice(end)}`
  })
}

/**
 * Opens an existing database file (never creating one, never migrating it) and runs
 * {@link quickCheck} on it. A file that cannot be opened as a database is a finding too.
 */
export const quickCheckFile = (filename: string, maxFindings = 20): QuickCheckReport => {
  const started = performance.now()
  let db: BetterSqlite3.Database
  try {
    db = new BetterSqlite3(filename, { fileMustExist: true })
  } catch (error) {
    return { ok: false, findings: [(error as Error).message], millis: performance.now() - started }
  }
  try {
    // Another process may hold the write lock (or be recovering the WAL): wait for it a while.
    db.pragma("busy_timeout = 5000")
    const report = quickCheck(db, maxFindings)
    return { ...report, millis: performance.now() - started }
  } finally {
    db.close()
  }
}
