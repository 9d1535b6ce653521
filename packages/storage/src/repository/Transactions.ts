/**
 * Transactions and the write lock: `transaction` takes SQLite's write lock with its own short
 * back-off (not SQLite's busy handler), `read` gives one snapshot.
 */
import type BetterSqlite3 from "better-sqlite3"

export const makeTransactions = (db: BetterSqlite3.Database) => {
  // One transaction function for every call: better-sqlite3 builds its wrappers per
  // `db.transaction(f)`, so wrapping each operation's closure anew costs on every call.
  const runner = db.transaction((f: () => unknown) => f())

  // Taking the write lock. SQLite's own busy handler sleeps 1, 2, 5, 10, ... ms between tries,
  // so processes sharing a file idle while the lock is already free (4 workers on one file
  // managed ~300 claims/s that way). Instead, try with no wait and back off from 50 µs, up to
  // the connection's busy timeout. The connection itself stays at busy_timeout 0 from here on
  // (this repository waits), so that a transaction costs BEGIN and COMMIT only, not two
  // PRAGMA statements around each lock as well.
  const busyTimeoutMs = Number(db.pragma("busy_timeout", { simple: true })) || 0
  db.pragma("busy_timeout = 0")
  const begin = db.prepare("BEGIN IMMEDIATE")
  const commit = db.prepare("COMMIT")
  const rollback = db.prepare("ROLLBACK")
  const sleeper = new Int32Array(new SharedArrayBuffer(4))
  /** Runs `f`, again after a short pause while SQLite answers busy, up to the busy timeout. */
  const patiently = <A>(f: () => A): A => {
    let pause = 0.05
    const deadline = Date.now() + busyTimeoutMs
    for (;;) {
      try {
        return f()
      } catch (error) {
        const code = (error as { code?: unknown }).code
        if (typeof code !== "string" || !code.startsWith("SQLITE_BUSY") || Date.now() >= deadline) throw error
        Atomics.wait(sleeper, 0, 0, pause * (0.5 + Math.random()))
        pause = Math.min(pause * 2, 2)
      }
    }
  }
  const lock = () => patiently(() => begin.run())

  return {
    /** Runs `f` in one `BEGIN IMMEDIATE` transaction (a savepoint when nested); rolls back on throw. */
    transaction: <A>(f: () => A): A => {
      if (db.inTransaction) return runner(f) as A
      lock()
      try {
        const result = f()
        commit.run()
        return result
      } catch (error) {
        if (db.inTransaction) rollback.run()
        throw error
      }
    },

    /** Runs `f` in a read transaction, so that its reads see one snapshot. */
    read: <A>(f: () => A): A => (db.inTransaction ? f() : patiently(() => runner.deferred(f) as A))
  }
}
