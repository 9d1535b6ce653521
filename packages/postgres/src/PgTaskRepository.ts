import { Audit } from "./repository/Audit.js"
import { Claims } from "./repository/Claims.js"
import { Edges } from "./repository/Edges.js"
import { Hierarchy } from "./repository/Hierarchy.js"
import { Maintenance } from "./repository/Maintenance.js"
import { PgSql } from "./repository/Sql.js"
import { Tasks } from "./repository/Tasks.js"
import type { Queryable, StoreSteps } from "./Step.js"

export { classifyPgConstraint, pgRowToTask } from "./repository/Sql.js"

/** Every method of the repository, declared per group (src/repository/) with its doc comment. */
type Groups = Tasks & Claims & Hierarchy & Edges & Audit & Maintenance
type JoinedGroups = new (client: Queryable) => Groups

/**
 * One class over `PgSql` whose prototype holds the methods of every group (each a class of store
 * steps over `PgSql`), copied once; a name declared by two groups is an error at load.
 */
const joinGroups = (): JoinedGroups => {
  class Joined extends PgSql {}
  for (const group of [Tasks, Claims, Hierarchy, Edges, Audit, Maintenance]) {
    for (const name of Object.getOwnPropertyNames(group.prototype)) {
      if (name === "constructor") continue
      if (Object.hasOwn(Joined.prototype, name)) throw new Error(`PgTaskRepository: ${name} is declared by two groups`)
      Object.defineProperty(Joined.prototype, name, Object.getOwnPropertyDescriptor(group.prototype, name)!)
    }
  }
  return Joined as unknown as JoinedGroups
}

/**
 * The task repository over one PostgreSQL connection, as store steps: each method is a generator
 * that yields the driver's query promises and returns what the SQLite repository's method of the
 * same name returns (same arguments, same models). Build one per transaction (it holds the
 * transaction's client); the driver (Transaction.ts) runs the rule that uses it.
 *
 * Its methods are declared by concept in src/repository/ (statement helpers and row mapping, task
 * rows, claims and refreshes, edges, hierarchy and the waits-for graph, audit, maintenance) and
 * joined once, here: a call goes straight to its group's method, and `this` is the one repository.
 */
export class PgTaskRepository extends joinGroups() implements StoreSteps {}
