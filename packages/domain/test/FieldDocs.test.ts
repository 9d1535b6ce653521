import { describe, expect, it } from "vitest"
import * as z from "zod"
import {
  AddDependencyInput,
  ClaimInput,
  CompleteInput,
  describeField,
  documentedJsonSchema,
  ExecutionPlanInput,
  FailInput,
  FieldDocs,
  HeartbeatInput,
  ListTasksInput,
  PlanInput,
  PlanNode,
  PruneInput,
  ReleaseInput,
  SubmitTaskInput,
  withFieldDocs
} from "../src/index.js"

type Json = Record<string, unknown>

/** Every property of every object schema in a JSON Schema document, with where it sits. */
const properties = (node: unknown, path = "#"): Array<{ path: string; schema: Json }> => {
  if (Array.isArray(node)) return node.flatMap((n, i) => properties(n, `${path}/${i}`))
  if (typeof node !== "object" || node === null) return []
  const out: Array<{ path: string; schema: Json }> = []
  for (const [k, v] of Object.entries(node)) {
    if (k === "properties" && typeof v === "object" && v !== null) {
      for (const [field, schema] of Object.entries(v)) out.push({ path: `${path}/properties/${field}`, schema: schema as Json })
    }
    out.push(...properties(v, `${path}/${k}`))
  }
  return out
}

// Named as the server names its components (apps/server/src/Schemas.ts), a list of the domain's own: alike in shape only.
const inputs: ReadonlyArray<readonly [string, z.ZodType]> = [
  ["SubmitTaskInput", SubmitTaskInput],
  ["PlanInput", PlanInput],
  ["AddDependencyInput", AddDependencyInput],
  ["ClaimInput", ClaimInput],
  ["HeartbeatInput", HeartbeatInput],
  ["CompleteInput", CompleteInput],
  ["FailInput", FailInput],
  ["ReleaseInput", ReleaseInput],
  ["ListTasksInput", ListTasksInput],
  ["PruneInput", PruneInput],
  ["ExecutionPlanInput", ExecutionPlanInput]
]

describe("field documentation", () => {
  it("every property of every input schema has a description, and shared parts have readable names", () => {
    for (const [name, schema] of inputs) {
      const json = documentedJsonSchema(schema, { name })
      const text = JSON.stringify(json)
      expect(text, name).not.toMatch(/__schema\d/)
      const props = properties(json)
      expect(props.length, name).toBeGreaterThan(0)
      for (const p of props)
        expect(typeof p.schema["description"] === "string" && p.schema["description"].length > 10, `${name} ${p.path}`).toBe(true)
    }
    const plan = documentedJsonSchema(PlanInput, { name: "PlanInput" })
    expect(Object.keys(plan["$defs"] as Json).sort()).toEqual(["JsonValue", "PlanNode"])
    const named = documentedJsonSchema(z.object({ a: z.object({ b: z.string() }).optional() }), { names: [[PlanNode, "Unused"]] })
    expect(named).not.toHaveProperty("$defs")
  })

  it("a field means something more specific inside some schemas", () => {
    expect(describeField("dependsOn")).toBe(FieldDocs.dependsOn)
    expect(describeField("dependsOn", "PlanNode")).toContain("by key")
    expect(describeField("dependencyType", "AddDependencyInput")).toContain("edge")
    expect(describeField("nothing")).toBeUndefined()
    const plan = documentedJsonSchema(PlanInput, { name: "PlanInput", names: [[PlanNode, "PlanNode"]] })
    const node = (plan["$defs"] as Record<string, { properties: Record<string, Json> }>)["PlanNode"]!
    expect(node.properties["dependsOn"]!["description"]).toBe(describeField("dependsOn", "PlanNode"))
    expect(node.properties["prompt"]!["description"]).toBe(FieldDocs.prompt)
  })

  it("keeps a description the schema has of its own, and changes nothing else", () => {
    const schema = {
      type: "object",
      properties: { prompt: { type: "string", description: "mine" }, priority: { type: "integer" }, other: { type: "string" } }
    }
    const documented = withFieldDocs(schema)
    expect(documented).toEqual({
      type: "object",
      properties: {
        prompt: { type: "string", description: "mine" },
        priority: { type: "integer", description: FieldDocs.priority },
        other: { type: "string" }
      }
    })
    expect(schema.properties.priority).toEqual({ type: "integer" })
  })
})
