import { isPostgresUrl } from "@abathur/postgres/url"
import { dirname, join, resolve } from "node:path"

/**
 * Where `abathur work` keeps each child's output: `logs/<task id>.log` in the folder of the
 * database file (for a PostgreSQL URL, `./.abathur/logs` of the working folder, on the machine
 * that ran the task). Every attempt at a task appends to the same file, after a header line.
 */
export const taskLogDir = (dbPath: string): string => (isPostgresUrl(dbPath) ? resolve(".abathur", "logs") : join(dirname(resolve(dbPath)), "logs"))

/** The log file of a task's runs under `abathur work` (it exists once a worker has run the task). */
export const taskLogPath = (dbPath: string, taskId: string): string => join(taskLogDir(dbPath), `${taskId}.log`)
