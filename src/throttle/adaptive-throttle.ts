import { intInRange, optionsObject, numberInRange, positiveMs } from '../core/validate.ts'
import { SlidingWindow } from '../core/sliding-window.ts'

/** Settings of `AdaptiveThrottle`. */
export interface ThrottleOptions {
  /**
   * The window requests and accepts are counted over, in ms. The SRE book uses 2 minutes; the
   * share it sends settles at the same level whatever the window, and a short one lets traffic
   * back in as soon as the origin recovers: with 10 s, a 3 s outage kept 80% of calls shed for
   * seconds after it ended. Below about 5 calls a second (`minRequests` in the window) it never
   * sheds: the breaker covers an origin that is down. See `docs/budget.md`.
   * @defaultValue 2000
   */
  window?: number
  /**
   * How many requests per accept the client lets through before it sheds: the SRE book's `K`.
   * 2 means the origin still sees about two requests for each it accepts; lower sheds sooner.
   * @defaultValue 2
   */
  k?: number
  /**
   * The highest probability of a local rejection, as in Envoy's admission control (80% by
   * default there too): some calls always reach the origin, so its recovery is seen at once.
   * @defaultValue 0.8
   */
  maxRejection?: number
  /**
   * No call is rejected while the window holds fewer requests than this: with the formula alone,
   * one 503 to a quiet client would shed half of its next calls (Envoy's admission control has
   * `rps_threshold` for the same reason).
   * @defaultValue 10
   */
  minRequests?: number
}

/** The defaults of {@link ThrottleOptions}, with their reasons in its TSDoc. */
export const DEFAULT_THROTTLE: Readonly<Required<ThrottleOptions>> = Object.freeze({
  window: 2_000,
  k: 2,
  maxRejection: 0.8,
  minRequests: 10,
})

const REQUESTS = 0
const ACCEPTS = 1

/**
 * Client-side adaptive throttling (Google SRE book, "Handling Overload"): over a sliding window,
 * a call is rejected locally with probability
 *
 *   min(maxRejection, max(0, (requests - k * accepts) / (requests + 1)))
 *
 * where `requests` counts the calls sent to the origin and `accepts` those it did not turn away
 * as overloaded. While the origin accepts at least one call in `k`, nothing is rejected.
 *
 * Calls rejected locally are not counted, as in Envoy's admission control: they say nothing about
 * the origin, and counting them keeps the probability up after the origin has recovered (with the
 * SRE book's 2-minute window, for minutes). Counted this way, traffic is fully back about 3 s
 * after a 30 s outage ends, at the defaults (`docs/budget.md`).
 *
 * Pure: every method takes `now` (ms, monotonic); the caller draws the random number.
 */
export class AdaptiveThrottle {
  readonly #options: Readonly<Required<ThrottleOptions>>
  readonly #window: SlidingWindow
  #lastRefusal = -Infinity

  constructor(options: ThrottleOptions = {}) {
    this.#options = resolveThrottleOptions('throttle', options)
    this.#window = new SlidingWindow(this.#options.window, 20, 2)
  }

  /** The settings in force, defaults filled in. */
  get options(): Readonly<Required<ThrottleOptions>> {
    return this.#options
  }

  /** The probability that a call made at `now` is rejected locally. */
  rejectionProbability(now: number): number {
    // The healthy case in one comparison: with every request in the window accepted, the
    // formula is at most 0.
    if (now - this.#lastRefusal >= this.#options.window) return 0
    const requests = this.#window.total(now, REQUESTS)
    if (requests < this.#options.minRequests) return 0
    const accepts = this.#window.total(now, ACCEPTS)
    const p = (requests - this.#options.k * accepts) / (requests + 1)
    return Math.min(this.#options.maxRejection, Math.max(0, p))
  }

  /**
   * Records the outcome of a call sent to the origin, at `now`: `accepted` unless the origin
   * turned it away as overloaded. Calls rejected locally, or cancelled by their caller, are not
   * recorded.
   */
  record(now: number, accepted: boolean): void {
    this.#window.add(now, REQUESTS)
    if (accepted) this.#window.add(now, ACCEPTS)
    else this.#lastRefusal = now
  }

  /** Requests and accepts in the window ending at `now`. */
  counts(now: number): { requests: number; accepts: number } {
    return {
      requests: this.#window.total(now, REQUESTS),
      accepts: this.#window.total(now, ACCEPTS),
    }
  }
}

/** Validates throttle options and fills in the defaults. */
export function resolveThrottleOptions(
  where: string,
  options: unknown,
): Readonly<Required<ThrottleOptions>> {
  optionsObject(where, options, Object.keys(DEFAULT_THROTTLE))
  const o = options as ThrottleOptions
  return Object.freeze({
    window: positiveMs(`${where}.window`, o.window, DEFAULT_THROTTLE.window),
    k: numberInRange(`${where}.k`, o.k, 1, 100, DEFAULT_THROTTLE.k),
    maxRejection: numberInRange(
      `${where}.maxRejection`,
      o.maxRejection,
      0,
      1,
      DEFAULT_THROTTLE.maxRejection,
    ),
    minRequests: intInRange(
      `${where}.minRequests`,
      o.minRequests,
      0,
      1_000_000,
      DEFAULT_THROTTLE.minRequests,
    ),
  })
}
