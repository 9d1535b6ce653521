import { httpStatusFor } from "@abathur/domain"
import { errorBody, UnexpectedTag } from "@abathur/queue"
import { HttpServerResponse } from "@effect/platform"
import { Data } from "effect"

/** No route matches the method and path. */
export class NotFound extends Data.TaggedError("NotFound")<{ readonly message: string }> {}

/** The request body is larger than the server accepts. */
export class PayloadTooLarge extends Data.TaggedError("PayloadTooLarge")<{
  readonly message: string
  readonly maxBytes: number
}> {}

/** The bearer token is missing or wrong. */
export class Unauthorized extends Data.TaggedError("Unauthorized")<{ readonly message: string }> {}

/**
 * A request from somewhere a server without a token does not answer: a Host that is not a
 * loopback name or address (DNS rebinding), or an Origin that is not the server's own.
 */
export class Forbidden extends Data.TaggedError("Forbidden")<{ readonly message: string }> {}

/** The path exists, not with this method. */
export class MethodNotAllowed extends Data.TaggedError("MethodNotAllowed")<{ readonly message: string }> {}

/** Statuses of the server's own tags; the contract's tags map through `httpStatusFor`. */
const ServerStatuses: Readonly<Record<string, number>> = {
  NotFound: 404,
  PayloadTooLarge: 413,
  Unauthorized: 401,
  Forbidden: 403,
  MethodNotAllowed: 405
}

export const statusOf = (tag: string): number => ServerStatuses[tag] ?? httpStatusFor(tag)

/**
 * The contract's error document as a response: `{"error": {"_tag", "message", ...details}}`, with
 * the tag's status unless another is given (415 is a ValidationError).
 */
export const errorResponse = (
  error: { readonly _tag: string; readonly message: string },
  headers: Readonly<Record<string, string>> = {},
  status: number = statusOf(error._tag)
): HttpServerResponse.HttpServerResponse => HttpServerResponse.unsafeJson(errorBody(error), { status, headers })

/** An unexpected failure (the contract's UnexpectedError, as the CLI and MCP say it), without internals. */
export const internalError = (message: string): HttpServerResponse.HttpServerResponse => errorResponse({ _tag: UnexpectedTag, message })
