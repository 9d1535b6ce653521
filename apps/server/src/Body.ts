import { ValidationError } from "@abathur/queue"
import { HttpServerRequest } from "@effect/platform"
import { NodeHttpServerRequest } from "@effect/platform-node"
import { Effect } from "effect"
import type { IncomingMessage } from "node:http"
import { PayloadTooLarge } from "./ApiError.js"

/** The largest request body the server reads: 1 MiB. */
export const MAX_BODY_BYTES = 1024 * 1024

/**
 * The deepest nesting of arrays and objects the server parses in a body. Parsing is iterative, but
 * validating and printing JSON recurse, and a few thousand levels overflow the stack; 256 leaves room
 * for plans nested deep and JSON values at their contract's 64 levels.
 */
export const MAX_BODY_DEPTH = 256

/**
 * True when a JSON text nests arrays and objects deeper than `limit`: one pass over the characters,
 * no recursion, no allocation (brackets inside strings do not count). Texts too short to be that deep
 * are not scanned.
 */
export const nestedDeeperThan = (text: string, limit: number): boolean => {
  if (text.length <= limit) return false
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c /* \ */) i++
      else if (c === 0x22 /* " */) inString = false
    } else if (c === 0x22) inString = true
    else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      if (++depth > limit) return true
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) depth--
  }
  return false
}

/** A request ended before its body arrived (the client went away). */
export class BodyAborted extends Error {}

const tooLarge = () =>
  new PayloadTooLarge({
    message: `the request body is larger than ${MAX_BODY_BYTES} bytes (1 MiB): split the work into smaller requests`,
    maxBytes: MAX_BODY_BYTES
  })

/**
 * Reads the raw body of a Node request, refusing more than `MAX_BODY_BYTES`. A body declared too
 * large by its Content-Length is refused before it is read; Node then discards the rest after the
 * answer, so the client sees the 413 and the connection stays usable.
 */
export const readTextFrom = (source: IncomingMessage): Effect.Effect<string, PayloadTooLarge> => {
  const declared = Number(source.headers["content-length"])
  if (Number.isFinite(declared) && declared > MAX_BODY_BYTES) return Effect.fail(tooLarge())
  if (source.readableEnded) return Effect.succeed("")
  return Effect.async<string, PayloadTooLarge>((resume) => {
    const chunks: Array<Buffer> = []
    let size = 0
    const cleanup = () => {
      source.off("data", onData)
      source.off("end", onEnd)
      source.off("error", onError)
      source.off("aborted", onError)
      source.off("close", onClose)
    }
    const onData = (chunk: Buffer) => {
      size += chunk.length
      if (size > MAX_BODY_BYTES) {
        cleanup()
        source.resume() // discard the rest
        resume(Effect.fail(tooLarge()))
      } else chunks.push(chunk)
    }
    const onEnd = () => {
      cleanup()
      resume(Effect.succeed(Buffer.concat(chunks).toString("utf8")))
    }
    const onError = () => {
      cleanup()
      resume(Effect.die(new BodyAborted("the request was aborted while its body was read")))
    }
    // closed before its end: the connection went away (or was closed by a shutdown)
    const onClose = () => {
      if (!source.readableEnded) onError()
    }
    source.on("data", onData)
    source.on("end", onEnd)
    source.on("error", onError)
    source.on("aborted", onError)
    source.on("close", onClose)
    return Effect.sync(cleanup)
  })
}

/** The raw body of the request being handled (see `readTextFrom`). */
export const readText: Effect.Effect<string, PayloadTooLarge, HttpServerRequest.HttpServerRequest> = Effect.flatMap(
  HttpServerRequest.HttpServerRequest,
  (request) => readTextFrom(NodeHttpServerRequest.toIncomingMessage(request))
)

/**
 * A body's JSON. An empty body is `undefined` (the route decides whether that is allowed);
 * malformed JSON, or JSON nested deeper than `MAX_BODY_DEPTH`, is a ValidationError.
 */
const parseBody = (text: string): Effect.Effect<unknown, ValidationError> => {
  if (text.trim() === "") return Effect.succeed(undefined)
  if (nestedDeeperThan(text, MAX_BODY_DEPTH)) {
    return Effect.fail(
      new ValidationError({
        message: `the request body nests arrays and objects deeper than ${MAX_BODY_DEPTH} levels (JSON in inputData and results may be at most 64 levels deep)`
      })
    )
  }
  try {
    return Effect.succeed(JSON.parse(text) as unknown)
  } catch (error) {
    return Effect.fail(new ValidationError({ message: `the request body is not valid JSON: ${(error as Error).message}` }))
  }
}

/** Reads a JSON body (see `parseBody`). */
export const readJson: Effect.Effect<unknown, PayloadTooLarge | ValidationError, HttpServerRequest.HttpServerRequest> = Effect.flatMap(
  readText,
  parseBody
)

/** The JSON body of a Node request (the worker routes' fast path reads it without the platform's request). */
export const readJsonFrom = (source: IncomingMessage): Effect.Effect<unknown, PayloadTooLarge | ValidationError> =>
  Effect.flatMap(readTextFrom(source), parseBody)

const required =
  (what: string) =>
  (body: unknown): Effect.Effect<unknown, ValidationError> =>
    body === undefined
      ? Effect.fail(new ValidationError({ message: `the request body is required: a JSON object with ${what}` }))
      : Effect.succeed(body)

/** A JSON body that must be present. */
export const requireJson = (what: string): Effect.Effect<unknown, PayloadTooLarge | ValidationError, HttpServerRequest.HttpServerRequest> =>
  Effect.flatMap(readJson, required(what))

/** `requireJson` of a Node request. */
export const requireJsonFrom = (source: IncomingMessage, what: string): Effect.Effect<unknown, PayloadTooLarge | ValidationError> =>
  Effect.flatMap(readJsonFrom(source), required(what))

const orEmpty = (body: unknown): unknown => body ?? {}

/** A JSON body that may be empty (then `{}`). */
export const optionalJson: Effect.Effect<unknown, PayloadTooLarge | ValidationError, HttpServerRequest.HttpServerRequest> = Effect.map(
  readJson,
  orEmpty
)

/** `optionalJson` of a Node request. */
export const optionalJsonFrom = (source: IncomingMessage): Effect.Effect<unknown, PayloadTooLarge | ValidationError> =>
  Effect.map(readJsonFrom(source), orEmpty)
