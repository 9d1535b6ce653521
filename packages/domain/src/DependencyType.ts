import * as z from "zod"

/**
 * How a task relates to its prerequisites. Both mean AND: a task waits for every
 * prerequisite to complete. The type is kept for planners that lay work out in sequence
 * or side by side.
 */
export const DependencyType = z.enum(["sequential", "parallel"], {
  error: (issue) => `unknown dependency type ${JSON.stringify(issue.input)}: use sequential or parallel`
})
export type DependencyType = z.infer<typeof DependencyType>
