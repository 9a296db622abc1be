/**
 * The smallest value seen over the last `window` ms, kept in a ring of buckets: O(1) to add,
 * O(buckets) to read, fixed memory. Pure: every method takes `now`. A value leaves between
 * `window - window / buckets` and `window` ms after it was added.
 */
export class WindowedMin {
  readonly #bucketMs: number
  readonly #mins: Float64Array
  #head = 0
  #headStart: number | undefined

  constructor(window: number, buckets = 10) {
    this.#bucketMs = window / buckets
    this.#mins = new Float64Array(buckets).fill(Infinity)
  }

  /** Adds `value` at `now`. */
  add(now: number, value: number): void {
    this.#advance(now)
    if (value < (this.#mins[this.#head] as number)) this.#mins[this.#head] = value
  }

  /** The smallest value in the window ending at `now`; `Infinity` when it is empty. */
  min(now: number): number {
    this.#advance(now)
    let min = Infinity
    for (const value of this.#mins) if (value < min) min = value
    return min
  }

  #advance(now: number): void {
    if (this.#headStart === undefined) {
      this.#headStart = now
      return
    }
    const steps = Math.floor((now - this.#headStart) / this.#bucketMs)
    if (steps <= 0) return
    const n = this.#mins.length
    if (steps >= n) this.#mins.fill(Infinity)
    else {
      for (let i = 1; i <= steps; i++) this.#mins[(this.#head + i) % n] = Infinity
    }
    this.#head = (this.#head + steps) % n
    this.#headStart += steps * this.#bucketMs
  }
}
