export * from "./Builders.js"
export * from "./TestDatabase.js"
export * from "./LegacyDatabase.js"
export * from "./DatabaseDump.js"
