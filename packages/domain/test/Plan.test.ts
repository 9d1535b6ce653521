import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { describePlanProblem, type FlatPlan, flattenPlan, formatIssues, PlanInput, type PlanNodeInput, topologicalBatches } from "@abathur/domain"

const EXT = "3f2b8c1e-9d4a-4f6b-8e2a-1c5d7e9f0a2b"
const EXT2 = "7c9e6679-7425-40de-944b-e07fc1f90ae7"

const flatten = (tasks: ReadonlyArray<PlanNodeInput>): FlatPlan => flattenPlan(PlanInput.parse({ tasks }))

const ok = (tasks: ReadonlyArray<PlanNodeInput>) => {
  const r = flatten(tasks)
  if (r._tag !== "Ok") throw new Error(`expected Ok, got ${describePlanProblem(r.problem)}`)
  return r
}

const problem = (tasks: ReadonlyArray<PlanNodeInput>) => {
  const r = flatten(tasks)
  if (r._tag !== "Problem") throw new Error("expected a problem")
  return r.problem
}

describe("flattenPlan", () => {
  it("lists parents before their children, depth first in file order", () => {
    const r = ok([
      {
        key: "root",
        prompt: "root",
        children: [
          { key: "a", prompt: "a", children: [{ key: "a1", prompt: "a1" }] },
          { key: "b", prompt: "b" }
        ]
      },
      { key: "other", prompt: "other" }
    ])
    expect(r.nodes.map((n) => n.key)).toEqual(["root", "a", "a1", "b", "other"])
    expect(r.nodes.map((n) => n.parentKey)).toEqual([null, "root", "a", "root", null])
  })

  it("carries each node's submit fields with defaults filled", () => {
    const r = ok([{ key: "k", prompt: "do it", priority: 9, source: "agent_planner", deadline: "2025-10-10" }])
    const node = r.nodes[0]!.node
    expect(node).toMatchObject({
      key: "k",
      prompt: "do it",
      priority: 9,
      source: "agent_planner",
      deadline: "2025-10-10T00:00:00.000Z",
      maxRetries: 3,
      dependsOn: [],
      children: []
    })
  })

  it("splits dependsOn into plan keys and existing task ids, without duplicates", () => {
    const r = ok([
      { key: "a", prompt: "a" },
      { key: "b", prompt: "b", dependsOn: ["a", EXT, "a", EXT.toUpperCase(), EXT2] }
    ])
    const b = r.nodes.find((n) => n.key === "b")!
    expect(b.localDependsOn).toEqual(["a"])
    expect(b.externalDependsOn).toEqual([EXT, EXT2])
  })

  it("a key that is also a valid UUID wins over the existing task with that id", () => {
    const r = ok([
      { key: EXT, prompt: "a node keyed by a UUID" },
      { key: "b", prompt: "b", dependsOn: [EXT] }
    ])
    const b = r.nodes.find((n) => n.key === "b")!
    expect(b.localDependsOn).toEqual([EXT])
    expect(b.externalDependsOn).toEqual([])
    expect(r.order).toEqual([EXT, "b"])
  })

  it("orders prerequisites first, whatever the file order", () => {
    const r = ok([
      { key: "deploy", prompt: "deploy", dependsOn: ["test"] },
      { key: "test", prompt: "test", dependsOn: ["build"] },
      { key: "build", prompt: "build" },
      { key: "docs", prompt: "docs" }
    ])
    const pos = (k: string) => r.order.indexOf(k)
    expect([...r.order].sort()).toEqual(["build", "deploy", "docs", "test"])
    expect(pos("build")).toBeLessThan(pos("test"))
    expect(pos("test")).toBeLessThan(pos("deploy"))
  })

  it("orders dependencies between nested nodes across branches", () => {
    const r = ok([
      {
        key: "epic",
        prompt: "epic",
        children: [
          { key: "api", prompt: "api", dependsOn: ["schema"] },
          { key: "db", prompt: "db", children: [{ key: "schema", prompt: "schema" }] }
        ]
      }
    ])
    expect(r.order.indexOf("schema")).toBeLessThan(r.order.indexOf("api"))
    expect(r.nodes.find((n) => n.key === "schema")!.parentKey).toBe("db")
  })

  it("allows parentTaskId on a top-level node", () => {
    const r = ok([{ key: "a", prompt: "a", parentTaskId: EXT.toUpperCase() }])
    expect(r.nodes[0]!.node.parentTaskId).toBe(EXT)
  })

  it("reports a duplicate key, also between a parent and a nested child", () => {
    expect(
      problem([
        { key: "a", prompt: "1" },
        { key: "a", prompt: "2" }
      ])
    ).toEqual({ _tag: "DuplicateKey", key: "a" })
    expect(problem([{ key: "a", prompt: "1", children: [{ key: "a", prompt: "2" }] }])).toEqual({
      _tag: "DuplicateKey",
      key: "a"
    })
  })

  it("rejects a nested node that sets parentTaskId", () => {
    expect(problem([{ key: "top", prompt: "top", children: [{ key: "kid", prompt: "kid", parentTaskId: EXT }] }])).toEqual({
      _tag: "NestedParent",
      key: "kid"
    })
  })

  it("accepts a nested node whose parentTaskId is null", () => {
    expect(flatten([{ key: "top", prompt: "top", children: [{ key: "kid", prompt: "kid", parentTaskId: null }] }])._tag).toBe("Ok")
  })

  it("reports a reference that is neither a key nor a UUID", () => {
    expect(problem([{ key: "a", prompt: "a", dependsOn: ["bulid"] }])).toEqual({
      _tag: "UnknownReference",
      key: "a",
      reference: "bulid"
    })
  })

  it("reports a cycle by keys, first key repeated at the end", () => {
    const p = problem([
      { key: "a", prompt: "a", dependsOn: ["b"] },
      { key: "b", prompt: "b", dependsOn: ["c"] },
      { key: "c", prompt: "c", dependsOn: ["a"] }
    ])
    expect(p).toEqual({ _tag: "Cycle", cycle: ["a", "b", "c", "a"] })
  })

  it("orders any acyclic plan in topologicalBatches' layers (prerequisites first, plan order within a layer)", () => {
    fc.assert(
      fc.property(
        fc
          .integer({ min: 1, max: 40 })
          .chain((n) =>
            fc.tuple(
              fc.shuffledSubarray([...Array(n).keys()], { minLength: n, maxLength: n }),
              fc.array(fc.array(fc.nat(), { maxLength: 4 }), { minLength: n, maxLength: n })
            )
          ),
        ([rank, picks]) => {
          // Node i may depend on nodes of lower rank only: acyclic, in any file order.
          const n = rank.length
          const tasks = rank.map((r, i) => {
            const lower = rank.flatMap((q, j) => (q < r ? [`k${j}`] : []))
            const deps = lower.length === 0 ? [] : picks[i]!.map((x) => lower[x % lower.length]!)
            return { key: `k${i}`, prompt: `p${i}`, dependsOn: deps }
          })
          const r = ok(tasks)
          const byKey = new Map(r.nodes.map((node) => [node.key, node.localDependsOn]))
          expect(r.order).toEqual(
            topologicalBatches(
              r.nodes.map((node) => node.key),
              (k) => byKey.get(k)!
            ).flat()
          )
          expect(r.order).toHaveLength(n)
        }
      )
    )
  })

  it("reports a node depending on itself as a cycle", () => {
    expect(problem([{ key: "a", prompt: "a", dependsOn: ["a"] }])).toEqual({ _tag: "Cycle", cycle: ["a", "a"] })
  })
})

describe("describePlanProblem", () => {
  it("says what is wrong in words a person can act on", () => {
    expect(describePlanProblem({ _tag: "DuplicateKey", key: "a" })).toBe('plan key "a" is used twice: every key must be unique in the plan')
    expect(describePlanProblem({ _tag: "UnknownReference", key: "a", reference: "bulid" })).toBe(
      'plan node "a" depends on "bulid", which is neither a key of the plan nor a task id'
    )
    expect(describePlanProblem({ _tag: "NestedParent", key: "kid" })).toBe(
      'plan node "kid" is nested and sets parentTaskId: only top-level nodes may name an existing parent'
    )
    expect(describePlanProblem({ _tag: "Cycle", cycle: ["a", "b", "a"] })).toBe("the plan's dependencies form a cycle: a -> b -> a")
  })
})

describe("PlanInput", () => {
  const rejection = (input: unknown): string => {
    const r = PlanInput.safeParse(input)
    if (r.success) throw new Error(`expected ${JSON.stringify(input)} to be rejected`)
    return formatIssues(r.error)
  }

  it("rejects unknown fields on a node, naming them", () => {
    const text = rejection({ tasks: [{ key: "a", prompt: "a", depends_on: ["b"] }] })
    expect(text).toContain("tasks.0")
    expect(text).toContain('unknown field "depends_on"')
    expect(text).toContain("dependsOn")
  })

  it("rejects unknown fields on a nested node", () => {
    const text = rejection({ tasks: [{ key: "a", prompt: "a", children: [{ key: "b", prompt: "b", colour: 1 }] }] })
    expect(text).toContain("tasks.0.children.0")
    expect(text).toContain('unknown field "colour"')
  })

  it("rejects unknown fields at the top", () => {
    expect(rejection({ tasks: [{ key: "a", prompt: "a" }], version: 2 })).toContain('unknown field "version"')
  })

  it("requires a key on every node", () => {
    expect(rejection({ tasks: [{ prompt: "a" }] })).toBe("tasks.0.key: every plan node needs a key (a name unique in the plan)")
    expect(rejection({ tasks: [{ key: "  ", prompt: "a" }] })).toBe("tasks.0.key: a plan node's key must not be empty")
  })

  it("requires a non-empty tasks list", () => {
    expect(rejection({ tasks: [] })).toBe("tasks: a plan needs at least one task")
    expect(rejection({})).toBe('tasks: a plan needs "tasks": a list of plan nodes')
  })

  it("checks each node's submit fields", () => {
    expect(rejection({ tasks: [{ key: "a", prompt: "a", priority: 11 }] })).toBe("tasks.0.priority: priority must be from 0 to 10")
    expect(rejection({ tasks: [{ key: "a", prompt: " " }] })).toContain("tasks.0.prompt: prompt must not be empty")
  })

  it("rejects children that are not a list", () => {
    expect(rejection({ tasks: [{ key: "a", prompt: "a", children: {} }] })).toBe("tasks.0.children: children must be a list of plan nodes")
  })

  it("trims keys", () => {
    expect(PlanInput.parse({ tasks: [{ key: " a ", prompt: "a" }] }).tasks[0]!.key).toBe("a")
  })
})
