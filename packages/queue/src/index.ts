export type { TaskDetail } from "@abathur/domain"
export * from "./ClaimWaiting.js"
export type { Activity, GraphLink, ListedTask, SubmitDefaults, TaskChange, TreeNode } from "./Model.js"
export * from "./QueueConfig.js"
export * from "./QueueError.js"
export {
  type Repository,
  type Rule,
  ruleFailure,
  type Step,
  type StoreMethods,
  storeMethods,
  StoreRunner,
  type StoreRunnerService,
  type TaskStore,
  type WriteKind
} from "./Store.js"
export { makeSqliteRunner, SqliteRunner } from "./SqliteStore.js"
export * from "./TaskQueue.js"
export * from "./Typed.js"
