import type { QueryConfig, QueryResult } from "pg"

/**
 * The store seam is the queue's (packages/queue/src/Store.ts): the step type, the method names
 * the rules call and the store type they see. This package implements it; it keeps these names.
 */
export { type Step, type StoreMethods, storeMethods as StoreMethodNames, type TaskStore as StoreSteps } from "@abathur/queue"

/** What a store needs of a connection: node-postgres' `query` (a pooled client in a transaction). */
export interface Queryable {
  query(query: string | QueryConfig<Array<unknown>>, values?: Array<unknown>): Promise<QueryResult>
}
