import { describe, expect, it } from "vitest"
import { isPostgresUrl, postgresUrlProblem, redactUrl } from "../src/Url.js"

describe("which store a --db string names", () => {
  it("postgres:// and postgresql:// URLs (any case) select PostgreSQL; anything else is an SQLite path", () => {
    for (const db of ["postgres://u:p@h/db", "postgresql://h/db", "POSTGRES://h:5432/db", " postgres://h/db"]) expect(isPostgresUrl(db)).toBe(true)
    for (const db of ["./.abathur/abathur.db", "/tmp/postgres://x", "postgres.db", "postgres:/h/db", "C:/data/q.db", ":memory:"]) {
      expect(isPostgresUrl(db)).toBe(false)
    }
  })

  it("a malformed URL is named (its password hidden), a well-formed one passes", () => {
    expect(postgresUrlProblem("postgres://u:pw@db.internal:5432/abathur")).toBeNull()
    expect(postgresUrlProblem("postgres:///abathur?host=/var/run/postgresql")).toBeNull()
    const bad = postgresUrlProblem("postgres://u:hunter2@[nope/db")
    expect(bad).toContain("is not a valid URL")
    expect(bad).toContain("postgres://u:***@")
    expect(bad).not.toContain("hunter2")
    expect(postgresUrlProblem("postgres:///abathur")).toContain("names no host")
  })

  it("hides the password for messages, and leaves a URL without one as it is", () => {
    expect(redactUrl("postgres://u:hunter2@h:5432/db")).toBe("postgres://u:***@h:5432/db")
    expect(redactUrl("postgres://h:5432/db")).toBe("postgres://h:5432/db")
    expect(redactUrl("postgres://u:hunter2@[bad/db")).toBe("postgres://u:***@[bad/db")
  })
})
