export * from "./Engine.js"
export * from "./QueueConfig.js"
export * from "./QueueError.js"
export * from "./TaskQueue.js"
