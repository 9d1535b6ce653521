import { dirname, join, resolve } from "node:path"

/**
 * Where `abathur work` keeps each child's output: `logs/<task id>.log` in the folder of the
 * database file. Every attempt at a task appends to the same file, after a header line.
 */
export const taskLogDir = (dbPath: string): string => join(dirname(resolve(dbPath)), "logs")

/** The log file of a task's runs under `abathur work` (it exists once a worker has run the task). */
export const taskLogPath = (dbPath: string, taskId: string): string => join(taskLogDir(dbPath), `${taskId}.log`)
