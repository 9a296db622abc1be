import type { Http2Session } from 'node:http2'
import type { Socket } from 'node:net'
import type { buildConnector } from 'undici'
import undiciSymbols from 'undici/lib/core/symbols.js'
import { NetiquetteError } from '../errors.ts'
import type { ConnectionWatch, WatchedAttempt } from '../core/connection-watch.ts'
import type { ConnectionStats } from './connection-stats.ts'

/**
 * Health of the HTTP/2 sessions a client's default agent opens (`agent.http2`). undici keeps one
 * session per connection and multiplexes every request to the origin over it, so a session that
 * silently died (a proxy that stopped forwarding, a NAT entry dropped, a hung peer) takes every
 * call with it until each reaches its deadline: undici itself PINGs only once a minute, or after a
 * stream's headers timeout (30 s by our defaults).
 */
export interface Http2Options {
  /**
   * Quiet time after which a session is checked with a PING, in ms: while attempts wait on it
   * and nothing at all has been read from it for this long, and before a request that could not
   * be sent again (not idempotent) is put on a session that has been quiet this long. An
   * idempotent request goes at once and the PING runs beside it: if the session is dead, it is
   * retried. Pings are sent only when calls need the session, never to keep an idle one open
   * (gRPC servers answer a client that pings idle connections with GOAWAY `too_many_pings`).
   * @defaultValue 1000 (undici's floor for a liveness probe: an ack on a live but loaded
   *   connection can take hundreds of ms; with `pingTimeout`, a dead session is left within
   *   about 2.5 s, well inside a 5 s call deadline)
   */
  pingAfter?: number
  /**
   * How long a PING may go unanswered before the session is closed, in ms (gRPC's keepalive
   * timeout). Its attempts fail with `NQ_H2_UNRESPONSIVE` and are retried when safe; requests
   * undici still held go to a new session.
   * @defaultValue 1000 (gRPC's default of 20 s is made for streams that live for minutes;
   *   service calls here have deadlines of seconds)
   */
  pingTimeout?: number
  /**
   * Age after which a session drains, in ms: it takes no new streams, finishes the ones it has,
   * and new requests open a new session (Envoy's `max_connection_duration`, gRPC's
   * `MaxConnectionAge`). With one long-lived multiplexed connection per origin, an origin scaled
   * out behind a layer-4 balancer, or moved by DNS, would otherwise never see this client again.
   * 0 for none.
   * @defaultValue 300000 (5 minutes)
   */
  maxSessionAge?: number
  /**
   * Streams a session carries before it drains (Envoy's `max_requests_per_connection`). 0 for
   * none. Age and count are checked a few times per `pingAfter`, not before every stream, so a
   * burst can run past the count by what arrives in a quarter of `pingAfter`.
   * @defaultValue 0 (none: `maxSessionAge` already rotates sessions)
   */
  maxSessionRequests?: number
}

/** What the session watch knows of an origin's connections, for `client.stats()`. */
export type SessionStats = Pick<ConnectionStats, 'protocol' | 'sessions' | 'maxConcurrentStreams'>

/** {@link Http2Options} with every default applied. */
export type ResolvedHttp2Options = Required<Http2Options>

/** The defaults of {@link Http2Options}, with their reasons in its TSDoc. */
export const DEFAULT_HTTP2_OPTIONS: Readonly<Required<Http2Options>> = Object.freeze({
  pingAfter: 1_000,
  pingTimeout: 1_000,
  maxSessionAge: 300_000,
  maxSessionRequests: 0,
})

const symbols = undiciSymbols as Record<string, symbol | undefined>
// Where undici keeps a connection's session and the error its requests fail with.
const kHTTP2Session = symbols.kHTTP2Session
const kError = symbols.kError
const NO_ERROR = 0
const CANCEL = 8
// Origins whose connections are remembered at once (see #evictIdle).
const MAX_ORIGINS = 1_024
const MAX_STREAM_ID = 2 ** 31 - 1
// Methods a request can be sent again with: they need not wait for a PING's answer.
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE', 'QUERY'])

interface Watched {
  readonly session: Http2Session
  readonly socket: Socket
  readonly born: number
  bytesRead: number
  // When something was last read from the session (at the latest), or it answered a PING.
  lastRead: number
  // When bytesRead was last looked at: a change seen now happened after this.
  checkedAt: number
  // The PING in flight, answered or not: several waiters share it.
  ping: Promise<void> | undefined
  draining: boolean
}

/**
 * The sessions of one origin, and the attempts waiting on it. It is also the ticket of every
 * attempt that need not wait for a PING (nearly all of them), so that following an attempt
 * allocates nothing.
 */
interface OriginSessions extends WatchedAttempt {
  readonly sessions: Set<Watched>
  protocol: '1.1' | '2'
  waiting: number
  timer: NodeJS.Timeout | undefined
  // When dispatching() last looked at the sessions.
  checkedAt: number
}

/**
 * Watches the connections a default agent makes: the HTTP version each negotiated, and the
 * health, age and load of its HTTP/2 sessions. Wraps the agent's connector; the transport reports
 * to it through {@link ConnectionWatch}.
 */
export class H2Sessions implements ConnectionWatch {
  readonly #options: ResolvedHttp2Options
  readonly #origins = new Map<string, OriginSessions>()
  readonly #now: () => number
  // Whether any origin has an HTTP/2 session: until then, dispatching() costs one comparison.
  #anyH2 = false

  constructor(
    options: ResolvedHttp2Options,
    now: () => number = performance.now.bind(performance),
  ) {
    this.#options = options
    this.#now = now
  }

  /** `connector`, reporting each connection it makes to this watch. */
  wrap(connector: buildConnector.connector): buildConnector.connector {
    return (options, callback) =>
      connector(options, (error, socket) => {
        if (error === null && socket !== null) {
          this.#connected(`${options.protocol}//${options.host}`, socket as Socket)
        }
        ;(callback as (error: Error | null, socket: Socket | null) => void)(error, socket as Socket)
      })
  }

  protocol(origin: string): '1.1' | '2' | undefined {
    return this.#origins.get(origin)?.protocol
  }

  dispatching(origin: string, method: string): WatchedAttempt | undefined {
    if (!this.#anyH2) return undefined
    const entry = this.#origins.get(origin)
    if (entry === undefined || entry.sessions.size === 0) return undefined
    entry.waiting++
    const every = this.#options.pingAfter / 4
    entry.timer ??= setInterval(() => this.#tick(entry), every).unref()
    // The sessions are looked at a few times per pingAfter, not per attempt: under steady
    // traffic a session is far from quiet, and looking costs a few getters per session.
    const now = this.#now()
    if (now - entry.checkedAt < every) return entry
    entry.checkedAt = now
    let wait: Promise<void>[] | undefined
    for (const watched of entry.sessions) {
      if (this.#retired(watched, entry)) continue
      this.#drainIfDue(watched, now)
      if (watched.draining || !this.#quiet(watched, now)) continue
      const ping = this.#ping(watched, entry)
      if (!IDEMPOTENT.has(method)) (wait ??= []).push(ping)
    }
    if (wait === undefined) return entry
    return { wait: Promise.all(wait).then(noop), settled: () => entry.settled() }
  }

  #settled(entry: OriginSessions): void {
    entry.waiting--
    if (entry.waiting === 0 && entry.timer !== undefined) {
      clearInterval(entry.timer)
      entry.timer = undefined
    }
  }

  /** The origin's connections, for `client.stats()`. */
  stats(origin: string): SessionStats | undefined {
    const entry = this.#origins.get(origin)
    if (entry === undefined) return undefined
    let sessions = 0
    let maxConcurrentStreams: number | undefined
    for (const watched of entry.sessions) {
      if (this.#retired(watched, entry)) continue
      sessions++
      const peer = watched.session.remoteSettings?.maxConcurrentStreams
      if (peer !== undefined) maxConcurrentStreams = Math.min(peer, maxConcurrentStreams ?? peer)
    }
    return { protocol: entry.protocol, sessions, maxConcurrentStreams }
  }

  /** Stops every timer (the client is closing). */
  close(): void {
    for (const entry of this.#origins.values()) {
      if (entry.timer !== undefined) clearInterval(entry.timer)
      entry.timer = undefined
    }
  }

  #connected(origin: string, socket: Socket): void {
    let entry = this.#origins.get(origin)
    const h2 = (socket as Socket & { alpnProtocol?: unknown }).alpnProtocol === 'h2'
    if (entry === undefined) {
      const created: OriginSessions = {
        sessions: new Set(),
        protocol: h2 ? '2' : '1.1',
        waiting: 0,
        timer: undefined,
        checkedAt: -Infinity,
        wait: undefined,
        // The transport calls it once per attempt, when the attempt has headers or failed.
        settled: () => this.#settled(created),
      }
      entry = created
      this.#evictIdle()
      this.#origins.set(origin, entry)
    }
    entry.protocol = h2 ? '2' : '1.1'
    if (!h2 || kHTTP2Session === undefined) return
    const found = entry
    // undici makes the session as soon as our callback returns.
    setImmediate(() => {
      const session = (socket as unknown as Record<symbol, Http2Session | undefined>)[kHTTP2Session]
      if (session === undefined || session.destroyed || session.closed) return
      const now = this.#now()
      const watched: Watched = {
        session,
        socket,
        born: now,
        bytesRead: socket.bytesRead,
        lastRead: now,
        checkedAt: now,
        ping: undefined,
        draining: false,
      }
      found.sessions.add(watched)
      this.#anyH2 = true
      session.once('close', () => found.sessions.delete(watched))
      cancelWithCancel(session)
    })
  }

  /**
   * Keeps the map bounded for a client that calls many origins (webhooks): past
   * `MAX_ORIGINS`, the oldest origin with no session and nothing waiting is forgotten (its
   * protocol is learned again from its next connection).
   */
  #evictIdle(): void {
    if (this.#origins.size < MAX_ORIGINS) return
    for (const [origin, entry] of this.#origins) {
      if (entry.sessions.size === 0 && entry.waiting === 0) {
        this.#origins.delete(origin)
        return
      }
    }
  }

  /** Whether the session is gone (and forgets it then). */
  #retired(watched: Watched, entry: OriginSessions): boolean {
    const { session } = watched
    if (!session.destroyed && !session.closed) return false
    entry.sessions.delete(watched)
    return true
  }

  /**
   * Whether nothing was read from the session for `pingAfter`. A read seen now happened some
   * time since the last look: it is taken to have happened right after it, so that a session
   * nobody looked at for a while counts as quiet (a PING too many costs a round trip; one too
   * few can put a request on a dead session).
   */
  #quiet(watched: Watched, now: number): boolean {
    const read = watched.socket.bytesRead
    if (read !== watched.bytesRead) {
      watched.bytesRead = read
      watched.lastRead = watched.checkedAt
    }
    watched.checkedAt = now
    return watched.ping === undefined && now - watched.lastRead >= this.#options.pingAfter
  }

  #tick(entry: OriginSessions): void {
    const now = this.#now()
    for (const watched of entry.sessions) {
      if (this.#retired(watched, entry)) continue
      if (this.#quiet(watched, now)) void this.#ping(watched, entry)
    }
  }

  /** PINGs the session, once at a time; closes it when the answer does not come in time. */
  #ping(watched: Watched, entry: OriginSessions): Promise<void> {
    if (watched.ping !== undefined) return watched.ping
    const { session } = watched
    const sent = this.#now()
    const ping = new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        // Waiters go on once undici has seen the connection close: dispatched sooner, they
        // would fail with the dead session's requests rather than open a new one.
        watched.socket.once('close', () => setImmediate(resolve))
        this.#unresponsive(watched, entry, this.#now() - sent)
      }, this.#options.pingTimeout)
      timer.unref()
      const answered = (error: Error | null) => {
        clearTimeout(timer)
        watched.ping = undefined
        if (error === null) {
          watched.lastRead = this.#now()
          watched.bytesRead = watched.socket.bytesRead
        }
        resolve()
      }
      try {
        if (!session.ping(answered)) answered(null)
      } catch {
        // Closing already, or too many PINGs outstanding: nothing more to learn from one.
        answered(null)
      }
    })
    watched.ping = ping
    return ping
  }

  /** Closes a session that did not answer: its attempts fail, undici opens a new one. */
  #unresponsive(watched: Watched, entry: OriginSessions, waited: number): void {
    entry.sessions.delete(watched)
    const { session, socket } = watched
    if (session.destroyed) return
    const error = new NetiquetteError(
      'NQ_H2_UNRESPONSIVE',
      `the HTTP/2 session to ${socket.remoteAddress ?? 'the origin'}:${socket.remotePort ?? ''} ` +
        `did not answer a PING within ${Math.round(waited)} ms (agent.http2.pingTimeout ` +
        `${this.#options.pingTimeout} ms); it was closed`,
    )
    // undici fails the session's requests with the error it finds here.
    if (kError !== undefined) (socket as unknown as Record<symbol, unknown>)[kError] = error
    session.destroy(error)
    socket.destroy(error)
  }

  /**
   * Drains a session past its age or request count: undici is told as a server's GOAWAY tells it,
   * so it puts new requests on a new connection and lets the streams in flight finish. (Closing
   * the session directly would not do: undici answers a closed session by destroying it,
   * streams and all.)
   */
  #drainIfDue(watched: Watched, now: number): void {
    if (watched.draining) return
    const { maxSessionAge, maxSessionRequests } = this.#options
    const old = maxSessionAge > 0 && now - watched.born >= maxSessionAge
    const used =
      !old &&
      maxSessionRequests > 0 &&
      (watched.session.state.nextStreamID ?? 1) >= 2 * maxSessionRequests + 1
    if (!old && !used) return
    watched.draining = true
    watched.session.emit('goaway', NO_ERROR, MAX_STREAM_ID, Buffer.alloc(0))
  }
}

function noop(): void {}

/**
 * Makes the streams of `session` send `CANCEL` when they are closed without a code. undici
 * closes a stream it aborts (a hedge's loser, a call past its deadline, a caller's abort) with
 * `stream.close()`, whose code defaults to `NO_ERROR`; RFC 9113 section 8.7 names `CANCEL` for
 * a stream the client no longer needs, and servers and proxies log and count it as such. Every
 * other close undici makes passes its code (`REFUSED_STREAM` on a GOAWAY), and is kept. undici
 * opens each stream with `session.request()`: the session's own method is wrapped, Node's and
 * other sessions' are untouched.
 */
function cancelWithCancel(session: Http2Session): void {
  const client = session as Http2Session & {
    request?: (...args: unknown[]) => { close: (code?: number, callback?: () => void) => void }
  }
  const open = client.request
  if (typeof open !== 'function') return
  client.request = function request(...args: unknown[]) {
    const stream = open.apply(this, args)
    const close = stream.close
    stream.close = (code?: number, callback?: () => void) =>
      close.call(stream, code ?? CANCEL, callback)
    return stream
  }
}
