/**
 * Why a migration was refused or failed.
 * - `too-new`: the database was written by a newer version of Abathur; nothing was touched.
 * - `failed`: a migration (or the checks around it) failed; the transaction was rolled back and
 *   the database is exactly as it was.
 */
export type MigrationErrorReason = "too-new" | "failed"

export interface MigrationErrorOptions {
  readonly reason: MigrationErrorReason
  readonly fromVersion: number
  readonly toVersion: number
  /** The migration that failed, when one did. */
  readonly version?: number
  readonly message: string
  readonly cause?: unknown
}

/** Raised by `migrate`. Plain TypeScript: storage maps it to its tagged error. */
export class MigrationError extends Error {
  override readonly name = "MigrationError"
  readonly reason: MigrationErrorReason
  readonly fromVersion: number
  readonly toVersion: number
  readonly version?: number

  constructor(options: MigrationErrorOptions) {
    super(options.message, options.cause === undefined ? undefined : { cause: options.cause })
    this.reason = options.reason
    this.fromVersion = options.fromVersion
    this.toVersion = options.toVersion
    if (options.version !== undefined) this.version = options.version
  }
}
