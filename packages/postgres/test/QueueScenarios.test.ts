/** The queue's scenarios (packages/queue/test/suites/Scenarios.ts) on PostgreSQL. */
import { scenarios } from "../../queue/test/suites/Scenarios.js"
import { postgresStore } from "./QueueOnPostgres.js"

scenarios(postgresStore({ propertyRuns: 0 }))
