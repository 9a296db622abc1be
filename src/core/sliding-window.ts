import { intInRange, positiveMs } from './validate.ts'

/**
 * Running totals of a few counters over the last `window` ms, kept in a ring of buckets: adding
 * and reading are O(1) (amortised over elapsed buckets), memory is fixed, and a count leaves the
 * total once its bucket is older than the window. Pure: every method takes `now`.
 *
 * Resolution is one bucket: a count is dropped between `window - window / buckets` and `window`
 * ms after it was added.
 */
export class SlidingWindow {
  readonly #bucketMs: number
  readonly #buckets: number
  readonly #series: number
  readonly #counts: Float64Array
  readonly #totals: Float64Array
  #head = 0
  #headStart: number | undefined

  /**
   * @param window - length in ms.
   * @param buckets - how many buckets the window is cut into.
   * @param series - how many counters are kept side by side.
   */
  constructor(window: number, buckets: number, series: number) {
    positiveMs('window', window)
    intInRange('buckets', buckets, 1, 100_000)
    intInRange('series', series, 1, 1_000)
    this.#bucketMs = window / buckets
    this.#buckets = buckets
    this.#series = series
    this.#counts = new Float64Array(buckets * series)
    this.#totals = new Float64Array(series)
  }

  /** Adds `amount` to counter `series` at time `now`. */
  add(now: number, series: number, amount = 1): void {
    this.#advance(now)
    const i = this.#head * this.#series + series
    this.#counts[i] = (this.#counts[i] as number) + amount
    this.#totals[series] = (this.#totals[series] as number) + amount
  }

  /** The total of counter `series` over the window ending at `now`. */
  total(now: number, series: number): number {
    this.#advance(now)
    // Float sums drift by ulps as buckets are subtracted; a count is never below zero.
    return Math.max(0, this.#totals[series] as number)
  }

  #advance(now: number): void {
    if (this.#headStart === undefined) {
      this.#headStart = now
      return
    }
    // Most calls land in the current bucket.
    if (now < this.#headStart + this.#bucketMs) return
    const steps = Math.floor((now - this.#headStart) / this.#bucketMs)
    if (steps <= 0) return
    if (steps >= this.#buckets) {
      this.#counts.fill(0)
      this.#totals.fill(0)
      this.#head = 0
    } else {
      for (let i = 0; i < steps; i++) {
        this.#head = (this.#head + 1) % this.#buckets
        const base = this.#head * this.#series
        for (let s = 0; s < this.#series; s++) {
          this.#totals[s] = (this.#totals[s] as number) - (this.#counts[base + s] as number)
          this.#counts[base + s] = 0
        }
      }
    }
    this.#headStart += steps * this.#bucketMs
  }
}
