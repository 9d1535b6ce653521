// abathur-server: reads the command line first (cheap), then loads and runs the server.
import { ConfigError, parseCommand, usage } from "./Config.js"
import { VERSION } from "./Version.js"

const fail = (message: string): never => {
  process.stderr.write(`abathur-server: ${message}\n${JSON.stringify({ error: { _tag: "ValidationError", message } })}\n`)
  process.exit(2)
}

let command: ReturnType<typeof parseCommand> | undefined
try {
  command = parseCommand(process.argv.slice(2), process.env)
} catch (error) {
  if (!(error instanceof ConfigError)) throw error
  fail(error.message)
}
if (command?._tag === "Help") process.stdout.write(`${usage}\n`)
else if (command?._tag === "Version") process.stdout.write(`abathur-server ${VERSION}\n`)
else if (command?._tag === "Serve") {
  const { run } = await import("./Run.js")
  run(command.config)
}
