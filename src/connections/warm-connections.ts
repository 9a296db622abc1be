import type { Socket } from 'node:net'
import type { buildConnector } from 'undici'
import { channels } from '../core/events.ts'
import { connectionFacts } from './connection-facts.ts'
import { preconnectCount } from './preconnect.ts'

// Connections one origin may have waiting at once: more would only wait to be closed idle.
const MAX_PARKED = 1_024

/** Payload of `netiquette:connect` when a connection opened ahead of traffic is handed over. */
export interface ConnectWarmEvent {
  type: 'warm'
  origin: string
  /** How long the connection had waited, in ms. */
  waited: number
}

/** `agent.preconnect` and what it reads of the origin's connections. */
export interface Preconnect {
  /** Connections to keep open or opening per connection in demand (above 1). */
  readonly ratio: number
  /** Most connections per origin (`agent.connections`): more would never be asked for. */
  readonly max: number
  /** The origin's open connections, and how many of them are busy (parked ones count as busy). */
  readonly counts: (origin: string) => { open: number; busy: number }
}

// Origins a set of WarmConnections remembers; past it, the first added is forgotten.
const MAX_ORIGINS = 1_024

function remember(origins: Set<string>, origin: string): void {
  if (origins.has(origin)) return
  if (origins.size >= MAX_ORIGINS) origins.delete(origins.values().next().value!)
  origins.add(origin)
}

function add(counts: Map<string, number>, origin: string, by: number): void {
  const next = (counts.get(origin) ?? 0) + by
  if (next === 0) counts.delete(origin)
  else counts.set(origin, next)
}

interface Parked {
  readonly socket: Socket
  readonly since: number
  readonly timer: ReturnType<typeof setTimeout>
  readonly drop: () => void
}

/**
 * Connections opened ahead of traffic (`client.warm(origin, n)`): made through the agent's
 * connector chain (so they count against `totalConnections` and are raced like any connect), then
 * parked until undici asks for a connection to that origin, when one is handed over at once: a
 * burst after a deploy or a cold start pays no handshake on its critical path. A parked connection
 * the server closes, or that sends anything unasked, is dropped; one still parked after
 * `keepFor` ms is closed (idle connections are not kept longer than the keep-alive timeout).
 */
export class WarmConnections {
  readonly #parked = new Map<string, Parked[]>()
  readonly #keepFor: (origin: string) => number
  readonly #preconnect: Preconnect | undefined
  // Per origin: connects undici asked for that are under way, and connects opened ahead.
  readonly #connecting = new Map<string, number>()
  readonly #opening = new Map<string, number>()
  // Origins whose connections are HTTP/1.1: an HTTP/2 session carries every request, so nothing
  // is opened ahead for an https origin, and `warm()` opens one, until one of its connections
  // turned out not to be h2.
  readonly #http1 = new Set<string>()
  // Origins whose last connects opened ahead all failed: nothing more is opened ahead for them
  // until a connect succeeds, so that an origin that is down does not get ratio x the connects.
  readonly #failing = new Set<string>()
  #connector: buildConnector.connector | undefined
  #closed = false

  /**
   * @param keepFor - how long an origin's parked connection is kept, in ms.
   * @param preconnect - `agent.preconnect`, when above 1.
   */
  constructor(keepFor: (origin: string) => number, preconnect?: Preconnect) {
    this.#keepFor = keepFor
    this.#preconnect = preconnect
  }

  /**
   * `connector`, handing over a parked connection to the origin when there is one; with
   * `preconnect`, each connect undici asks for also opens connections ahead, to be parked.
   */
  wrap(connector: buildConnector.connector): buildConnector.connector {
    this.#connector = connector
    return (options, callback) => {
      const origin = `${options.protocol}//${options.host}`
      const parked = this.#take(origin)
      if (this.#preconnect !== undefined) {
        if (parked === undefined) return this.#connectAhead(origin, options, connector, callback)
        this.#openAhead(origin, options)
      }
      // What undici may cancel the connect through (see pending-connect.ts) is passed on.
      if (parked === undefined) return connector(options, callback)
      if (channels.connect.hasSubscribers) {
        const event: ConnectWarmEvent = {
          type: 'warm',
          origin,
          waited: performance.now() - parked.since,
        }
        channels.connect.publish(event)
      }
      // undici expects the callback later than the call, as a real connect's.
      queueMicrotask(() => (callback as (e: null, s: Socket) => void)(null, parked.socket))
      return parked.socket as unknown as undefined
    }
  }

  /**
   * Opens `count` connections to the origin with `options` (undici's connect options for it) and
   * parks them. Resolves with how many were opened; rejects with the first error if none was.
   *
   * Over TLS the protocol is known only once a connection is up, and an HTTP/2 session carries
   * every request: to an https origin not yet seen to speak HTTP/1.1, one connection is opened
   * first, and the others only if it is not HTTP/2. A server then holds one warmed connection
   * per client instead of `count`, of which undici would use one.
   */
  async open(origin: string, options: buildConnector.Options, count: number): Promise<number> {
    if (count > 1 && options.protocol === 'https:' && !this.#http1.has(origin)) {
      const first = await this.#openParked(origin, options, 1)
      if (!this.#http1.has(origin)) return first
      // The rest are best effort once one is up: their failure leaves one warmed.
      return first + (await this.#openParked(origin, options, count - 1).catch(() => 0))
    }
    return this.#openParked(origin, options, count)
  }

  /** {@link open}'s connects, all at once; notes an origin whose connection is not HTTP/2. */
  async #openParked(
    origin: string,
    options: buildConnector.Options,
    count: number,
  ): Promise<number> {
    const connector = this.#connector
    if (connector === undefined) return 0
    const results = await Promise.allSettled(
      Array.from(
        { length: count },
        () =>
          new Promise<Socket>((resolve, reject) =>
            connector({ ...options }, (error, socket) => {
              if (error !== null || socket === null) reject(error ?? new Error('no socket'))
              else resolve(socket as Socket)
            }),
          ),
      ),
    )
    let opened = 0
    let firstError: unknown
    for (const result of results) {
      if (result.status === 'fulfilled') {
        if ((result.value as Socket & { alpnProtocol?: unknown }).alpnProtocol !== 'h2') {
          remember(this.#http1, origin)
        }
        this.#park(origin, result.value)
        opened++
      } else firstError ??= result.reason
    }
    if (opened === 0 && firstError !== undefined) throw firstError
    return opened
  }

  /** A connect undici asked for, counted as demand while under way, then more opened ahead. */
  #connectAhead(
    origin: string,
    options: buildConnector.Options,
    connector: buildConnector.connector,
    callback: buildConnector.Callback,
  ): ReturnType<buildConnector.connector> {
    add(this.#connecting, origin, 1)
    const made = connector(options, (error, socket) => {
      add(this.#connecting, origin, -1)
      if (socket !== null) {
        this.#failing.delete(origin)
        if ((socket as Socket & { alpnProtocol?: unknown }).alpnProtocol !== 'h2') {
          remember(this.#http1, origin)
        }
      }
      ;(callback as (e: Error | null, s: Socket | null) => void)(error, socket as Socket | null)
    })
    this.#openAhead(origin, options)
    return made
  }

  /** Opens connections ahead so that `ratio` x the connections in demand are open or opening. */
  #openAhead(origin: string, options: buildConnector.Options): void {
    const preconnect = this.#preconnect!
    if (this.#closed || this.#failing.has(origin)) return
    if (options.protocol === 'https:' && !this.#http1.has(origin)) return
    const { open, busy } = preconnect.counts(origin)
    const parked = this.parked(origin)
    const connecting = this.#connecting.get(origin) ?? 0
    const opening = this.#opening.get(origin) ?? 0
    // Parked connections count as open and busy to the cap (no request is on them yet).
    const demand = busy - parked + connecting
    const have = open + connecting + opening
    const count = preconnectCount(preconnect.ratio, demand, have, preconnect.max)
    if (count === 0) return
    add(this.#opening, origin, count)
    this.open(origin, options, count).then(
      () => add(this.#opening, origin, -count),
      // Opening ahead is best effort: a failure here is met again, and reported, by a call.
      () => {
        add(this.#opening, origin, -count)
        remember(this.#failing, origin)
      },
    )
  }

  /** Connections parked for the origin now. */
  parked(origin: string): number {
    return this.#parked.get(origin)?.length ?? 0
  }

  /** Closes every parked connection (the client is closing). */
  close(): void {
    this.#closed = true
    for (const list of this.#parked.values()) {
      for (const entry of list.splice(0)) {
        clearTimeout(entry.timer)
        entry.socket.destroy()
      }
    }
    this.#parked.clear()
  }

  #park(origin: string, socket: Socket): void {
    let list = this.#parked.get(origin)
    // Past the limit, or opened after the client closed (a connect under way then): not kept.
    if ((list?.length ?? 0) >= MAX_PARKED || socket.destroyed || this.#closed) {
      socket.destroy()
      return
    }
    if (list === undefined) this.#parked.set(origin, (list = []))
    connectionFacts(socket).warm = true
    const drop = () => {
      const at = list.indexOf(entry)
      if (at >= 0) list.splice(at, 1)
      if (list.length === 0 && this.#parked.get(origin) === list) this.#parked.delete(origin)
      clearTimeout(entry.timer)
      socket.off('close', drop).off('readable', unasked).off('error', drop)
    }
    // Bytes nobody asked for, or the server's FIN: the connection is not fit to carry a request.
    // ('readable' leaves the socket paused, as undici reads it; a 'data' listener would not.)
    const unasked = () => {
      drop()
      socket.destroy()
    }
    const entry: Parked = {
      socket,
      since: performance.now(),
      timer: setTimeout(unasked, this.#keepFor(origin)).unref(),
      drop,
    }
    socket.once('close', drop).once('error', drop)
    // An HTTP/2 server speaks first (its SETTINGS, as soon as TLS is up): those bytes are the
    // session's, left unread in the kernel for it. Such a connection's FIN is seen only once the
    // session reads, and a call that meets it fails as on any connection closed under it.
    if ((socket as Socket & { alpnProtocol?: unknown }).alpnProtocol !== 'h2') {
      socket.once('readable', unasked)
    }
    list.push(entry)
  }

  #take(origin: string): Parked | undefined {
    const list = this.#parked.get(origin)
    while (list !== undefined && list.length > 0) {
      const entry = list.shift()!
      entry.drop()
      if (!entry.socket.destroyed) return entry
    }
    return undefined
  }
}
