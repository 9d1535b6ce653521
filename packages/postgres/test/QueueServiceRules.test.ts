/** The service's store-neutral rules (packages/queue/test/suites/ServiceRules.ts) on PostgreSQL. */
import { serviceRules } from "../../queue/test/suites/ServiceRules.js"
import { postgresStore } from "./QueueOnPostgres.js"

serviceRules(postgresStore({ propertyRuns: 0 }))
