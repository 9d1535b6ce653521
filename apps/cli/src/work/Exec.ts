import { ValidationError } from "@abathur/queue"
import { accessSync, constants, statSync } from "node:fs"
import { delimiter, isAbsolute, join, resolve } from "node:path"
import { parse } from "shell-quote"

/**
 * `--exec CMD`: the words of the command line to run per task. Without `--shell` it is split the
 * way a shell splits words (quotes, backslashes, `$VAR` from the worker's environment), but shell
 * syntax (pipes, `&&`, redirections, globs) is refused: that needs `--shell`. The task's text never
 * goes into the command line; it reaches the child on stdin and in its environment.
 */

const TaskVariables = /^ABATHUR_TASK_/

export const parseCommand = (cmd: string, shell: boolean, env: Readonly<Record<string, string | undefined>>): Array<string> => {
  if (cmd.trim() === "") throw new ValidationError({ message: '--exec needs a command, e.g. --exec "node agent.mjs"' })
  if (shell) return ["/bin/sh", "-c", cmd]
  const perTask: Array<string> = []
  const words = parse(cmd, (name: string) => {
    if (TaskVariables.test(name)) perTask.push(name)
    return env[name] ?? ""
  })
  if (perTask.length > 0) {
    throw new ValidationError({
      message: `--exec refers to $${perTask[0]}, which is set per task: read it from the environment in your program, or pass --shell so that the shell expands it`
    })
  }
  const argv: Array<string> = []
  for (const w of words) {
    if (typeof w === "string") {
      argv.push(w)
    } else if ("comment" in w) {
      break
    } else {
      const op = "op" in w ? (w.op === "glob" ? (w as { pattern: string }).pattern : w.op) : "?"
      throw new ValidationError({
        message: `--exec ${JSON.stringify(cmd)} uses shell syntax (${JSON.stringify(op)}): pass --shell to run it with /bin/sh -c, or put it in a script`
      })
    }
  }
  if (argv.length === 0 || argv[0] === "") throw new ValidationError({ message: `--exec ${JSON.stringify(cmd)} names no program` })
  return argv
}

const executable = (path: string): boolean => {
  try {
    if (!statSync(path).isFile()) return false
    accessSync(path, constants.X_OK)
    return true
  } catch {
    return false
  }
}

/**
 * The program's path, found the way execvp finds it (PATH unless the name has a slash), so that a
 * typo is a ValidationError at start rather than a failed attempt per task, and so that each run
 * execs it directly instead of searching PATH again.
 */
export const resolveProgram = (program: string, cwd: string, env: Readonly<Record<string, string | undefined>>): string => {
  if (program.includes("/")) {
    const path = isAbsolute(program) ? program : resolve(cwd, program)
    if (executable(path)) return path
    throw new ValidationError({ message: `--exec: ${program} is not an executable file` })
  }
  for (const dir of (env["PATH"] ?? "").split(delimiter)) {
    const path = join(resolve(cwd, dir), program)
    if (dir !== "" && executable(path)) return path
  }
  throw new ValidationError({ message: `--exec: ${program} is not found on PATH` })
}
