import { hierarchy } from "./suites/Hierarchy.js"
import { sqlite } from "./TestQueue.js"

hierarchy(sqlite)
