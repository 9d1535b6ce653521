/** Views of the database file: `db migrate`, `db check`. */
import type { Colors } from "../Terminal.js"
import { plural } from "./Text.js"

export const migrated = (
  c: Colors,
  db: string,
  m: { fromVersion: number; toVersion: number; backup: string | null; applied: ReadonlyArray<number> }
): string =>
  m.applied.length === 0
    ? `${c.green("Up to date")}: ${db} is at schema version ${m.toVersion}`
    : [
        `${c.green("Migrated")} ${db} from schema version ${m.fromVersion} to ${m.toVersion} (${plural(m.applied.length, "migration")})`,
        `  ${c.dim("backup")} ${m.backup ?? c.dim("none needed (new database)")}`
      ].join("\n")

export const checked = (
  c: Colors,
  db: string,
  r: {
    integrity: string
    findings: ReadonlyArray<string>
    foreignKeyViolations: ReadonlyArray<unknown>
    schemaVersion: number | null
    errors: ReadonlyArray<{ code: string; message: string; during: string }>
    ok: boolean
  }
): string => {
  const unreadable = r.schemaVersion === null && r.errors.length > 0
  const more = (n: number, shown: number) => (n > shown ? [c.dim(`    … and ${n - shown} more`)] : [])
  return [
    `${r.ok ? c.green("✔ healthy") : c.red(unreadable ? "✘ cannot be read" : "✘ problems found")}  ${c.dim(db)}`,
    `  ${c.dim("integrity")}       ${r.integrity === "ok" ? c.green("ok") : c.red(`${r.findings.length} ${r.findings.length === 1 ? "finding" : "findings"}`)}`,
    ...r.findings.slice(0, 20).map((f) => `    ${c.red("·")} ${f}`),
    ...more(r.findings.length, 20),
    `  ${c.dim("foreign keys")}    ${r.foreignKeyViolations.length === 0 ? (unreadable ? c.dim("not checked") : c.green("ok")) : c.red(`${r.foreignKeyViolations.length} violations`)}`,
    ...r.foreignKeyViolations.slice(0, 20).map((v) => `    ${c.red("·")} ${JSON.stringify(v)}`),
    ...more(r.foreignKeyViolations.length, 20),
    `  ${c.dim("schema version")}  ${r.schemaVersion ?? c.dim("unknown")}`,
    ...(r.errors.length === 0 ? [] : [`  ${c.dim("sqlite errors")}`]),
    ...r.errors.slice(0, 20).map((e) => `    ${c.red("·")} ${e.during}: ${e.code}: ${e.message}`)
  ].join("\n")
}
