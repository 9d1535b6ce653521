import { CliConfig, type HelpDoc } from "@effect/cli"
import * as Descriptor from "@effect/cli/CommandDescriptor"
import type { Span } from "@effect/cli/HelpDoc/Span"
import type { Colors } from "./Terminal.js"

/**
 * `abathur COMMAND --help`: what the command does, its arguments and flags, each with what it means,
 * and examples, in two aligned columns. Built from the commands' own descriptions (the flags of the
 * queue's fields read `FieldDocs`), without @effect/cli's generic lines ("A user-defined piece of
 * text.", "This setting is optional.").
 */

/** A command of the tree, as @effect/cli builds it (`Standard`, `Map`, `Subcommands`). */
type Node =
  | { readonly _tag: "Standard"; readonly name: string }
  | { readonly _tag: "Map"; readonly command: Node }
  | { readonly _tag: "Subcommands"; readonly parent: Node; readonly children: ReadonlyArray<Node> }
  | { readonly _tag: "GetUserInput"; readonly name: string }

const isNode = (u: unknown): u is Node =>
  typeof u === "object" && u !== null && "_tag" in u && ["Standard", "Map", "Subcommands", "GetUserInput"].includes(String(u._tag))

const nameOf = (node: Node): string => {
  switch (node._tag) {
    case "Standard":
    case "GetUserInput":
      return node.name
    case "Map":
      return nameOf(node.command)
    case "Subcommands":
      return nameOf(node.parent)
  }
}

/** The direct subcommands of a node. */
const childrenOf = (node: Node): ReadonlyArray<Node> =>
  node._tag === "Subcommands" ? node.children.filter(isNode) : node._tag === "Map" ? childrenOf(node.command) : []

/** A command (any `Command.Command`): its descriptor is the tree. */
export interface HasDescriptor {
  readonly descriptor: unknown
}

const rootNode = (root: HasDescriptor): Node => {
  const descriptor: unknown = root.descriptor
  if (!isNode(descriptor)) throw new Error("unexpected @effect/cli command descriptor")
  return descriptor
}

/** The command at the end of the longest prefix of `words` that names subcommands, and that prefix. */
const find = (root: Node, words: ReadonlyArray<string>): { node: Node; path: Array<string> } => {
  let node = root
  const path: Array<string> = []
  for (const word of words) {
    const next = childrenOf(node).find((c) => nameOf(c) === word)
    if (next === undefined) break
    node = next
    path.push(word)
  }
  return { node, path }
}

/** Every command path of the tree (`["deps", "add"]`, ...), groups included, in declaration order. */
export const commandPaths = (root: HasDescriptor): Array<Array<string>> => {
  const out: Array<Array<string>> = []
  const walk = (node: Node, path: Array<string>) => {
    for (const child of childrenOf(node)) {
      const p = [...path, nameOf(child)]
      out.push(p)
      walk(child, p)
    }
  }
  walk(rootNode(root), [])
  return out
}

const spanText = (span: Span): string => {
  switch (span._tag) {
    case "Text":
    case "URI":
      return span.value
    case "Sequence":
      return spanText(span.left) + spanText(span.right)
    default:
      return spanText(span.value)
  }
}

type Block =
  | { readonly _tag: "Header"; readonly text: string }
  | { readonly _tag: "Paragraph"; readonly span: Span }
  | { readonly _tag: "List"; readonly items: ReadonlyArray<readonly [string, Array<string>]> }

/** The paragraphs of a help document, in order. */
const paragraphs = (doc: HelpDoc.HelpDoc): Array<string> => {
  switch (doc._tag) {
    case "Paragraph":
      return [spanText(doc.value)]
    case "Sequence":
      return [...paragraphs(doc.left), ...paragraphs(doc.right)]
    case "Enumeration":
      return doc.elements.flatMap(paragraphs)
    case "DescriptionList":
      return doc.definitions.flatMap(([, d]) => paragraphs(d))
    default:
      return []
  }
}

const blocks = (doc: HelpDoc.HelpDoc): Array<Block> => {
  switch (doc._tag) {
    case "Header":
      return [{ _tag: "Header", text: spanText(doc.value) }]
    case "Paragraph":
      return [{ _tag: "Paragraph", span: doc.value }]
    case "Sequence":
      return [...blocks(doc.left), ...blocks(doc.right)]
    case "DescriptionList":
      return [{ _tag: "List", items: doc.definitions.map(([term, d]) => [spanText(term), paragraphs(d)] as const) }]
    case "Enumeration":
      return doc.elements.flatMap(blocks)
    case "Empty":
      return []
  }
}

/**
 * A flag's or argument's own description: @effect/cli puts the value type's generic help first
 * ("A user-defined piece of text.") and notes after; the notes become short words.
 */
const described = (texts: ReadonlyArray<string>): string =>
  texts
    .slice(1)
    .flatMap((t) => {
      if (t === "This setting is optional.") return []
      const fallback = /^This setting is optional\. Defaults to: (.*)$/.exec(t)
      if (fallback !== null) return [`Default: ${fallback[1]}.`]
      if (/^This (option|argument) may be repeated zero or more times\.$/.test(t)) return ["Repeatable."]
      return [t]
    })
    .join(" ")

/** Without @effect/cli's built-in flags (--completions, --wizard, ...), which abathur does not offer. */
const HelpConfig = CliConfig.make({ showBuiltIns: false })

const GlobalFlags = new Set(["--db", "--json", "--log-level"])

const wrap = (text: string, width: number): Array<string> => {
  const lines: Array<string> = []
  let line = ""
  for (const word of text.split(/\s+/).filter((w) => w.length > 0)) {
    if (line.length > 0 && line.length + 1 + word.length > width) {
      lines.push(line)
      line = word
    } else line = line.length === 0 ? word : `${line} ${word}`
  }
  if (line.length > 0) lines.push(line)
  return lines.length === 0 ? [""] : lines
}

/** Two aligned columns: the term, then its description wrapped to the width left. */
const columns = (c: Colors, rows: ReadonlyArray<readonly [string, string]>, width: number): Array<string> => {
  const left = Math.min(30, Math.max(...rows.map(([t]) => t.length)) + 2)
  return rows.flatMap(([term, text]) => {
    const lines = wrap(text, Math.max(30, width - left - 2))
    const head = term.length + 2 > left ? [`  ${c.bold(term)}`, ""] : [`  ${c.bold(term)}${" ".repeat(left - term.length)}`]
    return head.length === 2
      ? [head[0]!, ...lines.map((l) => `  ${" ".repeat(left)}${l}`)]
      : [`${head[0]}${lines[0]}`, ...lines.slice(1).map((l) => `  ${" ".repeat(left)}${l}`)]
  })
}

/**
 * The help of the command that `words` name (`["deps", "add"]`); undefined when the first word
 * names no command. `width` is the terminal's (default 100).
 */
export const commandHelp = (root: HasDescriptor, words: ReadonlyArray<string>, c: Colors, width = 100): string | undefined => {
  const { node, path } = find(rootNode(root), words)
  if (path.length === 0) return undefined
  const name = `abathur ${path.join(" ")}`
  const doc = Descriptor.getHelp(node as unknown as Descriptor.Command<unknown>, HelpConfig)
  const all = blocks(doc)
  const section = (header: string): Array<Block> => {
    const start = all.findIndex((b) => b._tag === "Header" && b.text === header)
    if (start < 0) return []
    const end = all.findIndex((b, i) => i > start && b._tag === "Header")
    return all.slice(start + 1, end < 0 ? undefined : end)
  }
  const items = (header: string) => section(header).flatMap((b) => (b._tag === "List" ? b.items : []))
  const description = section("DESCRIPTION").flatMap((b) => (b._tag === "Paragraph" ? [spanText(b.span)] : []))
  const rawArgs = items("ARGUMENTS").map(([term, texts]) => ({
    term: term.replace(/^<(.*)>(\.\.\.)?$/, (_, n: string, dots?: string) => `${n}${dots ?? ""}`),
    text: described(texts),
    optional: texts.some((t) => t.startsWith("This setting is optional") || t.includes("zero or more"))
  }))
  const args = rawArgs.map((a) => [a.term, a.text] as const)
  const flags = items("OPTIONS")
    .filter(([term]) => !GlobalFlags.has(term.split(" ")[0]!))
    .map(([term, texts]) => [term.replace(/\.\.\.$/, ""), described(texts)] as const)
  const subcommands = childrenOf(node).map((child) => {
    const childDoc = Descriptor.getHelp(child as unknown as Descriptor.Command<unknown>, HelpConfig)
    const first = blocks(childDoc).find((b): b is Extract<Block, { _tag: "Paragraph" }> => b._tag === "Paragraph")
    return [`${name} ${nameOf(child)}`, first === undefined ? "" : spanText(first.span)] as const
  })

  const usage = [
    name,
    ...(subcommands.length > 0 ? ["SUBCOMMAND"] : []),
    ...(flags.length > 0 ? ["[FLAGS]"] : []),
    ...rawArgs.map((a) => (a.term.endsWith("...") ? `[${a.term.slice(0, -3)}]...` : a.optional ? `[${a.term}]` : a.term))
  ].join(" ")

  const out: Array<string> = [`${c.bold("Usage")}: ${usage}`, ""]
  const examples: Array<string> = []
  let inExamples = false
  for (const p of description) {
    if (/^Examples?:$/.test(p)) inExamples = true
    else if (p.startsWith("Global options")) continue
    else if (inExamples) examples.push(p.trim())
    else out.push(...wrap(p, width), "")
  }
  if (subcommands.length > 0) out.push(c.bold("Subcommands"), ...columns(c, subcommands, width), "")
  if (args.length > 0) out.push(c.bold("Arguments"), ...columns(c, args, width), "")
  if (flags.length > 0) out.push(c.bold("Flags"), ...columns(c, flags, width), "")
  out.push(
    c.bold("Global options") + c.dim(" (before or after the command name)"),
    ...columns(
      c,
      [
        ["--db PATH|URL", "The database file (env ABATHUR_DB; default ./.abathur/abathur.db), or a postgres:// URL."],
        ["--json", "Print one JSON document on stdout; errors go to stderr as JSON."],
        ["--log-level LEVEL", "trace, debug, info (default; env ABATHUR_LOG_LEVEL), warning, error or none."]
      ],
      width
    )
  )
  if (examples.length > 0) out.push("", c.bold(examples.length === 1 ? "Example" : "Examples"), ...examples.map((e) => `  ${e}`))
  return out.join("\n")
}
