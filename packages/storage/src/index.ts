export {
  type BackgroundCheckpointer,
  type BackgroundCheckpointOptions,
  type CheckpointStats,
  startCheckpointer
} from "./Checkpointer.js"
export * from "./Database.js"
export * from "./QuickCheck.js"
export * from "./StorageError.js"
export * from "./TaskRepository.js"
export * from "./TaskRows.js"
