export * from "./McpServer.js"
export * from "./McpTools.js"
