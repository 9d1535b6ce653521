import * as z from "zod"
import { DependencyType } from "./DependencyType.js"
import { describeField, FieldDocs, withFieldDocs } from "./FieldDocs.js"
import { JsonTree } from "./Primitives.js"
import { OnFailure, PlanNode, Task } from "./Task.js"

/**
 * The JSON Schemas clients read, generated from the domain's zod schemas in one way for every
 * face: the MCP tools' input and output schemas and the components of the HTTP API's OpenAPI
 * document. Each input property carries its field's description (FieldDocs); what zod cannot write is
 * filled in here: a `dependsOn` item (an id or key, or an edge object: the domain parses it with a
 * transform, which zod sees as anything), and answers list every property as present.
 */

type Json = Record<string, unknown>
const isJson = (u: unknown): u is Json => typeof u === "object" && u !== null && !Array.isArray(u)

/** The domain's recursive or shared schemas, by the names their definitions get. */
const KnownNames: ReadonlyArray<readonly [z.ZodType, string]> = [
  [PlanNode, "PlanNode"],
  // JsonValue checks its bounds, then hands over to the recursive JsonTree: the part clients see.
  [JsonTree, "JsonValue"],
  [Task, "Task"]
]

const uuid = { type: "string", format: "uuid" }
const taskId = { ...uuid, description: "An existing task's id." }
const edge = {
  onFailure: { type: "string", enum: OnFailure.options, description: FieldDocs.onFailure },
  dependencyType: { type: "string", enum: DependencyType.options, description: describeField("dependencyType", "AddDependencyInput") }
}
const dependsOnItems = {
  submit: {
    description: "A prerequisite: its id, or an edge object.",
    anyOf: [uuid, { type: "object", properties: { id: taskId, ...edge }, required: ["id"], additionalProperties: false }]
  },
  plan: {
    description: "A prerequisite: a key of the plan or a task id (a key wins), or an edge object naming exactly one of `key` or `id`.",
    anyOf: [
      { type: "string" },
      {
        type: "object",
        properties: { key: { type: "string", description: "A key of this plan." }, id: taskId, ...edge },
        additionalProperties: false
      }
    ]
  }
}

/** Answers that always carry every field (defaults filled in): their properties are all required. */
const Whole = new Set(["Task"])

/**
 * Fills what zod cannot write and, for answers, lists every property of a whole model (Task) as
 * required, without the input's defaults. `name` names the root; a definition under `$defs` is read
 * as the schema of its name. Returns a new document.
 */
const complete = (schema: Json, answer: boolean, name?: string): Json => {
  const visit = (node: unknown, within: string | undefined): unknown => {
    if (Array.isArray(node)) return node.map((n) => visit(n, within))
    if (!isJson(node)) return node
    const out: Json = {}
    for (const [k, v] of Object.entries(node)) {
      out[k] =
        k === "$defs" && isJson(v)
          ? Object.fromEntries(Object.entries(v).map(([d, def]) => [d, visit(def, d)]))
          : visit(v, k === "properties" ? undefined : within)
    }
    const props = out["properties"]
    if (!isJson(props)) return out
    const p = props as Record<string, Json>
    const dependsOn = p["dependsOn"]
    if (dependsOn !== undefined && isJson(dependsOn["items"]) && Object.keys(dependsOn["items"]).length === 0) {
      p["dependsOn"] = { ...dependsOn, items: "key" in p && "children" in p ? dependsOnItems.plan : dependsOnItems.submit }
    }
    if (answer && within !== undefined && Whole.has(within)) {
      for (const [k, v] of Object.entries(p)) {
        const { default: _d, ...rest } = v
        p[k] = rest
      }
      out["required"] = Object.keys(p)
    }
    return out
  }
  return visit(schema, name) as Json
}

export interface JsonSchemaOptions {
  /** The schema's name, where a field means something more specific (FieldDocsIn). */
  readonly name?: string
  /** More schemas to take out as named `$defs`. */
  readonly names?: ReadonlyArray<readonly [z.ZodType, string]>
  /** An answer (output): a whole model (Task) lists every property as required. */
  readonly answer?: boolean
}

/** The global registry's metadata (descriptions), plus an id for each named schema (zod takes it out as a $def). */
const withIds = (ids: ReadonlyMap<unknown, string>): typeof z.globalRegistry =>
  Object.create(z.globalRegistry, {
    get: {
      value: (s: z.ZodType) => {
        const meta = z.globalRegistry.get(s)
        const id = ids.get(s)
        return id === undefined ? meta : { ...meta, id }
      }
    },
    has: { value: (s: z.ZodType) => ids.has(s) || z.globalRegistry.has(s) }
  }) as typeof z.globalRegistry

/**
 * The JSON Schema of a zod schema as clients read it (input side; for answers, `answer: true`):
 * recursive or shared parts are `$defs` named PlanNode, JsonValue, Task or as `names` says (never
 * `__schema0`), every property carries its field's description, `dependsOn` items are spelled out.
 */
export const documentedJsonSchema = (schema: z.ZodType, options: JsonSchemaOptions = {}): Json => {
  const metadata = withIds(new Map<unknown, string>([...KnownNames, ...(options.names ?? [])]))
  const { $schema: _s, ...json } = z.toJSONSchema(schema, { io: "input", unrepresentable: "any", metadata }) as Json
  return options.answer === true ? complete(json, true, options.name) : complete(withFieldDocs(json, options.name), false, options.name)
}

/**
 * The JSON Schemas of named schemas that refer to each other through `uri(name)` (the components
 * of an OpenAPI document), each as `documentedJsonSchema` writes it; `answers` names the outputs.
 */
export const documentedJsonSchemas = (
  components: ReadonlyArray<readonly [string, z.ZodType]>,
  options: { readonly uri: (name: string) => string; readonly answers: (name: string) => boolean }
): Record<string, Json> => {
  const registry = z.registry<{ id: string }>()
  for (const [id, schema] of components) registry.add(schema, { id })
  const generated = z.toJSONSchema(registry, { io: "input", unrepresentable: "any", uri: options.uri }) as { schemas: Record<string, Json> }
  return Object.fromEntries(
    Object.entries(generated.schemas).map(([id, schema]) => {
      const { $schema: _s, $id: _i, ...rest } = schema
      const answer = options.answers(id)
      return [id, answer ? complete(rest, true, id) : complete(withFieldDocs(rest, id), false, id)]
    })
  )
}
