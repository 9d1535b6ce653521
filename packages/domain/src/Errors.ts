import * as z from "zod"

/**
 * The error tags of the outside contract, with their CLI exit codes and HTTP statuses.
 * Every surface reports failures as `{"error": {"_tag", "message", ...details}}`.
 */
export const ErrorTags = {
  ValidationError: { exitCode: 2, httpStatus: 400 },
  TaskNotFound: { exitCode: 3, httpStatus: 404 },
  DependencyCycle: { exitCode: 4, httpStatus: 409 },
  LimitExceeded: { exitCode: 4, httpStatus: 409 },
  InvalidTransition: { exitCode: 4, httpStatus: 409 },
  LeaseMismatch: { exitCode: 4, httpStatus: 409 },
  IdempotencyConflict: { exitCode: 4, httpStatus: 409 },
  MigrationError: { exitCode: 5, httpStatus: 500 },
  Unauthorized: { exitCode: 1, httpStatus: 401 }
} as const
export type ErrorTag = keyof typeof ErrorTags

const known = (tag: string): tag is ErrorTag => Object.hasOwn(ErrorTags, tag)

/** The CLI exit code for an error tag (1 for anything unexpected). */
export const exitCodeFor = (tag: string): number => (known(tag) ? ErrorTags[tag].exitCode : 1)

/** The HTTP status for an error tag (500 for anything unexpected). */
export const httpStatusFor = (tag: string): number => (known(tag) ? ErrorTags[tag].httpStatus : 500)

/** The JSON error document of every surface. */
export const ErrorBody = z.object({
  error: z.looseObject({ _tag: z.string(), message: z.string() })
})
export type ErrorBody = z.output<typeof ErrorBody>

/** The kinds of limits the engine enforces. */
export const LimitKind = z.enum(["dependencies", "depth", "subtasks"])
export type LimitKind = z.output<typeof LimitKind>

/** Formats zod issues as one line a person can act on. */
export const formatIssues = (error: z.ZodError): string =>
  error.issues.map((issue) => (issue.path.length > 0 ? `${issue.path.join(".")}: ${issue.message}` : issue.message)).join("; ")
