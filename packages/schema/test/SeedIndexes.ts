/** The seed's six indexes (phase 1): they stay whatever the queries do. Storage's tests read them here too. */
export const SEED_INDEXES: Array<string> = [
  "idx_task_dependencies_prerequisite",
  "idx_task_dependencies_dependent",
  "idx_tasks_ready_priority",
  "idx_tasks_source_created",
  "idx_tasks_deadline",
  "idx_tasks_blocked"
]
