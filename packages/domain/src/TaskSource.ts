import * as z from "zod"

/** Who submitted a task. The source is one factor of its computed priority. */
export const TaskSource = z.enum(["human", "agent_requirements", "agent_planner", "agent_implementation"], {
  error: (issue) => `unknown source ${JSON.stringify(issue.input)}: use one of human, agent_requirements, agent_planner, agent_implementation`
})
export type TaskSource = z.infer<typeof TaskSource>

export const TaskSources: ReadonlyArray<TaskSource> = TaskSource.options
