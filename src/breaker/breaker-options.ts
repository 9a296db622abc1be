import {
  intInRange,
  numberInRange,
  optionsObject,
  positiveMs,
  MAX_TIMER_MS,
} from '../core/validate.ts'
import { InvalidOptionError } from '../errors.ts'

/**
 * Settings of the per-origin circuit breaker. Where the anchors disagree, the default and the
 * reason for it are in each option's TSDoc and in `docs/breaker.md`.
 */
export interface BreakerOptions {
  /**
   * The circuit opens when at least this share of the calls in the `window` failed (and there
   * were at least `minimumCalls`). resilience4j, Hystrix and opossum use 50%; Polly's 10% suits
   * its 100-call minimum, but would open on a brownout that retries handle well. A 429 or 503
   * is not a failure here: it is the origin asking for less, which adaptive throttling answers
   * in proportion; an origin that serves a third of what is asked is not down.
   * @defaultValue 0.5
   */
  failureRatio?: number
  /**
   * The circuit also opens when no attempt has succeeded for this long, in ms: every answer
   * a failure, a 429 or a 503, from at least 5 distinct calls (one call's
   * retries are one call's evidence). This is what tells an outage from partial
   * availability whatever the traffic: any success in between means the origin still serves.
   * Short enough that a dead origin stops costing calls within about a second, longer than a
   * restart that closes the port for half a second (its calls are retried transparently).
   * @defaultValue 1000
   */
  outagePeriod?: number
  /**
   * No ratio opens the circuit while the `window` holds fewer calls than this, so one error
   * after a quiet hour does not open it (opossum added `volumeThreshold` for that, #232).
   * Hystrix's `requestVolumeThreshold`; resilience4j and Polly ask for 100, which a service that
   * calls an origin a few times a second never reaches in their windows.
   * @defaultValue 20
   */
  minimumCalls?: number
  /**
   * The rolling window calls and failures are counted over, in ms, kept in 10 buckets: a call
   * leaves the count 9 to 10 s after it ended, at the default (Hystrix's and opossum's 10 s).
   * @defaultValue 10000
   */
  window?: number
  /**
   * Also open after this many failures in a row, whatever the ratio: Finagle's failure accrual
   * uses 5. Off by default: at 200 calls/s, a brownout that fails 20% of calls gives 5 failures
   * in a row about once every 16 s, and the ratio already covers a busy origin.
   * @defaultValue off
   */
  consecutiveFailures?: number
  /**
   * The longest the circuit stays open the first time, in ms, before it lets a probe through.
   * The n-th opening in a row lasts a random time in `[d / 2, d)`, with
   * `d = min(maxOpenDuration, openDuration * 2^(n-1))` (equal jitter, as in Finagle's
   * schedule), so clients that opened together do not probe together. At the defaults every
   * opening lasts 0.5 to 1 s: one probe a second costs a dead origin nothing, and a recovered
   * one is noticed within a second. Polly's and Hystrix's 5 s kept calls failing for 2 to 6 s
   * after an origin had recovered (`npm run bench`).
   * @defaultValue 1000
   */
  openDuration?: number
  /**
   * The longest the circuit stays open, in ms, also for a server-directed opening. It bounds how
   * late a recovered origin is noticed. Raise it (Finagle grows to 300 s) for an origin where one
   * probe a second per client is too much, at the cost of a slower recovery.
   * @defaultValue 1000, or `openDuration` when that is longer
   */
  maxOpenDuration?: number
  /**
   * After the circuit has stayed closed this long, in ms, its next opening is a first one again
   * (`openDuration`); an origin that flaps keeps its longer waits.
   * @defaultValue 60000
   */
  healthyPeriod?: number
  /**
   * Calls let through at once while half-open, as probes. Every other call is rejected at once.
   * The circuit closes when this many probes have succeeded, and opens again on the first that
   * fails (or is aborted, or times out).
   * @defaultValue 1
   */
  halfOpenProbes?: number
  /**
   * Server-directed opening: a 503 or 429 that carries `Retry-After` (or, on a 429,
   * `RateLimit-Reset`) opens the origin's circuit for that long (at most `maxOpenDuration`, less
   * 5% and at most 50 ms of slack for timers that fire early), so that every caller fails fast
   * until then instead of each sending and sleeping on its own. When the wait is over the
   * circuit closes again. Off by default: a 429 is
   * often about one user's quota, not the whole origin.
   * @defaultValue false
   */
  serverDirected?: boolean
}

/** Breaker settings with every default filled in. */
export interface ResolvedBreakerOptions {
  readonly failureRatio: number
  readonly outagePeriod: number
  readonly minimumCalls: number
  readonly window: number
  /** `Infinity` when off. */
  readonly consecutiveFailures: number
  readonly openDuration: number
  readonly maxOpenDuration: number
  readonly healthyPeriod: number
  readonly halfOpenProbes: number
  readonly serverDirected: boolean
}

/** The defaults of {@link BreakerOptions}, with their sources in its TSDoc. */
export const DEFAULT_BREAKER: ResolvedBreakerOptions = Object.freeze({
  failureRatio: 0.5,
  outagePeriod: 1_000,
  minimumCalls: 20,
  window: 10_000,
  consecutiveFailures: Infinity,
  openDuration: 1_000,
  maxOpenDuration: 1_000,
  healthyPeriod: 60_000,
  halfOpenProbes: 1,
  serverDirected: false,
})

const KNOWN = Object.keys(DEFAULT_BREAKER)

/** Validates breaker options (`false`: no breaker) and fills in the defaults. */
export function resolveBreakerOptions(
  where: string,
  option: unknown,
): ResolvedBreakerOptions | false {
  if (option === false) return false
  if (option === undefined || option === true) return DEFAULT_BREAKER
  const o = optionsObject(where, option, KNOWN) as BreakerOptions
  const at = (key: string) => (where === '' ? key : `${where}.${key}`)
  const d = DEFAULT_BREAKER
  if (o.serverDirected !== undefined && typeof o.serverDirected !== 'boolean') {
    throw new InvalidOptionError(at('serverDirected'), o.serverDirected, 'true or false')
  }
  const resolved: ResolvedBreakerOptions = Object.freeze({
    failureRatio: numberInRange(at('failureRatio'), o.failureRatio, 0.01, 1, d.failureRatio),
    outagePeriod: positiveMs(at('outagePeriod'), o.outagePeriod, d.outagePeriod),
    minimumCalls: intInRange(at('minimumCalls'), o.minimumCalls, 1, 1_000_000, d.minimumCalls),
    window: positiveMs(at('window'), o.window, d.window),
    consecutiveFailures:
      o.consecutiveFailures === undefined
        ? Infinity
        : intInRange(at('consecutiveFailures'), o.consecutiveFailures, 1, 1_000_000),
    openDuration: positiveMs(at('openDuration'), o.openDuration, d.openDuration),
    maxOpenDuration: positiveMs(
      at('maxOpenDuration'),
      o.maxOpenDuration,
      Math.max(d.maxOpenDuration, o.openDuration ?? 0),
    ),
    healthyPeriod: positiveMs(at('healthyPeriod'), o.healthyPeriod, d.healthyPeriod),
    halfOpenProbes: intInRange(at('halfOpenProbes'), o.halfOpenProbes, 1, 1000, d.halfOpenProbes),
    serverDirected: o.serverDirected ?? d.serverDirected,
  })
  if (resolved.maxOpenDuration < resolved.openDuration) {
    throw new InvalidOptionError(
      at('maxOpenDuration'),
      resolved.maxOpenDuration,
      `a number of milliseconds from openDuration (${resolved.openDuration}) to ${MAX_TIMER_MS}`,
    )
  }
  return resolved
}
