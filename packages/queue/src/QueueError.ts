import type { LimitKind } from "@abathur/domain"
import { Data } from "effect"

/** Bad input: a value out of range, a bad id, malformed JSON, an empty prompt. */
export class ValidationError extends Data.TaggedError("ValidationError")<{
  readonly message: string
  /** An ambiguous id prefix: the tasks it matches. */
  readonly candidates?: ReadonlyArray<{ readonly id: string; readonly summary: string }>
}> {}

/** A named task (or prerequisite, or parent) does not exist. */
export class TaskNotFound extends Data.TaggedError("TaskNotFound")<{
  readonly message: string
  readonly taskId: string
}> {}

/** The change would close a cycle; `cycle` lists ids along "depends on", first repeated at the end. */
export class DependencyCycle extends Data.TaggedError("DependencyCycle")<{
  readonly message: string
  readonly cycle: ReadonlyArray<string>
}> {}

/** Prerequisites, depth or subtasks over the configured limit. */
export class LimitExceeded extends Data.TaggedError("LimitExceeded")<{
  readonly message: string
  readonly limit: LimitKind
  readonly max: number
  readonly actual: number
}> {}

/** The task's state does not allow the operation. */
export class InvalidTransition extends Data.TaggedError("InvalidTransition")<{
  readonly message: string
  readonly taskId: string
  readonly status: string
}> {}

/** The task is RUNNING under another lease token (it was reclaimed). */
export class LeaseMismatch extends Data.TaggedError("LeaseMismatch")<{
  readonly message: string
  readonly taskId: string
}> {}

/** An idempotency key reused with different submit fields; `taskId` is the task the key names. */
export class IdempotencyConflict extends Data.TaggedError("IdempotencyConflict")<{
  readonly message: string
  readonly taskId: string
}> {}

export type QueueError =
  | ValidationError
  | TaskNotFound
  | DependencyCycle
  | LimitExceeded
  | InvalidTransition
  | LeaseMismatch
  | IdempotencyConflict

export const isQueueError = (u: unknown): u is QueueError =>
  u instanceof ValidationError ||
  u instanceof TaskNotFound ||
  u instanceof DependencyCycle ||
  u instanceof LimitExceeded ||
  u instanceof InvalidTransition ||
  u instanceof LeaseMismatch ||
  u instanceof IdempotencyConflict

/** The contract's error document for a tagged error: `{"error": {"_tag", "message", ...details}}`. */
export const errorBody = (error: { readonly _tag: string; readonly message: string }): { error: Record<string, unknown> } => {
  const details: Record<string, unknown> = { _tag: error._tag, message: error.message }
  for (const [k, v] of Object.entries(error)) {
    if (k !== "_tag" && k !== "message" && k !== "stack" && k !== "name" && k !== "cause" && v !== undefined) details[k] = v
  }
  return { error: details }
}
