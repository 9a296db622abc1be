import { CallKey } from '../core/call-key.ts'
import { checkKnownKeys, isPlainObject, MAX_TIMER_MS } from '../core/validate.ts'
import { InvalidOptionError } from '../errors.ts'

/**
 * The most hedges a call may send besides its first attempt, whatever the options say. Like
 * {@link MAX_RETRIES}, the cap gRPC puts on a hedging policy (5 attempts in all): past one or two
 * hedges, each extra copy cuts the tail less and adds as much load.
 */
export const MAX_HEDGES = 4

/** A percentile of the origin's recent attempt latency, as `'p95'` or `'p99.9'`. */
export type HedgePercentile = `p${number}`

/**
 * Hedged requests ("The Tail at Scale"): when an attempt has not answered after `delay`, send
 * the same request again and take whichever answers first; the other is cancelled. Only calls
 * that are safe to send twice are hedged (the retry policy's rules), and hedges draw from the
 * origin's retry budget. See `docs/hedging.md`.
 */
export interface HedgeOptions {
  /**
   * When a hedge is sent: `ms` after the attempt it hedges started, or a percentile of that
   * origin's attempt latency over the last 30 s such as `'p95'` (re-read every 3 s; no hedge
   * until the origin has answered enough attempts to know it: 20, and 40 for `'p97.5'`, 100 for
   * `'p99'`).
   * A percentile follows the origin as it speeds up or slows down; a fixed delay does not.
   * @defaultValue the percentile `100 × (1 − maxExtraLoad / 2)`, `'p97.5'`: about half the
   *   share hedges may use, so that the share is rarely spent when a truly slow attempt needs a
   *   hedge (Finagle fires at `1 − maxExtraLoad` with a floor of 10 extra per second on top; at
   *   the share itself, a 1-in-100,000 pause found it spent half the time in bench/hedging.ts)
   */
  delay?: number | HedgePercentile
  /**
   * Hedges per call at most, each `delay` after the one before. At most {@link MAX_HEDGES}.
   * @defaultValue 1: the second copy cuts the tail most ("The Tail at Scale"; Finagle sends one)
   */
  maxHedges?: number
  /**
   * The most extra load hedges may add to an origin, as a share of its calls over 10 s: 0.05 is
   * one hedge per 20 calls. On top of it, hedges share the retry budget with retries and may use
   * only half of it, so an origin that fails stops being hedged. With a percentile `delay`, no
   * more than twice the share of attempts slower than it either (10% for `'p95'`): hedging
   * nearly all of them would cut short the very attempts that show how slow the origin is. Above
   * 0, at most
   * {@link MAX_HEDGES} (every call sending that many hedges).
   * @defaultValue 0.05, Finagle's example and its percentile's complement
   */
  maxExtraLoad?: number
}

/** A validated hedging policy. */
export interface ResolvedHedgePolicy {
  /** A fixed delay in ms, or `undefined` when `quantile` decides. */
  readonly delay: number | undefined
  /** The latency quantile (0.95 for `'p95'`) the delay follows, when not fixed. */
  readonly quantile: number | undefined
  readonly maxHedges: number
  readonly maxExtraLoad: number
}

/** The defaults of {@link HedgeOptions}, with their reasons in its TSDoc. */
export const DEFAULT_HEDGE: ResolvedHedgePolicy = Object.freeze({
  delay: undefined,
  quantile: 0.975,
  maxHedges: 1,
  maxExtraLoad: 0.05,
})

const KNOWN = ['delay', 'maxHedges', 'maxExtraLoad']
const PERCENTILE = /^p(\d{1,2}(?:\.\d{1,3})?)$/

/**
 * Validates a `hedge` option and merges it over `base`: `false` (or `undefined` over no base)
 * turns hedging off, `true` takes `base` or the defaults, an object replaces what it names.
 *
 * @param where - the option's name in error messages (`hedge`).
 */
export function resolveHedgePolicy(
  where: string,
  option: unknown,
  base: ResolvedHedgePolicy | false,
): ResolvedHedgePolicy | false {
  if (option === false) return false
  if (option === undefined) return base
  const from = base === false ? DEFAULT_HEDGE : base
  if (option === true) return from
  if (!isPlainObject(option)) {
    throw new InvalidOptionError(where, option, 'true, false, or an object of hedging options')
  }
  checkKnownKeys(where, option, KNOWN)
  const o = option as HedgeOptions
  const at = (key: string) => `${where}.${key}`
  let maxExtraLoad = from.maxExtraLoad
  if (o.maxExtraLoad !== undefined) {
    if (
      typeof o.maxExtraLoad !== 'number' ||
      !(o.maxExtraLoad > 0 && o.maxExtraLoad <= MAX_HEDGES)
    ) {
      throw new InvalidOptionError(
        at('maxExtraLoad'),
        o.maxExtraLoad,
        `a share of calls above 0 and at most ${MAX_HEDGES}, such as 0.05`,
      )
    }
    maxExtraLoad = o.maxExtraLoad
  }
  let maxHedges = from.maxHedges
  if (o.maxHedges !== undefined) {
    if (!Number.isInteger(o.maxHedges) || o.maxHedges < 1 || o.maxHedges > MAX_HEDGES) {
      throw new InvalidOptionError(
        at('maxHedges'),
        o.maxHedges,
        `an integer from 1 to ${MAX_HEDGES}`,
      )
    }
    maxHedges = o.maxHedges
  }
  let delay = from.delay
  let quantile = from.quantile
  if (o.delay !== undefined) {
    ;({ delay, quantile } = parseDelay(at('delay'), o.delay))
  } else if (o.maxExtraLoad !== undefined && from.delay === undefined) {
    // The percentile follows the share of calls hedges may add, as Finagle's does.
    quantile = Math.max(0.5, 1 - maxExtraLoad / 2)
  }
  return Object.freeze({ delay, quantile, maxHedges, maxExtraLoad })
}

function parseDelay(
  option: string,
  value: unknown,
): { delay: number | undefined; quantile: number | undefined } {
  if (typeof value === 'number') {
    if (Number.isFinite(value) && value >= 1 && value <= MAX_TIMER_MS) {
      return { delay: value, quantile: undefined }
    }
  } else if (typeof value === 'string') {
    const match = PERCENTILE.exec(value)
    const percent = match === null ? NaN : Number(match[1])
    if (percent >= 50 && percent < 100) return { delay: undefined, quantile: percent / 100 }
  }
  throw new InvalidOptionError(
    option,
    value,
    `a delay in ms from 1 to ${MAX_TIMER_MS}, or a latency percentile from 'p50' to 'p99.999' such as 'p95'`,
  )
}

/**
 * The call's own hedging policy: the request's `hedge` option merged over the client's, or `false`
 * when the request turned it off. Unset when the request said nothing and the layer's own policy
 * applies.
 */
export const REQUEST_HEDGE = new CallKey<ResolvedHedgePolicy | false>('hedge')
