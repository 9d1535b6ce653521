import { TaskStatuses } from "@abathur/domain"
import { type QueueError, TaskQueue, type TaskQueueService } from "@abathur/queue"
import { Context, Effect, Layer } from "effect"

/**
 * Prometheus metrics of this server process, in the text exposition format (version 0.0.4).
 * Counters and histograms live in memory; task counts by status are read from the database
 * at each scrape (so they include work done by other processes).
 */

const escapeLabel = (v: string) => v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"')

type Labels = Readonly<Record<string, string>>

const labelText = (labels: Labels, extra?: string): string => {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`)
  if (extra !== undefined) parts.push(extra)
  return parts.length === 0 ? "" : `{${parts.join(",")}}`
}

const keyOf = (labels: Labels) => JSON.stringify(Object.entries(labels))

const num = (n: number): string => (Number.isFinite(n) ? String(n) : n > 0 ? "+Inf" : n < 0 ? "-Inf" : "NaN")

class Counter {
  private readonly values = new Map<string, { labels: Labels; value: number }>()
  /** `key` identifies a cell by its labels (default: all of them); counters bumped on every commit pass a cheaper one. */
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly key: (labels: Labels) => string = keyOf
  ) {}
  inc(labels: Labels = {}, by = 1): void {
    const k = this.key(labels)
    const cell = this.values.get(k)
    if (cell === undefined) this.values.set(k, { labels, value: by })
    else cell.value += by
  }
  get(labels: Labels = {}): number {
    return this.values.get(this.key(labels))?.value ?? 0
  }
  render(out: Array<string>): void {
    out.push(`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`)
    for (const { labels, value } of this.values.values()) out.push(`${this.name}${labelText(labels)} ${num(value)}`)
  }
}

class Histogram {
  private readonly values = new Map<string, { labels: Labels; counts: Array<number>; sum: number; count: number }>()
  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: ReadonlyArray<number>
  ) {}
  /** `key` identifies the labels (default: derived from them); a caller with a cheaper key passes it. */
  observe(labels: Labels, value: number, key?: string): void {
    const k = key ?? keyOf(labels)
    let cell = this.values.get(k)
    if (cell === undefined) {
      cell = { labels, counts: this.buckets.map(() => 0), sum: 0, count: 0 }
      this.values.set(k, cell)
    }
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]!) cell.counts[i]!++
    cell.sum += value
    cell.count++
  }
  render(out: Array<string>): void {
    out.push(`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`)
    for (const { labels, counts, sum, count } of this.values.values()) {
      this.buckets.forEach((b, i) => {
        out.push(`${this.name}_bucket${labelText(labels, `le="${num(b)}"`)} ${counts[i]}`)
      })
      out.push(`${this.name}_bucket${labelText(labels, 'le="+Inf"')} ${count}`)
      out.push(`${this.name}_sum${labelText(labels)} ${sum}`)
      out.push(`${this.name}_count${labelText(labels)} ${count}`)
    }
  }
}

const gauge = (out: Array<string>, name: string, help: string, rows: ReadonlyArray<[Labels, number]>) => {
  out.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`)
  for (const [labels, value] of rows) out.push(`${name}${labelText(labels)} ${num(value)}`)
}

export interface MetricsService {
  /** Records one HTTP request: its route pattern (not the raw path), status and duration. */
  readonly observeRequest: (method: string, route: string, status: number, seconds: number) => void
  /** Wraps the queue so that claims, completions and failures are counted whoever calls them. */
  readonly instrument: (queue: TaskQueueService) => TaskQueueService
  /** Reports a live value at scrape time (long-poll waiters, SSE clients, ...). */
  readonly registerGauge: (name: string, help: string, read: () => number) => void
  /** The exposition text. */
  readonly render: Effect.Effect<string, QueueError>
}

export class Metrics extends Context.Tag("@abathur/server/Metrics")<Metrics, MetricsService>() {
  /** The registry; also counts every state change the queue publishes, by `from` and `to`. */
  static readonly layer: Layer.Layer<Metrics, never, TaskQueue> = Layer.scoped(
    Metrics,
    Effect.gen(function* () {
      const queue = yield* TaskQueue
      const requests = new Histogram(
        "abathur_http_request_duration_seconds",
        "HTTP request latency by method, route pattern and status.",
        [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]
      )
      const claims = new Counter(
        "abathur_claims_total",
        "Claim attempts through this server (HTTP and MCP; a waiting claim may try several times), by result (claimed or empty).",
        (labels) => labels["result"] ?? ""
      )
      const completions = new Counter("abathur_completions_total", "Tasks completed through this server.", () => "")
      const failures = new Counter(
        "abathur_failures_total",
        "Failed attempts reported through this server, by outcome (retried or failed).",
        (labels) => labels["outcome"] ?? ""
      )
      const transitions = new Counter(
        "abathur_task_transitions_total",
        "Task state changes committed by this server, by from and to.",
        (labels) => `${labels["from"]} ${labels["to"]}`
      )
      for (const result of ["claimed", "empty"]) claims.inc({ result }, 0)
      completions.inc({}, 0)
      for (const outcome of ["retried", "failed"]) failures.inc({ outcome }, 0)
      const gauges: Array<{ name: string; help: string; read: () => number }> = []
      const started = Date.now() / 1000

      yield* queue.onCommit((batch) => {
        for (const c of batch) transitions.inc({ from: c.from ?? "none", to: c.to })
      })

      const service: MetricsService = {
        observeRequest: (method, route, status, seconds) =>
          requests.observe({ method, route, status: String(status) }, seconds, `${method} ${status} ${route}`),
        instrument: (q) => ({
          ...q,
          claim: (input) => Effect.tap(q.claim(input), (task) => Effect.sync(() => claims.inc({ result: task === null ? "empty" : "claimed" }))),
          // Every attempt of a waiting claim counts.
          claimWaiting: (input, options) =>
            q.claimWaiting(input, {
              ...options,
              onAttempt: (claimed) => {
                claims.inc({ result: claimed.length === 0 ? "empty" : "claimed" })
                options?.onAttempt?.(claimed)
              }
            }),
          complete: (id, input, options) => Effect.tap(q.complete(id, input, options), () => Effect.sync(() => completions.inc())),
          completeMany: (items, options) =>
            Effect.tap(q.completeMany(items, options), (r) => Effect.sync(() => completions.inc({}, r.completed.length))),
          fail: (id, input, options) =>
            Effect.tap(q.fail(id, input, options), (r) => Effect.sync(() => failures.inc({ outcome: r.retried ? "retried" : "failed" })))
        }),
        registerGauge: (name, help, read) => {
          gauges.push({ name, help, read })
        },
        render: Effect.map(queue.status(), (status) => {
          const out: Array<string> = []
          gauge(
            out,
            "abathur_tasks",
            "Tasks in the database by status.",
            TaskStatuses.map((s) => [{ status: s }, status.byStatus[s] ?? 0] as [Labels, number])
          )
          gauge(out, "abathur_tasks_total", "Tasks in the database.", [[{}, status.total]])
          if (status.avgPriority !== null) {
            gauge(out, "abathur_open_tasks_avg_priority", "Average calculated priority of open tasks.", [[{}, status.avgPriority]])
          }
          if (status.oldestWaitingAt !== null) {
            gauge(out, "abathur_oldest_waiting_seconds", "Age of the oldest READY or BLOCKED task.", [
              [{}, Math.max(0, (Date.now() - Date.parse(status.oldestWaitingAt)) / 1000)]
            ])
          }
          claims.render(out)
          completions.render(out)
          failures.render(out)
          transitions.render(out)
          for (const g of gauges) gauge(out, g.name, g.help, [[{}, g.read()]])
          gauge(out, "abathur_process_start_time_seconds", "Start time of this server since the Unix epoch.", [[{}, started]])
          requests.render(out)
          return `${out.join("\n")}\n`
        })
      }
      return service
    })
  )
}
