/** The hierarchy's rules (packages/queue/test/suites/Hierarchy.ts) on PostgreSQL. */
import { hierarchy } from "../../queue/test/suites/Hierarchy.js"
import { postgresStore } from "./QueueOnPostgres.js"

hierarchy(postgresStore({ propertyRuns: 0 }))
