import { clamp } from './aimd-limit.ts'
import { appLimited, type LimitAlgorithm, type LimitSample } from './limit-algorithm.ts'
import { WindowedMin } from './windowed-min.ts'
import { optionsArgument } from '../core/validate.ts'

/**
 * Settings of `DelayLimit`. The bounds mean what they do in `ConcurrencyOptions`; the lowest
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
   * The target mean RTT of a round, as a multiple of the baseline (the smallest round mean in
   * `baselineWindow`). Above it, requests are queueing at the origin. The mean of 20 answers
   * moves little with the jitter of service times, so 1.5 is enough room; single answers needed
   * 2, and still cut the limit on origins whose answers vary 3 to 1 (`docs/concurrency.md`).
   * @defaultValue 1.5
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
  tolerance: 1.5,
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

// RTTs after a cut during which the limit does not grow. A delay-based limit finds the origin's
// capacity only by going past it, and each time it does, the requests of one RTT queue at the
// origin. Growing straight back after each cut did so every 4 to 5 RTTs, and the p99 during a
// 3x capacity drop was 2.2 times the p99 before it; holding for 20 RTTs makes it 1.8 times,
// at the same goodput, and capacity that comes back is still found within 0.3 s at a 10 ms
// service time (bench/overload.ts). 30 gained little more and took 1.5 s at 50 ms.
const HOLD_RTTS = 20

// The share of the limit a timeout or reset takes away (AIMD's 0.9 backoff ratio).
const DROP_DECREASE = 0.1

// The fewest answers a round averages. Answers of one origin differ (a fast 404, a cached hit, a
// body sent after quick headers): with 5, rounds of mostly fast answers set a baseline that made
// every ordinary round look like queueing, and the lab's slow-body scenario cut the limit to 1.
// 20 held it there, at a p99 during a 3x capacity drop of 2.0 times the p99 before (1.9 with 5).
const ROUND_SAMPLES = 20

/**
 * Latency-based AIMD, after Google's Swift (SIGCOMM 2020), which runs AIMD on delay instead of
 * loss. It judges rounds: at least 20 answers over at least one RTT (the last round's mean).
 * While a round's mean RTT stays within `tolerance ×` the baseline (the smallest round mean in
 * `baselineWindow`), the limit grows by one per round, or by a tenth when that is more, as long
 * as it is in use, and not for 20 RTTs after a cut. Above the target, requests are queueing at
 * the origin, and the limit is cut in proportion to the excess: by `beta × (mean − target) /
 * mean`, at most `maxDecrease`. A limit far from use (fewer than half its places taken) is
 * neither grown nor cut. A timeout or reset takes a tenth off, once per RTT; a 429 or 503 is
 * left to adaptive throttling.
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
  #lastDrop = -Infinity
  // The round in progress: its start, length (the last round's mean RTT), and its samples.
  #roundStart = -Infinity
  #roundLength = 0
  #sum = 0
  #count = 0
  #roundInFlight = 0

  constructor(options: Readonly<Required<DelayOptions>> = DEFAULT_DELAY) {
    optionsArgument('options', options, 'DelayOptions')
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
    if (!(rtt > 0) || sample.nack === true) return this.limit
    if (dropped) {
      // A timeout or a reset: a tenth off, once per RTT, as AIMD does on a loss. Harder cuts
      // halved the limit whenever a few slow attempts timed out (a GC pause, one slow worker),
      // and the queue shed calls the origin could have served. Its RTT is however long it
      // lasted before it failed, which measures nothing, so it joins no round, and it does not
      // hold growth back: latency does that.
      if (now - this.#lastDrop >= rtt) {
        this.#estimate = Math.max(o.minLimit, this.#estimate * (1 - DROP_DECREASE))
        this.#lastDrop = now
      }
      return this.limit
    }
    this.#sum += rtt
    this.#count++
    if (inFlight > this.#roundInFlight) this.#roundInFlight = inFlight
    if (now - this.#roundStart < this.#roundLength || this.#count < ROUND_SAMPLES) {
      return this.limit
    }
    // A round ends about one RTT after it began: its mean RTT is the signal. Single answers
    // vary with the service time (one at 3 times another is common); the mean of a round moves
    // when requests queue at the origin.
    const mean = this.#sum / this.#count
    const used = !appLimited(this.#roundInFlight, this.#estimate)
    this.#sum = 0
    this.#count = 0
    this.#roundInFlight = 0
    this.#roundStart = now
    this.#roundLength = mean
    this.#baseline.add(now, mean)
    const target = o.tolerance * this.#baseline.min(now)
    // A limit far from use is not cut: what queues at the origin is not of its making, and a
    // cut it could not feel would only shed the next burst.
    if (mean > target && used) {
      const cut = Math.min(o.maxDecrease, (o.beta * (mean - target)) / mean)
      this.#estimate = Math.max(o.minLimit, this.#estimate * (1 - cut))
      this.#lastDecrease = now
    } else if (mean <= target && used && now - this.#lastDecrease >= HOLD_RTTS * mean) {
      this.#estimate = Math.min(o.maxLimit, this.#estimate + growthPerRtt(this.#estimate))
    }
    return this.limit
  }
}
