import type { Socket } from 'node:net'
import type { buildConnector } from 'undici'
import undiciSymbols from 'undici/lib/core/symbols.js'
import { markIdleClose } from '../core/idle-close.ts'
import { hearClose, onConnectionClosed } from './connection-closed.ts'
import { clientOf, idleSince, isIdle } from './undici-socket.ts'

const symbols = undiciSymbols as Record<string, symbol | undefined>
// Where undici keeps a socket's HTTP/1.1 parser, the error it fails the request on the wire
// with, a Client's requests on the wire and its idle timeout for a server that sends no
// Keep-Alive hint.
const kParser = symbols.kParser
const kError = symbols.kError
const kRunning = symbols.kRunning
const kKeepAliveDefaultTimeout = symbols.kKeepAliveDefaultTimeout

// The idle timeout kept is this share of the idle age at which a server was seen to close:
// a server whose timer fires at 1 s sees the client close at 750 ms.
const MARGIN = 0.75
// Closes of connections idle for less than this (ms) teach nothing: a server that resets a
// request at once (a crash on that request) looks like a race on a reused connection, and must
// not shorten keep-alive to nothing. Servers' idle timeouts are seconds (Node 5 s, nginx 75 s).
const MIN_AGE = 500
// Two closes teach only if their idle ages agree within this share: an idle timer closes at
// the same age each time, a restart closes every idle connection at whatever age it had.
const AGREE = 0.25
// A learned timeout is forgotten after this long, in ms: a server that once closed early must
// not shorten connections for good. Learned again if the server still closes.
const LEARNED_FOR = 600_000
// Origins remembered at once; past it, the one learned longest ago is forgotten.
const MAX_ORIGINS = 1_024

/**
 * An origin's watched sockets, with what a socket's close needs to find them: one object per
 * origin, which each of its sockets points to (no object a connection).
 */
interface Watched {
  readonly watch: KeepAliveWatch
  readonly origin: string
  readonly open: Set<Socket>
}

const kWatched = Symbol('netiquette.keepAliveWatch')

type WatchedSocket = Socket & { [kWatched]?: Watched }

interface Learned {
  /** The idle timeout kept, in ms, once learned. */
  timeout: number | undefined
  at: number
  /** The idle age of the last close seen, in ms. */
  lastAge: number | undefined
}

/**
 * The keep-alive race, seen from the sockets of the client's own agent (HTTP/1.1). A server
 * closes a connection that sat idle for its idle timeout; if the client writes a request on it
 * just then, the request fails before a byte of its response. This watch:
 *
 * - marks such an error (`core/idle-close.ts`) when it ends a request on a socket that had gone
 *   idle before it and has read no status line for it, so the retry policy sends it again at once
 *   when it may be sent again, and closes the origin's other connections idle about as long, so
 *   that the retry does not meet the race again on one of them;
 * - learns each origin's idle timeout from the idle age at which its server closed sockets (an
 *   idle socket's FIN, or a keep-alive race): two closes at ages that agree, each after at least
 *   `MIN_AGE` idle, and the client keeps 0.75 of it, so the races stop. A `Keep-Alive: timeout=`
 *   hint is undici's to follow, as before.
 */
export class KeepAliveWatch {
  readonly #configured: number
  readonly #learned = new Map<string, Learned>()
  readonly #sockets = new Map<string, Watched>()
  readonly #now: () => number

  /** @param configured - `agent.keepAliveTimeout`, the timeout before anything is learned. */
  constructor(configured: number, now: () => number = performance.now.bind(performance)) {
    this.#configured = configured
    this.#now = now
  }

  /** `connector`, watching each HTTP/1.1 connection it makes. */
  wrap(connector: buildConnector.connector): buildConnector.connector {
    // What the connector returns is passed on: undici cancels a connect through it.
    return (options, callback) =>
      connector(options, (error, socket) => {
        ;(callback as (error: Error | null, socket: Socket | null) => void)(error, socket as Socket)
        // undici has set the socket's Client up by now (connectH1 runs in the callback).
        if (error === null && socket !== null) {
          this.#watch(`${options.protocol}//${options.host}`, socket as Socket)
        }
      })
  }

  /** The idle timeout the client keeps for `origin`'s connections now, in ms. */
  timeout(origin: string): number {
    return this.#current(origin) ?? this.#configured
  }

  #current(origin: string): number | undefined {
    const learned = this.#learned.get(origin)
    if (learned?.timeout === undefined) return undefined
    if (this.#now() - learned.at <= LEARNED_FOR) return learned.timeout
    this.#learned.delete(origin)
    for (const socket of this.#sockets.get(origin)?.open ?? [])
      this.#apply(socket, this.#configured)
    return undefined
  }

  #watch(origin: string, socket: Socket): void {
    if ((socket as Socket & { alpnProtocol?: unknown }).alpnProtocol === 'h2') return
    if (kParser === undefined) return
    let watched = this.#sockets.get(origin)
    if (watched === undefined) {
      watched = { watch: this, origin, open: new Set() }
      this.#sockets.set(origin, watched)
    }
    watched.open.add(socket)
    const learned = this.#current(origin)
    if (learned !== undefined) this.#apply(socket, learned)
    // No listener of its own: the connection layer's one 'close' listener runs #closed, ahead of
    // undici's (see connection-closed.ts), and finds the origin's state through the socket.
    ;(socket as WatchedSocket)[kWatched] = watched
    hearClose(socket)
  }

  static {
    onConnectionClosed((socket: WatchedSocket) => {
      const watched = socket[kWatched]
      if (watched === undefined) return
      const { watch, origin, open } = watched
      watch.#closed(origin, socket)
      open.delete(socket)
      if (open.size === 0 && watch.#sockets.get(origin) === watched) watch.#sockets.delete(origin)
    })
  }

  /**
   * A watched connection closes, before undici has heard: a request still on it is failed by
   * undici next, with the error it kept on the socket (a race is marked on that error); an idle
   * one that read a FIN was closed by the server's idle timeout, seen without a race.
   */
  #closed(origin: string, socket: Socket): void {
    if (this.#busy(socket)) {
      const error =
        kError === undefined ? undefined : (socket as unknown as Record<symbol, unknown>)[kError]
      if (error instanceof Error) this.#failed(origin, socket, error)
    } else if (socket.readableEnded) {
      this.#closedIdle(origin, socket)
    }
  }

  #busy(socket: Socket): boolean {
    const client = clientOf(socket)
    return client !== undefined && kRunning !== undefined && (client[kRunning] as number) > 0
  }

  /** The socket closed on an error; undici fails the request on the wire with this same object. */
  #failed(origin: string, socket: Socket, error: Error): void {
    if (!this.#busy(socket)) return
    const parser = (socket as unknown as Record<symbol, { statusCode?: number } | null>)[kParser!]
    // A status line of this response was read: the server had answered, it did not close idle.
    if (parser === null || parser === undefined || (parser.statusCode ?? 0) !== 0) return
    const idleFor = this.#idleFor(socket)
    if (idleFor === undefined) return
    markIdleClose(error, idleFor)
    this.#learn(origin, idleFor)
    this.#closeStale(origin, socket, idleFor)
  }

  /**
   * Closes the origin's other connections that have sat idle for half of `idleFor` or more: the
   * server closes its connections at an idle age no longer than that, so they are closed or about
   * to be, and the retry of the failed request must not be put on one of them (undici's pool
   * takes the first free connection, not the youngest).
   */
  #closeStale(origin: string, failed: Socket, idleFor: number): void {
    const now = performance.now()
    for (const socket of this.#sockets.get(origin)?.open ?? []) {
      if (socket === failed || !isIdle(socket)) continue
      const since = idleSince(socket)
      if (since !== undefined && now - since >= idleFor / 2) socket.destroy()
    }
  }

  #closedIdle(origin: string, socket: Socket): void {
    const idleFor = this.#idleFor(socket)
    if (idleFor !== undefined) this.#learn(origin, idleFor)
  }

  /** How long the socket had been idle; `undefined` if it never went idle (a new connection). */
  #idleFor(socket: Socket): number | undefined {
    const since = idleSince(socket)
    // undici's clock, not this watch's: the two are compared.
    return since === undefined ? undefined : Math.max(0, performance.now() - since)
  }

  /** A close of a connection that had sat idle `idleFor` ms. */
  #learn(origin: string, idleFor: number): void {
    if (idleFor < MIN_AGE) return
    const current = this.#current(origin)
    let entry = this.#learned.get(origin)
    if (entry === undefined) {
      if (this.#learned.size >= MAX_ORIGINS)
        this.#learned.delete(this.#learned.keys().next().value!)
      entry = { timeout: undefined, at: this.#now(), lastAge: undefined }
      this.#learned.set(origin, entry)
    }
    const last = entry.lastAge
    entry.lastAge = idleFor
    if (last === undefined || Math.abs(idleFor - last) > AGREE * Math.min(idleFor, last)) return
    const timeout = Math.floor(MARGIN * Math.min(idleFor, last))
    if (timeout >= (current ?? this.#configured)) return
    entry.timeout = timeout
    entry.at = this.#now()
    for (const socket of this.#sockets.get(origin)?.open ?? []) this.#apply(socket, timeout)
  }

  #apply(socket: Socket, timeout: number): void {
    const client = clientOf(socket)
    if (client !== undefined && kKeepAliveDefaultTimeout !== undefined) {
      client[kKeepAliveDefaultTimeout] = timeout
    }
  }
}
