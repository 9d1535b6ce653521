import { scenarios } from "./suites/Scenarios.js"
import { sqlite } from "./TestQueue.js"

scenarios(sqlite)
