/** `abathur db`: migrate or check the database file. */
import { Command } from "@effect/cli"
import { Effect } from "effect"
import * as Render from "../Render.js"
import { command, describe, emit, missingSubcommand, withQueue } from "./Command.js"
import { checkDatabaseFile, DatabaseOpenError } from "@abathur/storage"
import { ValidationError } from "@abathur/queue"
import { displayDb, isPostgresUrl, OpenStore } from "../Store.js"

const dbMigrate = command(
  "migrate",
  {},
  describe(
    `Bring the database to this version's schema (opening it does so too), backing it up first as
    <file>.backup-v<from>-<UTC time>.`,
    "abathur db migrate --db ./old.db"
  ),
  (_, ctx) =>
    Effect.gen(function* () {
      const m = yield* withQueue(
        ctx,
        Effect.map(OpenStore, (d) => d.migration)
      )
      yield* emit(ctx, { fromVersion: m.fromVersion, toVersion: m.toVersion, backup: m.backup }, () => Render.migrated(ctx.c, displayDb(ctx.db), m))
    })
)

const dbCheck = command(
  "check",
  {},
  describe(
    `Check the database file as it is (no migration, no write): SQLite's integrity check, foreign
    keys, schema version. Exit 1 on problems, each named: the integrity check's findings (table by
    table when SQLite cannot finish the whole file), or SQLite's error when the file cannot be read.`,
    "abathur db check --json"
  ),
  (_, ctx) =>
    Effect.gen(function* () {
      if (isPostgresUrl(ctx.db)) {
        return yield* Effect.fail(
          new ValidationError({
            message:
              "db check reads an SQLite database file; on PostgreSQL, `abathur db migrate` reports the schema version and the server's own tools (amcheck, pg_dump) check the data"
          })
        )
      }
      const r = yield* Effect.try({
        try: () => checkDatabaseFile(ctx.db),
        catch: (error) => (error instanceof DatabaseOpenError ? error : new DatabaseOpenError({ filename: ctx.db, message: String(error) }))
      })
      const doc = {
        integrity: r.integrity,
        foreignKeyViolations: r.foreignKeyViolations,
        schemaVersion: r.schemaVersion,
        // The details, when something is wrong.
        ...(!r.ok && { file: r.filename, findings: r.findings, errors: r.errors })
      }
      if (!r.ok) ctx.app.exitCode = 1
      yield* emit(ctx, doc, () => Render.checked(ctx.c, ctx.db, r))
    })
)

export const db = Command.make("db", {}, () => missingSubcommand("db", "abathur db migrate, or abathur db check")).pipe(
  Command.withDescription(describe("Maintain the database file.", "abathur db check")),
  Command.withSubcommands([dbMigrate, dbCheck])
)
