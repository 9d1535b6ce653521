/**
 * Which store a `--db` / `ABATHUR_DB` string names (CONTRACT, "Storage"), with no import of the
 * driver: apps import this module (`@abathur/postgres/url`) on every start, and load the store
 * itself (and `pg`) only when the string is a PostgreSQL URL.
 */

/** A `postgres://` or `postgresql://` URL: what selects this store (anything else is an SQLite path). */
export const isPostgresUrl = (db: string): boolean => /^postgres(ql)?:\/\//i.test(db.trim())

/** The URL with its password hidden, for messages and logs (the string itself when it is no URL). */
export const redactUrl = (db: string): string => {
  try {
    const url = new URL(db.trim())
    if (url.password !== "") url.password = "***"
    return url.toString()
  } catch {
    return db.replace(/\/\/([^:@/]*):[^@/]*@/, "//$1:***@")
  }
}

/**
 * What is wrong with a PostgreSQL URL (null when it is well formed): it must parse as a URL (a
 * port out of range does not) and name a host. Says nothing about whether the server answers.
 */
export const postgresUrlProblem = (db: string): string | null => {
  let url: URL
  try {
    url = new URL(db.trim())
  } catch {
    return `${JSON.stringify(redactUrl(db))} is not a valid URL: use postgres://USER:PASSWORD@HOST:PORT/DATABASE`
  }
  if (url.hostname === "" && !url.searchParams.has("host")) {
    return `${JSON.stringify(redactUrl(db))} names no host: use postgres://USER:PASSWORD@HOST:PORT/DATABASE`
  }
  return null
}
