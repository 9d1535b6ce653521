/**
 * What the worker (Spawner.ts) and its spawner helper (SpawnerHelper.ts) say to each other over
 * the IPC channel. A module of its own: the CLI bundle must not include the helper's program.
 */

/** The worker's messages to the helper. */
export type ToHelper =
  | { readonly t: "env"; readonly env: Readonly<Record<string, string | undefined>> }
  | {
      readonly t: "start"
      readonly key: number
      readonly file: string
      readonly argv0: string
      readonly args: ReadonlyArray<string>
      readonly env: Readonly<Record<string, string>>
      readonly cwd: string
      readonly stdin: string
      readonly logPath: string | null
      readonly logHeader: string
      /** From SIGTERM to SIGKILL if the worker goes while this command runs. */
      readonly graceMs: number
      readonly stdoutKeep: number
      readonly stderrKeep: number
    }

/** The helper's messages to the worker. */
export type FromHelper =
  | { readonly t: "ready" }
  | { readonly t: "spawned"; readonly key: number; readonly pid: number }
  | {
      readonly t: "exit"
      readonly key: number
      readonly code: number | null
      readonly signal: NodeJS.Signals | null
      readonly spawnError: string | null
      readonly stdout: Uint8Array
      readonly stdoutTruncated: boolean
      readonly stderr: Uint8Array
      readonly stderrTruncated: boolean
      readonly durationMs: number
    }

/** After the worker went: from SIGTERM to SIGKILL of the commands' process groups. */
export const SHUTDOWN_GRACE_MS = 1000
