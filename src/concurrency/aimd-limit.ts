import { appLimited, type LimitAlgorithm, type LimitSample } from './limit-algorithm.ts'
import { optionsArgument } from '../core/validate.ts'

/** Settings of `AimdLimit`; the defaults are Netflix concurrency-limits' `AIMDLimit`. */
export interface AimdOptions {
  /** @defaultValue 20 */
  initialLimit?: number
  /** @defaultValue 20 */
  minLimit?: number
  /** @defaultValue 200 */
  maxLimit?: number
  /**
   * The limit is multiplied by this on a drop (a 429 or 503, a timeout, a reset).
   * @defaultValue 0.9
   */
  backoffRatio?: number
}

/** The defaults of {@link AimdOptions}. */
export const DEFAULT_AIMD: Readonly<Required<AimdOptions>> = Object.freeze({
  initialLimit: 20,
  minLimit: 20,
  maxLimit: 200,
  backoffRatio: 0.9,
})

/**
 * Loss-based additive increase, multiplicative decrease, like TCP's congestion window: each
 * attempt that ends well adds one while the limit is in use (at least half of it in flight), and
 * each drop multiplies the limit by `backoffRatio`. What Netflix's concurrency-limits recommends
 * for clients: it needs no latency baseline, only the origin's own overload signals.
 */
export class AimdLimit implements LimitAlgorithm {
  readonly #options: Readonly<Required<AimdOptions>>
  #limit: number

  constructor(options: Readonly<Required<AimdOptions>> = DEFAULT_AIMD) {
    optionsArgument('options', options, 'AimdOptions')
    options = { ...DEFAULT_AIMD, ...options }
    this.#options = options
    this.#limit = clamp(options.initialLimit, options.minLimit, options.maxLimit)
  }

  get limit(): number {
    return this.#limit
  }

  update(sample: LimitSample): number {
    const { minLimit, maxLimit, backoffRatio } = this.#options
    if (sample.dropped) {
      this.#limit = Math.max(minLimit, Math.floor(this.#limit * backoffRatio))
    } else if (!appLimited(sample.inFlight, this.#limit)) {
      this.#limit = Math.min(maxLimit, this.#limit + 1)
    }
    return this.#limit
  }
}

/** `value` within `[min, max]`. */
export function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value))
}
