/**
 * The queue's property test (packages/queue/test/suites/Properties.ts) on PostgreSQL: 15 random
 * sequences of 60 steps (SQLite runs 100), every invariant checked after each step.
 * PG_PROP_RUNS sets another number.
 */
import { properties } from "../../queue/test/suites/Properties.js"
import { postgresStore } from "./QueueOnPostgres.js"

properties(postgresStore({ propertyRuns: Number(process.env["PG_PROP_RUNS"] ?? 15) }))
