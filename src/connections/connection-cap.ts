import type { Socket } from 'node:net'
import type { buildConnector } from 'undici'
import { hearClose, onConnectionClosed } from './connection-closed.ts'
import { channels } from '../core/events.ts'
import { ConnectionLimitError } from '../errors.ts'
import { cancellable, PendingConnect } from './pending-connect.ts'
import { idleSince, isIdle } from './undici-socket.ts'

// Connects that may wait for a place at once; past it, a connect fails at once.
export const MAX_WAITING = 4_096
// How often waiting connects look for a connection that went idle, in ms: undici says nothing
// when a connection goes idle, and a waiter must not wait for a close that never comes.
const LOOK_EVERY = 10

/** What `client.stats()` shows of the client's connections across origins (`connections`). */
export interface ConnectionTotals {
  /** `agent.totalConnections`. */
  limit: number
  /** Connections open, to every origin. */
  open: number
  /** Of them, with no request on them or queued to them. */
  idle: number
  /** Of them, serving or about to serve a request. */
  busy: number
  /** Connects under way (counted against the limit). */
  connecting: number
  /** Connects waiting for a place under the limit. */
  waiting: number
  /** Idle connections closed to make room for another origin's, since the client started. */
  evicted: number
}

/** An origin's connections, for `client.stats()`. */
export interface OriginConnectionCounts {
  open: number
  idle: number
  busy: number
}

interface Waiter {
  readonly origin: string
  /** Starts its connect. */
  readonly go: () => void
  readonly fail: (error: Error) => void
  readonly timer: ReturnType<typeof setTimeout>
}

/** Payload of `netiquette:connect` for the limit: a connect waited, or failed for want of room. */
export interface ConnectCappedEvent {
  type: 'capped'
  origin: string
  /** What happened: it waits, or it failed (`error`). */
  outcome: 'waiting' | 'failed'
  open: number
  limit: number
  error?: Error
}

const kCap = Symbol('netiquette.connectionCap')

type CappedSocket = Socket & { [kCap]?: ConnectionCap }

/**
 * A cap on the connections of a client's agent across all origins (`agent.totalConnections`),
 * as `http.Agent`'s `maxTotalSockets`: a connect that would pass it first closes the least
 * recently used idle connection of any origin, else waits, in a bounded FIFO queue, for one to
 * close or go idle: until undici cancels the connect (its request went away, at the call's
 * deadline), at most `waitFor`. Wraps the agent's connector, so undici's per-origin
 * pools stay as they are; a connect counts from its start, raced attempts as one.
 */
export class ConnectionCap {
  readonly #limit: number
  readonly #waitFor: number
  // Every connection handed to undici and not yet closed (nor evicted), with its origin.
  readonly #open = new Map<Socket, string>()
  #connecting = 0
  #evicted = 0
  readonly #waiting: Waiter[] = []
  #look: ReturnType<typeof setInterval> | undefined

  /**
   * @param limit - `agent.totalConnections`.
   * @param waitFor - the longest a connect waits for a place, in ms (`agent.headersTimeout`);
   *   undici cancels a wait sooner when its request goes away (the call's deadline).
   */
  constructor(limit: number, waitFor: number) {
    this.#limit = limit
    this.#waitFor = waitFor
  }

  /**
   * `connector`, connecting only within the limit. Returns what undici can cancel the connect
   * through: the inner connector's socket, or while the connect waits for a place, a handle that
   * takes it out of the queue (undici cancels a connect whose request went away, at its deadline).
   */
  wrap(connector: buildConnector.connector): buildConnector.connector {
    return (options, callback) => {
      const done = callback as (error: Error | null, socket: Socket | null) => void
      const origin = `${options.protocol}//${options.host}`
      let inner: unknown
      const connect = () => {
        inner = connector(options, (error, socket) => {
          this.#connecting--
          if (error !== null || socket === null) {
            this.#grant()
            done(error ?? new Error('connector gave neither an error nor a socket'), null)
            return
          }
          // Tracked once undici has set the connection up (in `done`): see hearClose.
          done(null, socket as Socket)
          this.#track(socket as Socket, origin)
        }) as unknown
      }
      const waiter = this.#acquire(origin, done, connect)
      if (waiter === undefined) return inner as undefined
      return new PendingConnect((reason) => {
        // Waiting still: leave the queue. Connecting already: cancel that.
        if (this.#leave(waiter)) done(reason, null)
        else if (cancellable(inner)) inner.destroy(reason)
      }) as unknown as undefined
    }
  }

  /** The totals, for `client.stats()`. */
  totals(): ConnectionTotals {
    let idle = 0
    for (const socket of this.#open.keys()) if (isIdle(socket)) idle++
    return {
      limit: this.#limit,
      open: this.#open.size,
      idle,
      busy: this.#open.size - idle,
      connecting: this.#connecting,
      waiting: this.#waiting.length,
      evicted: this.#evicted,
    }
  }

  /** One origin's open, idle and busy connections. */
  counts(origin: string): OriginConnectionCounts {
    let open = 0
    let idle = 0
    for (const [socket, of] of this.#open) {
      if (of !== origin) continue
      open++
      if (isIdle(socket)) idle++
    }
    return { open, idle, busy: open - idle }
  }

  /** Fails every waiting connect and stops looking (the client is closing). */
  close(): void {
    if (this.#look !== undefined) clearInterval(this.#look)
    this.#look = undefined
    for (const waiter of this.#waiting.splice(0)) {
      clearTimeout(waiter.timer)
      waiter.fail(new ConnectionLimitError('the client closed while a connect waited for a place'))
    }
  }

  #room(): boolean {
    return this.#open.size + this.#connecting < this.#limit || this.#evictIdle()
  }

  /**
   * Starts `connect` at once if there is room, else queues it; `undefined` when it started (or
   * was refused at once, through `done`), else its place in the queue.
   */
  #acquire(
    origin: string,
    done: (error: Error, socket: null) => void,
    connect: () => void,
  ): Waiter | undefined {
    if (this.#waiting.length === 0 && this.#room()) {
      this.#connecting++
      connect()
      return undefined
    }
    if (this.#waiting.length >= MAX_WAITING) {
      const error = new ConnectionLimitError(
        `${origin}: all ${this.#limit} connections (agent.totalConnections) are busy and ` +
          `${MAX_WAITING} connects are waiting already`,
      )
      this.#publish(origin, 'failed', error)
      done(error, null)
      return undefined
    }
    const waiter: Waiter = {
      origin,
      go: connect,
      timer: setTimeout(() => {
        if (!this.#leave(waiter)) return
        const error = new ConnectionLimitError(
          `${origin}: all ${this.#limit} connections (agent.totalConnections) stayed busy ` +
            `for ${this.#waitFor} ms (agent.headersTimeout), and none went idle to make room`,
        )
        this.#publish(origin, 'failed', error)
        done(error, null)
      }, this.#waitFor),
      fail: (error) => done(error, null),
    }
    this.#waiting.push(waiter)
    this.#publish(origin, 'waiting')
    this.#look ??= setInterval(() => this.#grant(), LOOK_EVERY)
    return waiter
  }

  /** Takes a waiter out of the queue; false if it was not in it (it started, or failed). */
  #leave(waiter: Waiter): boolean {
    const at = this.#waiting.indexOf(waiter)
    if (at < 0) return false
    this.#waiting.splice(at, 1)
    clearTimeout(waiter.timer)
    return true
  }

  /** Lets waiting connects go, oldest first, while there is room. */
  #grant(): void {
    while (this.#waiting.length > 0 && this.#room()) {
      const waiter = this.#waiting.shift()!
      clearTimeout(waiter.timer)
      this.#connecting++
      waiter.go()
    }
    if (this.#waiting.length === 0 && this.#look !== undefined) {
      clearInterval(this.#look)
      this.#look = undefined
    }
  }

  #track(socket: Socket, origin: string): void {
    this.#open.set(socket, origin)
    // No listener of its own: the connection layer's one 'close' listener finds the cap here.
    ;(socket as CappedSocket)[kCap] = this
    hearClose(socket)
  }

  static {
    onConnectionClosed((socket: CappedSocket) => {
      const cap = socket[kCap]
      if (cap !== undefined && cap.#open.delete(socket)) cap.#grant()
    })
  }

  /**
   * Closes the least recently used idle connection, of any origin (one that never served a
   * request first), and makes its place free at once. O(open): only when the limit is reached.
   */
  #evictIdle(): boolean {
    let oldest: Socket | undefined
    let oldestSince = Infinity
    for (const socket of this.#open.keys()) {
      if (!isIdle(socket)) continue
      const since = idleSince(socket) ?? -Infinity
      if (since < oldestSince) {
        oldest = socket
        oldestSince = since
      }
    }
    if (oldest === undefined) return false
    this.#open.delete(oldest)
    this.#evicted++
    oldest.destroy()
    return true
  }

  #publish(origin: string, outcome: 'waiting' | 'failed', error?: Error): void {
    if (!channels.connect.hasSubscribers) return
    const event: ConnectCappedEvent = {
      type: 'capped',
      origin,
      outcome,
      open: this.#open.size,
      limit: this.#limit,
    }
    if (error !== undefined) event.error = error
    channels.connect.publish(event)
  }
}
