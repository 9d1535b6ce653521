import type { LimitKind } from "@abathur/domain"
import { Cause, Data, Option } from "effect"

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

export type QueueError = ValidationError | TaskNotFound | DependencyCycle | LimitExceeded | InvalidTransition | LeaseMismatch | IdempotencyConflict

export const isQueueError = (u: unknown): u is QueueError =>
  u instanceof ValidationError ||
  u instanceof TaskNotFound ||
  u instanceof DependencyCycle ||
  u instanceof LimitExceeded ||
  u instanceof InvalidTransition ||
  u instanceof LeaseMismatch ||
  u instanceof IdempotencyConflict

/** The contract's error document: `{"error": {"_tag", "message", ...details}}`. */
export interface ErrorDocument {
  readonly error: Record<string, unknown>
}

/**
 * The tag of a failure that is none of the contract's errors (CONTRACT "any other": CLI exit 1,
 * HTTP 500). Every face answers it alike.
 */
export const UnexpectedTag = "UnexpectedError"

/**
 * What a face adds to the message of a tag: the CLI names its commands ("check the id with
 * `abathur list`"), MCP its tools; HTTP adds nothing. The queue's own messages carry no advice.
 */
export type FaceHints = Readonly<Partial<Record<string, string>>>

/** The contract's error document for a tagged error: `{"error": {"_tag", "message", ...details}}`. */
export const errorBody = (error: { readonly _tag: string; readonly message: string }, hints: FaceHints = {}): ErrorDocument => {
  const hint = hints[error._tag]
  const details: Record<string, unknown> = { _tag: error._tag, message: hint === undefined ? error.message : `${error.message}: ${hint}` }
  for (const [k, v] of Object.entries(error)) {
    if (k !== "_tag" && k !== "message" && k !== "stack" && k !== "name" && k !== "cause" && v !== undefined) details[k] = v
  }
  return { error: details }
}

const isTagged = (u: unknown): u is { readonly _tag: string; readonly message?: unknown } =>
  typeof u === "object" && u !== null && "_tag" in u && typeof u._tag === "string"

/**
 * The error document of whatever an operation failed with, the same on every face: a tagged error
 * (the queue's, the migrator's, a face's own) with its details, anything else UnexpectedError with
 * its message.
 */
export const toErrorBody = (error: unknown, hints: FaceHints = {}): ErrorDocument => {
  if (isTagged(error)) {
    const message = typeof error.message === "string" && error.message !== "" ? error.message : error._tag
    return errorBody({ ...(error as object), _tag: error._tag, message }, hints)
  }
  return errorBody({ _tag: UnexpectedTag, message: error instanceof Error ? error.message : String(error) }, hints)
}

/**
 * The error document of an Effect's failure cause: its failure as `toErrorBody` says; a defect
 * (a bug) or an interruption as UnexpectedError saying so.
 */
export const causeErrorBody = (cause: Cause.Cause<unknown>, hints: FaceHints = {}): ErrorDocument => {
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) return toErrorBody(failure.value, hints)
  if (Cause.isInterruptedOnly(cause)) return errorBody({ _tag: UnexpectedTag, message: "the operation was interrupted" }, hints)
  const defect = Cause.squash(cause)
  return toErrorBody(
    defect instanceof Error
      ? new Error(`unexpected failure: ${defect.message}`)
      : new Error(Cause.pretty(cause).split("\n", 1)[0] ?? "unexpected failure"),
    hints
  )
}
