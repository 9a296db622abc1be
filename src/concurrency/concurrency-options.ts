import {
  intInRange,
  nonNegativeMs,
  numberInRange,
  optionsObject,
  positiveMs,
} from '../core/validate.ts'
import { InvalidOptionError } from '../errors.ts'
import { AimdLimit, DEFAULT_AIMD } from './aimd-limit.ts'
import { DEFAULT_DELAY, DelayLimit } from './delay-limit.ts'
import { FixedLimit, type LimitAlgorithm } from './limit-algorithm.ts'

/**
 * Settings of the per-origin concurrency limiter: how many attempts may be in flight to one
 * origin, and how many may wait, for how long. See `docs/concurrency.md`.
 */
export interface ConcurrencyOptions {
  /**
   * A fixed limit. When set, the limit does not adapt and the AIMD options are not allowed.
   * @defaultValue none: adaptive
   */
  limit?: number
  /**
   * How the limit adapts:
   * - `delay`, latency-based (`DelayLimit`), the default: judges rounds of answers against each
   *   route's baseline and cuts the limit when they take longer than `tolerance` times it, so it
   *   sees an origin that queues instead of shedding. During a 3x capacity drop its p99 stays
   *   within 2 times the p99 before, where AIMD's goes to 57 times (`npm run bench`). A timeout
   *   or reset takes a tenth off; a 429 or 503 is left to the throttle.
   * - `aimd`, loss-based: grows by one per attempt while in use, shrinks by `backoffRatio` on a
   *   429, 503, timeout or reset. What Netflix's concurrency-limits recommends for clients, and
   *   the default before: it never holds back a healthy origin, but grows to `maxLimit` in front
   *   of one that queues (`docs/concurrency.md`).
   * @defaultValue 'delay'
   */
  algorithm?: 'aimd' | 'delay'
  /**
   * The limit a new origin starts with (concurrency-limits' initial limit).
   * @defaultValue 20
   */
  initialLimit?: number
  /**
   * The lowest the limit goes. The delay limit must be able to go as low as the origin's
   * capacity, so 1; AIMD keeps concurrency-limits' 20.
   * @defaultValue 1 for `delay`, 20 for `aimd`
   */
  minLimit?: number
  /**
   * The highest the limit goes (concurrency-limits' 200), and the connections of the Agent the
   * client creates.
   * @defaultValue 200
   */
  maxLimit?: number
  /** AIMD: the factor applied to the limit on a drop (concurrency-limits'). @defaultValue 0.9 */
  backoffRatio?: number
  /**
   * Delay: the target of a round's signal, how much longer than their routes' baselines its
   * answers took (a geometric mean ratio). Above it, requests are queueing at the origin.
   * @defaultValue 1.25
   */
  tolerance?: number
  /**
   * Delay: how long a route's baseline remembers its answers, in ms (the time constant of its
   * moving mean, which learns only calm rounds, so that it does not drift up with a queue).
   * @defaultValue 10000
   */
  baselineWindow?: number
  /**
   * Attempts that may wait for a place; one more is shed at once with `QueueFullError`. A batch
   * job's `Promise.all` of a few thousand calls to a healthy origin must not fail here (undici's
   * own queue has no bound at all); each waiter is bounded by its deadline, and costs what a call
   * in flight costs (about 10 KB), so a full queue holds about 100 MB. Envoy's
   * `max_pending_requests` is 1024 per cluster, for a proxy's many callers.
   * @defaultValue 10000
   */
  maxQueue?: number
  /**
   * The longest an attempt waits for a place while its origin struggles, in ms: it has shed (a
   * 429 or 503, a timeout, a reset) within the last 10 s, or no place has come free for this
   * long. Then it fails with `QueueTimeoutError`. Against a healthy origin whose places keep
   * coming free, an attempt waits within its deadline (less `minAttemptTime`), so a cold
   * client's first batch is served, not failed. concurrency-limits' backlog timeout is 1 s.
   * @defaultValue 1000
   */
  maxQueueWait?: number
  /**
   * Once the oldest waiter has waited this long (ms), freed places go to the newest first
   * (adaptive LIFO): under sustained overload FIFO would send each call when its deadline is
   * nearly spent. Facebook's CoDel-based queues switch at a similar point (100 ms interval).
   * @defaultValue 100
   */
  lifoAfter?: number
}

/** Limiter settings with every default filled in; `createLimit` makes one limit per origin. */
export interface ResolvedConcurrency {
  readonly maxQueue: number
  readonly maxQueueWait: number
  readonly lifoAfter: number
  /** The most attempts the limit can ever allow: the fixed limit, or `maxLimit`. */
  readonly maxLimit: number
  readonly createLimit: () => LimitAlgorithm
  /** The origin-state slot of this policy's limiters. */
  readonly key: symbol
}

const COMMON = ['limit', 'algorithm', 'maxQueue', 'maxQueueWait', 'lifoAfter']
const BOUNDS = ['initialLimit', 'minLimit', 'maxLimit']
const AIMD_KEYS = [...COMMON, ...BOUNDS, 'backoffRatio']
const DELAY_KEYS = [...COMMON, ...BOUNDS, 'tolerance', 'baselineWindow']

/**
 * Validates concurrency options (`false`: no limiter; `undefined` or `true`: the defaults) and
 * fills in the defaults.
 */
export function resolveConcurrencyOptions(
  where: string,
  option: unknown,
): ResolvedConcurrency | false {
  if (option === false) return false
  if (option === undefined || option === true) return resolveConcurrencyOptions(where, {})
  optionsObject(where, option, [...new Set([...AIMD_KEYS, ...DELAY_KEYS])])
  const o = option as ConcurrencyOptions
  const at = (key: string) => `${where}.${key}`
  const maxQueue = intInRange(at('maxQueue'), o.maxQueue, 0, 1_000_000, 10_000)
  const maxQueueWait = positiveMs(at('maxQueueWait'), o.maxQueueWait, 1_000)
  const lifoAfter = nonNegativeMs(at('lifoAfter'), o.lifoAfter, 100)
  const key = Symbol('limiter')
  if (o.limit !== undefined) {
    const limit = intInRange(at('limit'), o.limit, 1, 1_000_000)
    optionsObject(where, option, COMMON)
    if (o.algorithm !== undefined) {
      throw new InvalidOptionError(at('algorithm'), o.algorithm, 'nothing with a fixed `limit`')
    }
    const createLimit = () => new FixedLimit(limit)
    return { maxQueue, maxQueueWait, lifoAfter, maxLimit: limit, createLimit, key }
  }
  const algorithm = o.algorithm ?? 'delay'
  if (algorithm !== 'aimd' && algorithm !== 'delay') {
    throw new InvalidOptionError(at('algorithm'), o.algorithm, '"aimd" or "delay"')
  }
  optionsObject(where, option, algorithm === 'aimd' ? AIMD_KEYS : DELAY_KEYS)
  const d = algorithm === 'aimd' ? DEFAULT_AIMD : DEFAULT_DELAY
  const minLimit = intInRange(
    at('minLimit'),
    o.minLimit,
    1,
    1_000_000,
    Math.min(d.minLimit, o.maxLimit ?? Infinity),
  )
  const maxLimit = intInRange(
    at('maxLimit'),
    o.maxLimit,
    minLimit,
    1_000_000,
    Math.max(d.maxLimit, minLimit),
  )
  const initialLimit = intInRange(
    at('initialLimit'),
    o.initialLimit,
    minLimit,
    maxLimit,
    Math.min(maxLimit, Math.max(minLimit, d.initialLimit)),
  )
  if (algorithm === 'delay') {
    const settings = Object.freeze({
      ...DEFAULT_DELAY,
      initialLimit,
      minLimit,
      maxLimit,
      tolerance: numberInRange(at('tolerance'), o.tolerance, 1.1, 100, DEFAULT_DELAY.tolerance),
      baselineWindow: positiveMs(
        at('baselineWindow'),
        o.baselineWindow,
        DEFAULT_DELAY.baselineWindow,
      ),
    })
    const createLimit = () => new DelayLimit(settings)
    return { maxQueue, maxQueueWait, lifoAfter, maxLimit, createLimit, key }
  }
  const settings = Object.freeze({
    initialLimit,
    minLimit,
    maxLimit,
    backoffRatio: numberInRange(
      at('backoffRatio'),
      o.backoffRatio,
      0.1,
      0.99,
      DEFAULT_AIMD.backoffRatio,
    ),
  })
  const createLimit = () => new AimdLimit(settings)
  return { maxQueue, maxQueueWait, lifoAfter, maxLimit, createLimit, key }
}
