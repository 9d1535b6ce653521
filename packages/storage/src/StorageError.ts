import { Data } from "effect"

/**
 * The database could not be migrated: it is newer than this code (`too-new`), or a migration
 * failed and was rolled back (`failed`). The database is unchanged either way.
 */
export class MigrationError extends Data.TaggedError("MigrationError")<{
  readonly reason: "too-new" | "failed"
  readonly message: string
  readonly fromVersion?: number
  readonly toVersion?: number
  readonly backup?: string | null
}> {}

/** The database file could not be opened (missing folder rights, not a database, ...). */
export class DatabaseOpenError extends Data.TaggedError("DatabaseOpenError")<{
  readonly filename: string
  readonly message: string
}> {}

/** What a rejected row broke. */
export type ConstraintKind = "duplicate-dependency" | "self-dependency" | "missing-task" | "duplicate-task" | "check"

/** A row was rejected by a UNIQUE, CHECK or FOREIGN KEY constraint. */
export class ConstraintViolation extends Data.TaggedError("ConstraintViolation")<{
  readonly kind: ConstraintKind
  readonly message: string
}> {}

/** Classifies a better-sqlite3 constraint error, or returns null for any other error. */
export const classifyConstraint = (error: unknown): ConstraintViolation | null => {
  if (!(error instanceof Error)) return null
  const code = (error as { code?: unknown }).code
  if (typeof code !== "string" || !code.startsWith("SQLITE_CONSTRAINT")) return null
  const m = error.message
  const kind: ConstraintKind =
    code === "SQLITE_CONSTRAINT_FOREIGNKEY"
      ? "missing-task"
      : m.includes("task_dependencies.dependent_task_id, task_dependencies.prerequisite_task_id")
        ? "duplicate-dependency"
        : m.includes("dependent_task_id != prerequisite_task_id")
          ? "self-dependency"
          : code === "SQLITE_CONSTRAINT_PRIMARYKEY" || code === "SQLITE_CONSTRAINT_UNIQUE"
            ? "duplicate-task"
            : "check"
  return new ConstraintViolation({ kind, message: m })
}
