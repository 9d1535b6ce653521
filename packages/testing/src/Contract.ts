/**
 * The contract's JSON keys, written out by hand (not derived from the domain's schemas), so that
 * the faces' tests catch a field that appears, disappears or is renamed.
 */

/** The keys of a Task document (CONTRACT.md, with its December 2026 additions), sorted; a claimed task adds leaseToken and leaseExpiresAt. */
export const CONTRACT_TASK_KEYS: ReadonlyArray<string> = [
  "id",
  "prompt",
  "summary",
  "agentType",
  "priority",
  "status",
  "source",
  "dependencyType",
  "calculatedPriority",
  "deadline",
  "estimatedDurationSeconds",
  "dependencyDepth",
  "parentTaskId",
  "sessionId",
  "inputData",
  "resultData",
  "errorMessage",
  "retryCount",
  "maxRetries",
  "maxExecutionTimeoutSeconds",
  "submittedAt",
  "startedAt",
  "completedAt",
  "lastUpdatedAt",
  "createdBy",
  "notBefore",
  "idempotencyKey",
  "stallCount",
  "retryBackoffSeconds"
].sort()

/** The MCP tools of the contract (CONTRACT.md, "MCP"), sorted. */
export const CONTRACT_MCP_TOOLS: ReadonlyArray<string> = [
  "task_enqueue",
  "task_plan_submit",
  "task_get",
  "task_list",
  "task_claim",
  "task_complete",
  "task_fail",
  "task_cancel",
  "task_queue_status",
  "task_execution_plan",
  "task_heartbeat",
  "task_release",
  "task_retry",
  "task_dependency_add",
  "task_dependency_remove"
].sort()
