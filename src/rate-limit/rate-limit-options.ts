import type { CallRequest } from '../core/middleware.ts'
import {
  checkKnownKeys,
  isPlainObject,
  nonNegativeMs,
  numberInRange,
  optionalFunction,
  positiveMs,
} from '../core/validate.ts'
import { InvalidOptionError } from '../errors.ts'
import { gcraRule, type GcraRule } from './gcra.ts'
import { memoryStore } from './memory-rate-store.ts'
import type { RateLimitStore } from './rate-limit-store.ts'

/**
 * The client's `rateLimit` option: a quota of requests per time, per origin or per key, kept in
 * this process or shared by a fleet (`store: redisStore(redis)` from `netiquette/redis`), and a
 * rate learned from the server's 429s. See `docs/rate-limits.md`.
 */
export interface RateLimitOptions {
  /**
   * Requests allowed per `per` ms for one key, as the API's quota says (100 per second, 5000 per
   * hour). Omitted: no fixed quota; the rate is learned from the server's throttling alone.
   * @defaultValue none
   */
  rate?: number
  /**
   * The period `rate` is counted over, in ms.
   * @defaultValue 1000
   */
  per?: number
  /**
   * Requests that may go at once, beyond the steady rate, after a quiet spell.
   * @defaultValue 0: requests are spaced evenly, since the server's own window may not allow a
   *   burst
   */
  burst?: number
  /**
   * The quota a request counts against: a name for it (the tenant, the API key's label). Return
   * `undefined` for a request that no quota covers. The key is kept in the store and shown in
   * `client.stats()`: return a label rather than a credential (`redisStore` hashes keys anyway).
   * @defaultValue the request's origin
   */
  key?: (request: CallRequest) => string | undefined
  /**
   * Where the schedule lives: `memoryStore()` (this process) or `redisStore(redis)` from
   * `netiquette/redis` (every instance sharing the Redis).
   * @defaultValue a `memoryStore()` of this client
   */
  store?: RateLimitStore
  /**
   * Learn a lower rate from the server's 429s and `RateLimit-Remaining` headers, per key, and
   * recover it gradually when the throttling stops.
   * @defaultValue `true`: a 429 means the quota is smaller than configured (or unknown)
   */
  learn?: boolean
  /**
   * Longest pause a 429's `Retry-After` (or `RateLimit-Reset`) puts on a key, in ms.
   * @defaultValue 60000: longer hints are cut to it, so a bad header cannot stop a key for hours
   */
  maxPause?: number
}

/** The rate limit's settings, validated. */
export interface ResolvedRateLimit {
  /** The configured quota's rule, or `undefined` (learned only). */
  readonly rule: GcraRule | undefined
  readonly burst: number
  readonly key: ((request: CallRequest) => string | undefined) | undefined
  readonly store: RateLimitStore
  readonly learn: boolean
  readonly maxPause: number
}

const KNOWN = ['rate', 'per', 'burst', 'key', 'store', 'learn', 'maxPause']

/** Validates the `rateLimit` option; `false` when it is off. */
export function resolveRateLimitOptions(
  where: string,
  value: RateLimitOptions | boolean | undefined,
): ResolvedRateLimit | false {
  if (value === undefined || value === false) return false
  const options = value === true ? {} : value
  if (!isPlainObject(options)) {
    throw new InvalidOptionError(where, value, 'a boolean or an object of rate-limit options')
  }
  checkKnownKeys(where, options, KNOWN)
  const o = options as RateLimitOptions
  const per = positiveMs(`${where}.per`, o.per, 1000)
  const burst = numberInRange(`${where}.burst`, o.burst, 0, 1_000_000, 0)
  const rate = o.rate === undefined ? undefined : numberInRange(`${where}.rate`, o.rate, 1e-9, 1e9)
  const learn = o.learn ?? true
  if (typeof learn !== 'boolean') throw new InvalidOptionError(`${where}.learn`, learn, 'a boolean')
  if (rate === undefined && !learn) {
    throw new InvalidOptionError(
      `${where}.rate`,
      rate,
      'a rate when learn is false (otherwise nothing would be limited)',
    )
  }
  const store = o.store ?? memoryStore()
  if (
    typeof store !== 'object' ||
    store === null ||
    typeof store.reserve !== 'function' ||
    typeof store.pause !== 'function' ||
    typeof store.state !== 'function'
  ) {
    throw new InvalidOptionError(
      `${where}.store`,
      store,
      'a rate-limit store: memoryStore(), redisStore(redis) or an object with reserve, pause and state',
    )
  }
  return {
    rule: rate === undefined ? undefined : gcraRule(rate, per, burst),
    burst,
    key: optionalFunction(`${where}.key`, o.key),
    store,
    learn,
    maxPause: nonNegativeMs(`${where}.maxPause`, o.maxPause, 60_000),
  }
}
