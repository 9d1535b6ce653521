import pg from "pg"
import { LEASE_CHANNEL, READY_CHANNEL } from "./Schema.js"

export interface ReadyListener {
  /** Stops listening and closes the connection. */
  readonly close: () => Promise<void>
}

export interface ListenOptions {
  /** The database, as for `openPostgres`. */
  readonly url: string
  /**
   * Called with the agent type of a task that became READY in a committed transaction (any
   * server's), and with `null` after a reconnection (notifications may have been missed: look).
   */
  readonly onReady: (agentType: string | null) => void
  /**
   * When given, also called when a task entered RUNNING in a committed transaction (any server's
   * claim: a new lease, whose expiry makes the task claimable again; migration 4's trigger). After
   * a reconnection only `onReady(null)` is called: it stands for both.
   */
  readonly onLease?: () => void
  /** Pause before reconnecting after the connection dropped (default 1000 ms, doubling up to 30 s). */
  readonly reconnectMs?: number
}

/**
 * Wake-ups across servers: one dedicated connection that `LISTEN`s on the ready channel (migration
 * 2's trigger notifies it at commit), so a server wakes its waiting workers when any server makes
 * work READY, without polling; with `onLease`, on the lease channel too (migration 4), so that it
 * knows when a lease taken anywhere expires. Reconnects on its own when the connection drops.
 */
export const listenReady = async (options: ListenOptions): Promise<ReadyListener> => {
  let closed = false
  let client: pg.Client | null = null
  let pause = options.reconnectMs ?? 1000
  let timer: NodeJS.Timeout | undefined

  const reconnect = (): void => {
    if (closed) return
    timer = setTimeout(() => {
      connect().then(() => options.onReady(null), reconnect)
    }, pause)
    pause = Math.min(pause * 2, 30_000)
  }

  const connect = async (): Promise<void> => {
    const c = new pg.Client({ connectionString: options.url })
    c.on("notification", (msg) => {
      if (msg.channel === READY_CHANNEL) options.onReady(msg.payload ?? null)
      else if (msg.channel === LEASE_CHANNEL) options.onLease?.()
    })
    const lost = () => {
      if (closed || client !== c) return
      client = null
      c.end().catch(() => undefined)
      reconnect()
    }
    c.on("error", lost)
    c.on("end", lost)
    client = c
    try {
      await c.connect()
      await c.query(options.onLease === undefined ? `LISTEN ${READY_CHANNEL}` : `LISTEN ${READY_CHANNEL}; LISTEN ${LEASE_CHANNEL}`)
      pause = options.reconnectMs ?? 1000
    } catch (error) {
      if (client === c) client = null
      await c.end().catch(() => undefined)
      throw error
    }
  }

  await connect()
  return {
    close: async () => {
      closed = true
      clearTimeout(timer)
      const c = client
      client = null
      await c?.end()
    }
  }
}
