/**
 * The HTTP floor: a bare node:http server on loopback that reads the request body and answers a
 * small JSON body. Started as a child process by the H workloads, like abathur-server, and
 * driven by the same client; prints `listening on http://HOST:PORT` to stderr as the server does.
 *
 *   node bench/dist/bareserver.js [--port 0] [--host 127.0.0.1]
 */
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(name)
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback
}

const answer = Buffer.from(JSON.stringify({ ok: true, id: "00000000-0000-4000-8000-000000000000", status: "running" }))

const server = createServer({ keepAliveTimeout: 5_000 }, (req, res) => {
  let size = 0
  req.on("data", (chunk: Buffer) => (size += chunk.length))
  req.on("end", () => {
    res.writeHead(200, { "content-type": "application/json", "content-length": answer.length })
    res.end(answer)
  })
})

server.listen({ port: Number(arg("--port", "0")), host: arg("--host", "127.0.0.1") }, () => {
  const a = server.address() as AddressInfo
  process.stderr.write(`listening on http://${a.address}:${a.port}\n`)
})

const stop = () => {
  server.close(() => process.exit(0))
  server.closeIdleConnections()
  setTimeout(() => process.exit(0), 1_000).unref()
}
process.on("SIGTERM", stop)
process.on("SIGINT", stop)
