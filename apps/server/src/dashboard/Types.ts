/** The shapes the API answers with, and what a view is. */
import type { PriorityExplanation } from "@abathur/domain"

export type Status = "pending" | "blocked" | "ready" | "running" | "completed" | "failed" | "cancelled"

export interface Task {
  id: string
  prompt: string
  summary: string
  agentType: string
  priority: number
  status: Status
  source: string
  dependencyType: string
  calculatedPriority: number
  deadline: string | null
  estimatedDurationSeconds: number | null
  dependencyDepth: number
  parentTaskId: string | null
  sessionId: string | null
  inputData: unknown
  resultData: unknown
  errorMessage: string | null
  retryCount: number
  maxRetries: number
  maxExecutionTimeoutSeconds: number
  submittedAt: string
  startedAt: string | null
  completedAt: string | null
  lastUpdatedAt: string
  createdBy: string | null
  worker?: string | null
  leaseExpiresAt?: string | null
  notBefore?: string | null
  stallCount?: number
}

export interface Link {
  taskId: string
  dependencyType: string
  resolvedAt: string | null
  onFailure?: string
}

export interface Subtree {
  total: number
  completed: number
  open: number
  failed: number
  cancelled: number
}

export interface TaskDetail extends Task {
  prerequisites: Array<Link>
  dependents: Array<Link>
  children: Array<string>
  priorityBreakdown: { base: number; urgency: number; dependency: number; starvation: number; source: number }
  /** The breakdown explained with the queue's configured weights. */
  priorityExplanation: PriorityExplanation
  subtree?: Subtree
}

export interface AuditEntry {
  taskId: string
  fromStatus: Status | null
  toStatus: Status
  at: string
  actor: string | null
  reason: string | null
}

export interface QueueStatus {
  total: number
  byStatus: Record<Status, number>
  avgPriority: number | null
  maxDepth: number | null
  oldestWaitingAt: string | null
}

export interface Activity {
  since: string
  until: string
  minutes: Array<{ minute: string; completed: number; retried: number; failed: number }>
  recentFailures: Array<AuditEntry>
}

export interface GraphNode {
  id: string
  summary: string
  status: Status
  calculatedPriority: number
  parentTaskId: string | null
  worker?: string | null
  subtree?: Subtree & { scope: "subtree" | "children" }
  context: boolean
}

export interface GraphData {
  focus: string | null
  limit: number
  truncated: boolean
  openTotal: number | null
  nodes: Array<GraphNode>
  edges: Array<{ from: string; to: string; kind: "dependency" | "parent"; resolved: boolean; onFailure?: string }>
}

export interface TaskChange {
  taskId: string
  from: Status | null
  to: Status
  at: string
}

export const STATUSES: ReadonlyArray<Status> = ["ready", "running", "blocked", "pending", "completed", "failed", "cancelled"]
export const OPEN: ReadonlyArray<Status> = ["ready", "running", "blocked", "pending"]
export const PAGE = 50

export interface View {
  /** Draws into `root`; returns what to do on a task change and on leaving. */
  mount(root: HTMLElement): { onChange?: (c: TaskChange) => void; onSync?: () => void; leave?: () => void }
}
