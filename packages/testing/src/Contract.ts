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
