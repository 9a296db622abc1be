import { clamp } from './aimd-limit.ts'
import { appLimited, type LimitAlgorithm, type LimitSample } from './limit-algorithm.ts'
import { WindowedMin } from './windowed-min.ts'
import { isPlainObject } from '../core/validate.ts'
import { InvalidOptionError } from '../errors.ts'

/**
 * Settings of {@link DelayLimit}. The bounds mean what they do in `ConcurrencyOptions`; the lowest
 * is 1, so that the limit can follow an origin down to its capacity.
 */
export interface DelayOptions {
  /** @defaultValue 20 */
  initialLimit?: number
  /** @defaultValue 1 */
  minLimit?: number
  /** @defaultValue 200 */
  maxLimit?: number
  /**
   * The target RTT, as a multiple of the baseline (the smallest RTT in `baselineWindow`). Above
   * it, requests are queueing at the origin. 2 leaves room for the jitter of service times,
   * which rarely takes one RTT past 1.5 times the smallest.
   * @defaultValue 2
   */
  tolerance?: number
  /**
   * How long the smallest RTT is remembered as the baseline, in ms. Longer than an overload
   * episode, so the baseline does not drift up with the queue, as a moving average does
   * (Envoy's adaptive concurrency re-measures its minimum RTT every 60 s).
   * @defaultValue 30000
   */
  baselineWindow?: number
  /**
   * How hard the limit is cut above the target: by `beta × (rtt − target) / rtt`, at most
   * `maxDecrease`, once per RTT (Swift's β and max_mdf).
   * @defaultValue 0.8
   */
  beta?: number
  /**
   * The largest share of the limit one cut (or a drop) takes away: half, as TCP does on a loss.
   * @defaultValue 0.5
   */
  maxDecrease?: number
}

/** The defaults of {@link DelayOptions}, with their reasons in its TSDoc. */
export const DEFAULT_DELAY: Readonly<Required<DelayOptions>> = Object.freeze({
  initialLimit: 20,
  minLimit: 1,
  maxLimit: 200,
  tolerance: 2,
  baselineWindow: 30_000,
  beta: 0.8,
  maxDecrease: 0.5,
})

// Growth per RTT (each of the limit's samples adds 1/limit of it): one, or a tenth of the limit
// when that is more. Swift adds a constant per RTT; with 1, a limit cut during overload took
// 2.6-3 s to grow back once capacity returned at a 50 ms service time (bench/overload.ts). A
// constant 4 came back in 0.1-0.5 s but overshot small limits (p99 32 ms against 26 ms at a
// 10 ms service time); a tenth of the limit does both.
function growthPerRtt(limit: number): number {
  return Math.max(1, 0.1 * limit)
}

/**
 * Latency-based AIMD, after Google's Swift (SIGCOMM 2020), which runs AIMD on delay instead of
 * loss. While an attempt's RTT stays within `tolerance ×` the baseline (the smallest RTT seen in
 * `baselineWindow`), the limit grows by one per RTT, or by a tenth when that is more (spread over
 * the RTT's samples), as long as it is in use.
 * Above the target, requests are queueing at the origin, and the limit is cut in proportion to
 * the excess: by `beta × (rtt − target) / rtt`, at most `maxDecrease`, and at most once per RTT,
 * so that one slow round does not cut it many times over. A drop (a 429, 503, timeout or reset)
 * cuts it by `maxDecrease`, also once per RTT.
 *
 * It answers what a loss-based limit cannot see: an origin that queues instead of shedding.
 * Netflix's Gradient2 and Vegas aim at the same thing; in `bench/overload.ts` the first let its
 * moving-average baseline drift up under overload, and the second's minimum-based queue estimate
 * was biased by service-time jitter (`docs/concurrency.md`).
 */
export class DelayLimit implements LimitAlgorithm {
  readonly #options: Readonly<Required<DelayOptions>>
  readonly #baseline: WindowedMin
  #estimate: number
  #lastDecrease = -Infinity

  constructor(options: Readonly<Required<DelayOptions>> = DEFAULT_DELAY) {
    if (!isPlainObject(options)) throw new InvalidOptionError('options', options, 'DelayOptions')
    options = { ...DEFAULT_DELAY, ...options }
    this.#options = options
    this.#baseline = new WindowedMin(options.baselineWindow)
    this.#estimate = clamp(options.initialLimit, options.minLimit, options.maxLimit)
  }

  get limit(): number {
    return Math.floor(this.#estimate)
  }

  /** The baseline RTT at `now`, in ms (`Infinity` before the first sample). */
  baseline(now: number): number {
    return this.#baseline.min(now)
  }

  update(sample: LimitSample): number {
    const { now, rtt, inFlight, dropped } = sample
    const o = this.#options
    if (!(rtt > 0)) return this.limit
    // Only an answer measures the origin's service time. A failed attempt's RTT is however long
    // it lasted before it failed: one cut short by its deadline would set a baseline far below
    // any real answer, and every answer after it would look like queueing.
    if (!dropped) this.#baseline.add(now, rtt)
    const target = o.tolerance * this.#baseline.min(now)
    if (dropped || rtt > target) {
      // Once per RTT: the samples of one slow round all say the same thing.
      if (now - this.#lastDecrease >= rtt) {
        const cut = dropped
          ? o.maxDecrease
          : Math.min(o.maxDecrease, (o.beta * (rtt - target)) / rtt)
        this.#estimate = Math.max(o.minLimit, this.#estimate * (1 - cut))
        this.#lastDecrease = now
      }
    } else if (!appLimited(inFlight, this.#estimate)) {
      const growth = growthPerRtt(this.#estimate) / this.#estimate
      this.#estimate = Math.min(o.maxLimit, this.#estimate + growth)
    }
    return this.limit
  }
}
