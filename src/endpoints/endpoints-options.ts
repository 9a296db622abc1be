import {
  intInRange,
  isPlainObject,
  numberInRange,
  optionalFunction,
  optionsObject,
  positiveMs,
} from '../core/validate.ts'
import { InvalidOptionError } from '../errors.ts'

/**
 * Finds the addresses behind a hostname: IPv4 or IPv6 address strings, in any order.
 * @example
 * ```ts
 * resolve: async () => ['127.0.0.1', '127.0.0.2', '127.0.0.3']
 * ```
 */
export type ResolveAddresses = (hostname: string) => Promise<readonly string[]> | readonly string[]

/**
 * When an address is taken out of the balancing (ejected) for failing, and for how long: gRPC's
 * outlier detection (A50) and Envoy's, with a rule for consecutive failures (Envoy's) and one
 * for a failure rate compared with the other addresses. See `docs/endpoints.md`.
 */
export interface EjectionOptions {
  /**
   * Failures in a row that eject an address: refused or reset connections, timeouts, 5xx other
   * than 503's kin 429. A success resets the count.
   * @defaultValue 5, Envoy's `consecutive_5xx`
   */
  consecutiveFailures?: number
  /**
   * The failure rate over one `interval` that ejects an address, when it is also at least twice
   * the rate of the other addresses together (an origin failing everywhere is the breaker's
   * business, not a bad address).
   * @defaultValue 0.5: half its attempts failing where the others fail half as often or less
   */
  failureRate?: number
  /**
   * Attempts an address must have had in the interval before its rate is judged.
   * @defaultValue 20: fewer make a rate of noise (A50 asks 50 to 100 of a busy proxy)
   */
  minRequests?: number
  /**
   * How often failure rates are judged, in ms, and the window they cover.
   * @defaultValue 10000, A50's and Envoy's `interval`
   */
  interval?: number
  /**
   * How long a first ejection lasts, in ms; each further ejection lasts one `baseTime` more, and
   * each interval without one takes one back.
   * @defaultValue 30000, A50's and Envoy's `base_ejection_time`
   */
  baseTime?: number
  /**
   * The longest an ejection lasts, in ms.
   * @defaultValue 300000, A50's `max_ejection_time`
   */
  maxTime?: number
  /**
   * The largest share of an origin's addresses ejected at once, but always at least one of
   * them, and never the last one not ejected.
   * @defaultValue 0.1, A50's and Envoy's `max_ejection_percent` of 10, with Envoy's "at least one"
   */
  maxShare?: number
}

/**
 * Balancing over the addresses of each origin (`endpoints` client option): each attempt goes to
 * one of the hostname's addresses, picked by the power of two choices over peak-EWMA latency
 * weighted by attempts in flight, and failing addresses are ejected for a while. See
 * `docs/endpoints.md`.
 */
export interface EndpointsOptions {
  /**
   * Finds a hostname's addresses.
   * @defaultValue `dns.lookup(hostname, { all: true })`: what the OS resolves (hosts file, DNS),
   *   as undici's own connect does
   */
  resolve?: ResolveAddresses
  /**
   * How long a hostname's addresses are used before they are looked up again, in ms. The old
   * ones serve until the new ones arrive; a failed lookup keeps them.
   * @defaultValue 30000, gRPC's shortest time between DNS resolutions: `dns.lookup` tells no TTL
   */
  ttl?: number
  /**
   * The peak-EWMA's time constant, in ms: how fast the latency estimate of an address forgets
   * a slow answer, so that a recovered address is tried again.
   * @defaultValue 10000, Finagle's and Linkerd's decay time
   */
  decay?: number
  /**
   * Addresses per origin at most: a lookup returning more keeps the first ones in sorted order,
   * so that nothing grows with the size of a DNS answer.
   * @defaultValue 64
   */
  maxAddresses?: number
  /**
   * Outlier ejection, or `false` for none.
   * @defaultValue on, with {@link EjectionOptions}' defaults
   */
  ejection?: EjectionOptions | false
}

/** Validated {@link EjectionOptions}. */
export type ResolvedEjection = Readonly<Required<EjectionOptions>>

/** Validated {@link EndpointsOptions}; `resolve` is `undefined` for the system's lookup. */
export interface ResolvedEndpoints {
  readonly resolve: ResolveAddresses | undefined
  readonly ttl: number
  readonly decay: number
  readonly maxAddresses: number
  readonly ejection: ResolvedEjection | false
}

/** The defaults of {@link EjectionOptions}, with their sources in its TSDoc. */
export const DEFAULT_EJECTION: ResolvedEjection = Object.freeze({
  consecutiveFailures: 5,
  failureRate: 0.5,
  minRequests: 20,
  interval: 10_000,
  baseTime: 30_000,
  maxTime: 300_000,
  maxShare: 0.1,
})

/** The defaults of {@link EndpointsOptions}, with their sources in its TSDoc. */
export const DEFAULT_ENDPOINTS: ResolvedEndpoints = Object.freeze({
  resolve: undefined,
  ttl: 30_000,
  decay: 10_000,
  maxAddresses: 64,
  ejection: DEFAULT_EJECTION,
})

const KNOWN = ['resolve', 'ttl', 'decay', 'maxAddresses', 'ejection']
const KNOWN_EJECTION = Object.keys(DEFAULT_EJECTION)

/** Validates the `endpoints` option: `false` (or nothing) for none, `true` for the defaults. */
export function resolveEndpointsOptions(where: string, value: unknown): ResolvedEndpoints | false {
  if (value === undefined || value === false) return false
  if (value === true) return DEFAULT_ENDPOINTS
  if (!isPlainObject(value)) {
    throw new InvalidOptionError(where, value, 'true, false or an object of endpoint options')
  }
  const o = optionsObject(where, value, KNOWN)
  return Object.freeze({
    resolve: optionalFunction(`${where}.resolve`, o.resolve as ResolveAddresses | undefined),
    ttl: positiveMs(`${where}.ttl`, o.ttl, DEFAULT_ENDPOINTS.ttl),
    decay: positiveMs(`${where}.decay`, o.decay, DEFAULT_ENDPOINTS.decay),
    maxAddresses: intInRange(
      `${where}.maxAddresses`,
      o.maxAddresses,
      1,
      4096,
      DEFAULT_ENDPOINTS.maxAddresses,
    ),
    ejection: resolveEjection(`${where}.ejection`, o.ejection),
  })
}

function resolveEjection(option: string, value: unknown): ResolvedEjection | false {
  if (value === false) return false
  if (value === undefined || value === true) return DEFAULT_EJECTION
  const o = optionsObject(option, value, KNOWN_EJECTION)
  const d = DEFAULT_EJECTION
  const baseTime = positiveMs(`${option}.baseTime`, o.baseTime, d.baseTime)
  const maxTime = positiveMs(`${option}.maxTime`, o.maxTime, Math.max(d.maxTime, baseTime))
  if (maxTime < baseTime) {
    throw new InvalidOptionError(
      `${option}.maxTime`,
      maxTime,
      `at least ejection.baseTime (${baseTime} ms)`,
    )
  }
  return Object.freeze({
    consecutiveFailures: intInRange(
      `${option}.consecutiveFailures`,
      o.consecutiveFailures,
      1,
      1_000_000,
      d.consecutiveFailures,
    ),
    failureRate: numberInRange(`${option}.failureRate`, o.failureRate, 0.01, 1, d.failureRate),
    minRequests: intInRange(`${option}.minRequests`, o.minRequests, 1, 1_000_000, d.minRequests),
    interval: positiveMs(`${option}.interval`, o.interval, d.interval),
    baseTime,
    maxTime,
    maxShare: numberInRange(`${option}.maxShare`, o.maxShare, 0, 1, d.maxShare),
  })
}
