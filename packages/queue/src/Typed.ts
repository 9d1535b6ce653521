/**
 * Typed inputs that are still checked at run time.
 *
 * Every operation of the queue validates its input with the domain's zod schema, so values from
 * outside (HTTP bodies, MCP arguments, parsed flags) may be passed as `unknown`. A value whose type
 * is known, such as an object literal in a program, is checked by the compiler as well: a field the
 * schema does not have (a typo), at any depth, or a value of the wrong type fails `tsc`, and an
 * editor completes the field names.
 */

/** `I` with every key that `T` does not have (at any depth) turned into `never`. */
export type Exact<I, T> =
  I extends ReadonlyArray<infer E>
    ? T extends ReadonlyArray<infer TE>
      ? ReadonlyArray<Exact<E, TE>>
      : T
    : I extends object
      ? T extends object
        ? string extends keyof T
          ? T
          : { readonly [K in keyof I]: K extends keyof T ? Exact<I[K], T[K]> : never }
        : T
      : T

/**
 * What a value of type `I` must also be: anything when its type says nothing (`unknown`, a record of
 * anything, any string), else exactly `T`.
 */
export type Typed<I, T> = unknown extends I ? unknown : string extends I ? unknown : string extends keyof I ? unknown : Exact<I, T> & T

/**
 * An operation's input: `T` (the zod schema's input type), or a value whose type says nothing
 * (`unknown`, `Record<string, unknown>`), validated at run time only.
 */
export type Input<I, T> = T | (I & Typed<I, T>)
