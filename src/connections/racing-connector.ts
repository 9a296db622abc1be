import { lookup as dnsLookup } from 'node:dns'
import { isIP, type Socket } from 'node:net'
import { errors, type buildConnector } from 'undici'
import { channels } from '../core/events.ts'
import { ConnectHistory } from './connect-history.ts'
import { connectionFacts } from './connection-facts.ts'
import { PendingConnect } from './pending-connect.ts'
import { interleaveFamilies, type ResolvedAddress } from './interleave-families.ts'

/**
 * Racing connects (`agent.race`): Happy Eyeballs v2 (RFC 8305) across an origin's addresses, and
 * connect hedging against one address. A connect that has not finished after the connection
 * attempt delay is raced by another from a new socket, to the next address or the same one; the
 * first to finish (TCP, and TLS for https) wins and the others are closed. A lost SYN then costs
 * about one delay instead of Linux's 1 s retransmit (3 s for a second loss).
 */
export interface RaceOptions {
  /**
   * A fixed connection attempt delay, in ms. By default it is learned per origin: twice the p90 of
   * its recent connect times, at least 10 ms and at most 2 s (RFC 8305's range), and 250 ms (the
   * RFC's recommended value) until 3 connects are known.
   * @defaultValue learned per origin
   */
  delay?: number
  /**
   * Share of an origin's recent connects (the last 64) that may have needed a race before no more
   * SYNs are raced to an address already being tried. Lost packets are rare; a listener whose SYN
   * queue overflows under load drops many, and more SYNs would flood it. Moving on to an address
   * not yet tried (the other family) is never held back.
   * @defaultValue 0.25 (about twice the share a 10% SYN loss needs)
   */
  maxShare?: number
}

/** {@link RaceOptions} with their defaults. */
export type ResolvedRaceOptions = Required<Omit<RaceOptions, 'delay'>> & Pick<RaceOptions, 'delay'>

/** The defaults of {@link RaceOptions} (`delay` has none: it is learned). */
export const DEFAULT_RACE_OPTIONS: Readonly<Required<Pick<RaceOptions, 'maxShare'>>> =
  Object.freeze({ maxShare: 0.25 })

/** Attempts in flight at once for one connect, the first included. */
export const MAX_IN_FLIGHT = 3
const INITIAL_DELAY = 250
const MIN_DELAY = 10
const MAX_DELAY = 2_000
// Origins whose connect history is kept; past it, the least recently connected is forgotten.
const MAX_ORIGINS = 1_024

/** Payload of `netiquette:connect`. */
export interface ConnectEvent {
  /**
   * - `started`: the first attempt of a connect went out.
   * - `raced`: another attempt was started while earlier ones were pending.
   * - `won`: this attempt finished first; the connection is handed to undici.
   * - `lost`: a pending attempt was closed because another won, or it failed while others went on.
   * - `failed`: every attempt failed, or the connect timed out; `error` says why.
   */
  type: 'started' | 'raced' | 'won' | 'lost' | 'failed'
  /** `scheme//host:port`. */
  origin: string
  /** The address this attempt went to. */
  address: string
  family: 4 | 6
  /** Which attempt of the connect this is, from 1. */
  attempt: number
  /** Time since this attempt started, in ms (0 for `started` and `raced`). */
  ms: number
  /** The failure, for `lost` after an error and for `failed`. */
  error?: Error
}

type Lookup = (
  hostname: string,
  options: { all: true; family?: number },
  callback: (error: Error | null, addresses: ResolvedAddress[]) => void,
) => void

/** What a racing connector needs besides the connector it races. */
export interface RacingConnectorSettings {
  race: ResolvedRaceOptions
  /** The whole connect's time limit, in ms: `agent.connectTimeout`. */
  connectTimeout: number
  /** `false` when `agent.autoSelectFamily` is: only the first address is tried. */
  allFamilies: boolean
  /** Name resolution, `dns.lookup` by default. */
  lookup?: Lookup
  now?: () => number
}

interface Attempt {
  readonly number: number
  readonly address: ResolvedAddress
  readonly started: number
  socket: Socket | undefined
}

/**
 * Wraps `base` (undici's `buildConnector` connector), which then connects to one address at a
 * time: this connector resolves the name itself and hands `base` an address per attempt, keeping
 * `host` and `servername` so TLS still verifies the name.
 */
export function racingConnector(
  base: buildConnector.connector,
  settings: RacingConnectorSettings,
): buildConnector.connector {
  const histories = new Map<string, ConnectHistory>()
  const lookup = settings.lookup ?? (dnsLookup as unknown as Lookup)
  const now = settings.now ?? performance.now.bind(performance)

  function historyOf(origin: string): ConnectHistory {
    let history = histories.get(origin)
    if (history !== undefined) {
      // Most recently used last, so the first key is the one to forget.
      histories.delete(origin)
    } else {
      history = new ConnectHistory()
      if (histories.size >= MAX_ORIGINS) histories.delete(histories.keys().next().value!)
    }
    histories.set(origin, history)
    return history
  }

  // Returns what undici cancels the connect through (it does when no request waits any more).
  return (options, callback) => {
    const done = callback as (error: Error | null, socket: Socket | null) => void
    const { hostname } = options
    const family = isIP(hostname)
    let cancel: ((reason: Error) => void) | undefined
    let cancelled = false
    const handle = new PendingConnect((reason) => {
      cancelled = true
      if (cancel !== undefined) cancel(reason)
      else done(reason, null)
    })
    if (family !== 0) {
      cancel = race(options, [{ address: hostname, family }], done)
      return handle as unknown as undefined
    }
    lookup(hostname, { all: true }, (error, addresses) => {
      if (cancelled) return
      if (error !== null) done(error, null)
      else if (addresses.length === 0) done(new Error(`no address found for ${hostname}`), null)
      else {
        const ordered = settings.allFamilies ? interleaveFamilies(addresses) : [addresses[0]!]
        cancel = race(options, ordered, done)
      }
    })
    return handle as unknown as undefined
  }

  // Long (about 90 lines): one connect's state machine; its steps share that state.
  function race(
    options: buildConnector.Options,
    addresses: ResolvedAddress[],
    callback: (error: Error | null, socket: Socket | null) => void,
  ): (reason: Error) => void {
    const origin = `${options.protocol}//${options.hostname}:${options.port}`
    const history = historyOf(origin)
    const delay = settings.race.delay ?? history.delay(INITIAL_DELAY, MIN_DELAY, MAX_DELAY)
    const pending = new Set<Attempt>()
    let started = 0
    let settled = false
    let lastError: Error | undefined
    let delayTimer: ReturnType<typeof setTimeout> | undefined
    const limitTimer = setTimeout(timedOut, settings.connectTimeout)

    function publish(type: ConnectEvent['type'], attempt: Attempt, error?: Error): void {
      if (!channels.connect.hasSubscribers) return
      const event: ConnectEvent = {
        type,
        origin,
        address: attempt.address.address,
        family: attempt.address.family === 6 ? 6 : 4,
        attempt: attempt.number,
        ms: type === 'started' || type === 'raced' ? 0 : now() - attempt.started,
      }
      if (error !== undefined) event.error = error
      channels.connect.publish(event)
    }

    function start(): void {
      // The next untried address, then round the list again: against one address, a new SYN
      // from a new socket.
      const address = addresses[started % addresses.length]!
      const attempt: Attempt = { number: ++started, address, started: now(), socket: undefined }
      pending.add(attempt)
      publish(attempt.number === 1 ? 'started' : 'raced', attempt)
      const made = base({ ...options, hostname: address.address }, (error, socket) =>
        finished(attempt, error, socket as Socket | null),
      ) as unknown
      // undici's connector returns its socket; a connector that does not is closed when it
      // finishes, if it lost.
      if (made !== null && typeof made === 'object' && pending.has(attempt)) {
        attempt.socket = made as Socket
      }
      armDelay()
    }

    function armDelay(): void {
      if (delayTimer !== undefined) clearTimeout(delayTimer)
      delayTimer = undefined
      if (settled || pending.size >= MAX_IN_FLIGHT) return
      const untried = started < addresses.length
      if (!untried && !history.mayRace(settings.race.maxShare)) return
      delayTimer = setTimeout(() => {
        // Timers run before the event loop polls for I/O: on a busy loop the connect may have
        // finished already, its event not yet read. setImmediate runs after the poll, so a
        // connect that is only waiting to be read is not raced.
        setImmediate(() => {
          delayTimer = undefined
          if (!settled && pending.size < MAX_IN_FLIGHT) start()
        })
      }, delay)
    }

    function finished(attempt: Attempt, error: Error | null, socket: Socket | null): void {
      if (settled || !pending.delete(attempt)) {
        // A loser that finished after the winner.
        socket?.destroy()
        return
      }
      if (error === null && socket !== null) {
        history.record(now() - attempt.started, started > 1)
        publish('won', attempt)
        settle(true)
        const facts = connectionFacts(socket)
        facts.family = attempt.address.family === 6 ? 6 : 4
        if (started > 1) facts.raced = true
        callback(null, socket)
        return
      }
      lastError = error ?? new Error('connector gave neither an error nor a socket')
      // RFC 8305 section 5: when an attempt fails, the next one starts at once.
      if (started < addresses.length) {
        publish('lost', attempt, lastError)
        start()
      } else if (pending.size > 0) {
        publish('lost', attempt, lastError)
        if (delayTimer === undefined) armDelay()
      } else {
        settle(false)
        history.record(undefined, started > 1)
        publish('failed', attempt, lastError)
        callback(lastError, null)
      }
    }

    /** Ends the connect: closes the attempts still pending (the losers, when one `won`). */
    function settle(won: boolean): void {
      settled = true
      clearTimeout(limitTimer)
      if (delayTimer !== undefined) clearTimeout(delayTimer)
      for (const other of pending) {
        other.socket?.destroy()
        if (won) publish('lost', other)
      }
      pending.clear()
    }

    function timedOut(): void {
      if (settled) return
      const tried = addresses.slice(0, Math.min(started, addresses.length)).map((a) => a.address)
      const error = new errors.ConnectTimeoutError(
        `Connect Timeout Error (attempted addresses: ${tried.join(', ')}, port ${options.port}, ` +
          `${started} attempt${started === 1 ? '' : 's'}, timeout: ${settings.connectTimeout}ms)`,
      )
      if (lastError !== undefined) error.cause = lastError
      const last = [...pending].at(-1)
      settle(false)
      history.record(undefined, started > 1)
      if (last !== undefined) publish('failed', last, error)
      callback(error, null)
    }

    start()
    return (reason) => {
      if (settled) return
      settle(false)
      callback(reason, null)
    }
  }
}
