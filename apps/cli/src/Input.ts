import { ValidationError } from "@abathur/queue"
import { Effect, Option } from "effect"
import { readFile } from "node:fs/promises"

/**
 * Turning flag text into the raw input the queue validates. The app only parses; every rule
 * (ranges, enums, ids) is checked by the domain's schemas inside the queue.
 */

/** A number flag: a numeric literal becomes a number, anything else stays text for the schema to refuse. */
export const numeric = (text: string): number | string => {
  const t = text.trim()
  return /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(t) ? Number(t) : text
}

export const optionalNumeric = (o: Option.Option<string>): number | string | undefined => (Option.isSome(o) ? numeric(o.value) : undefined)

/**
 * Drops `undefined` members, so that optional fields are absent rather than undefined. The result
 * is raw input (flag text not yet checked): the queue validates it at run time.
 */
export const defined = (o: Readonly<Record<string, unknown>>): Readonly<Record<string, unknown>> => {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v
  return out
}

/** Parses the JSON text of a flag; malformed JSON is a ValidationError naming the flag. */
export const parseJson = (flag: string, text: string): Effect.Effect<unknown, ValidationError> =>
  Effect.try({
    try: () => JSON.parse(text) as unknown,
    catch: (error) =>
      new ValidationError({
        message: `${flag} is not valid JSON (${(error as Error).message}): quote it for the shell, e.g. ${flag} '{"key": "value"}'`
      })
  })

const readStdin = (): Promise<string> =>
  new Promise((resolve, reject) => {
    const chunks: Array<Buffer> = []
    process.stdin.on("data", (c: Buffer) => chunks.push(c))
    process.stdin.once("end", () => resolve(Buffer.concat(chunks).toString("utf8")))
    process.stdin.once("error", reject)
  })

/** Reads and parses a plan file (`-` for stdin). */
export const readPlanFile = (path: string): Effect.Effect<unknown, ValidationError> =>
  Effect.flatMap(
    Effect.tryPromise({
      try: () => (path === "-" ? readStdin() : readFile(path, "utf8")),
      catch: (error) =>
        new ValidationError({
          message: `cannot read plan file ${path}: ${(error as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (error as Error).message}`
        })
    }),
    (text) =>
      Effect.try({
        try: () => JSON.parse(text) as unknown,
        catch: (error) =>
          new ValidationError({
            message: `plan file ${path === "-" ? "(stdin)" : path} is not valid JSON: ${(error as Error).message}`
          })
      })
  )
