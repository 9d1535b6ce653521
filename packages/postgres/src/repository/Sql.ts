/**
 * What every group of the PostgreSQL task repository shares: the connection, the statement helpers,
 * the row mapping and the classification of constraint errors.
 */
import { ConstraintViolation, rowToTask, type StoredTask, TASK_COLUMNS, type TaskRow } from "@abathur/storage"
import type { QueryConfig, QueryResult } from "pg"
import type { Queryable, Step } from "../Step.js"

export const OPEN = "('pending', 'blocked', 'ready', 'running')"

/** A `tasks` row as node-postgres returns it (booleans where SQLite has 0/1, plus `seq`). */
export type PgTaskRow = Omit<TaskRow, "priority_starved" | "ancestor_gated"> & {
  readonly priority_starved: boolean
  readonly ancestor_gated: boolean
}

/**
 * The columns of a `tasks` row as this code reads it, by name, never `*`: a prepared statement
 * keeps its result columns when another process (a newer version) adds a column to `tasks`, where
 * PostgreSQL would refuse a cached `SELECT *` plan ("cached plan must not change result type").
 */
export const TASK_ROW = TASK_COLUMNS.join(", ")

/** Maps a `tasks` row to the model, through the SQLite mapper (one mapping for both stores). */
export const pgRowToTask = (row: PgTaskRow): StoredTask =>
  rowToTask({ ...row, priority_starved: row.priority_starved ? 1 : 0, ancestor_gated: row.ancestor_gated ? 1 : 0 })

/** Classifies a PostgreSQL constraint error as the SQLite repository does, or returns null. */
export const classifyPgConstraint = (error: unknown): ConstraintViolation | null => {
  if (!(error instanceof Error)) return null
  const { code, constraint } = error as { code?: unknown; constraint?: unknown }
  const kind =
    code === "23503"
      ? "missing-task"
      : code === "23505"
        ? constraint === "task_dependencies_pair"
          ? "duplicate-dependency"
          : "duplicate-task"
        : code === "23514"
          ? constraint === "task_dependencies_not_self"
            ? "self-dependency"
            : "check"
          : null
  return kind === null ? null : new ConstraintViolation({ kind, message: error.message })
}

/** The name of each statement text prepared so far (the same on every connection of the process). */
const statementNames = new Map<string, string>()

/**
 * A statement with parameters as a named prepared statement: each connection parses and analyses
 * its text once, then only binds and runs it (node-postgres prepares a name on first use per
 * connection). The texts are the repository's own, a bounded set (parameters, never values, vary).
 */
const prepared = (text: string, params: ReadonlyArray<unknown>): QueryConfig<Array<unknown>> | string => {
  if (params.length === 0) return text
  let name = statementNames.get(text)
  if (name === undefined) {
    name = `abathur_${statementNames.size + 1}`
    statementNames.set(text, name)
  }
  return { name, text, values: params as Array<unknown> }
}

/** The connection and the statement helpers every group runs its SQL with. */
export class PgSql {
  constructor(readonly client: Queryable) {}

  /**
   * The rows the last statement read and locked (`FOR UPDATE`), by id, for the step right after it
   * (`takeLocked`): a claim loads the head it chose without a second round trip. Any statement
   * clears them, so a row is only ever taken before anything could change it.
   */
  private locked: ReadonlyMap<string, PgTaskRow> | null = null

  protected keepLocked(rows: ReadonlyArray<PgTaskRow>): void {
    this.locked = new Map(rows.map((r) => [r.id, r]))
  }

  protected takeLocked(id: string): PgTaskRow | undefined {
    const row = this.locked?.get(id)
    this.locked = null
    return row
  }

  private query(sql: string, params: ReadonlyArray<unknown>): Promise<QueryResult> {
    const q = prepared(sql, params)
    return typeof q === "string" ? this.client.query(q) : this.client.query(q)
  }

  /** The rows of one statement. */
  *rows<R>(sql: string, params: ReadonlyArray<unknown> = []): Step<Array<R>> {
    this.locked = null
    const res = (yield this.query(sql, params)) as QueryResult
    return res.rows as Array<R>
  }

  *one<R>(sql: string, params: ReadonlyArray<unknown> = []): Step<R | undefined> {
    return (yield* this.rows<R>(sql, params))[0]
  }

  *run(sql: string, params: ReadonlyArray<unknown> = []): Step<number> {
    this.locked = null
    const res = (yield this.query(sql, params)) as QueryResult
    return res.rowCount ?? 0
  }

  /** A statement whose constraint errors become ConstraintViolation. */
  *guarded(sql: string, params: ReadonlyArray<unknown>): Step<void> {
    this.locked = null
    try {
      yield this.query(sql, params)
    } catch (error) {
      throw classifyPgConstraint(error) ?? error
    }
  }

  *ids(sql: string, params: ReadonlyArray<unknown> = []): Step<Array<string>> {
    return (yield* this.rows<{ id: string }>(sql, params)).map((r) => r.id)
  }
}
