import { SlidingWindow } from './sliding-window.ts'

// Five buckets per doubling from 0.1 ms: a quantile is reported within about 7% of the truth,
// and 106 buckets reach past 200 s, beyond any finite deadline worth having.
const PER_DOUBLING = 5
const SMALLEST = 0.1
const BUCKETS = 106

/**
 * Latencies over the last `window` ms as a log-scale histogram, for quantiles such as p50 and
 * p99: recording is O(1) and memory is fixed whatever the call rate (about 6 KiB), so a busy
 * origin is summarised as well as a quiet one. Pure: every method takes `now`.
 *
 * A quantile is the geometric middle of its bucket (five per doubling), within about 7% of the
 * exact value; below 0.1 ms everything is one bucket.
 */
export class LatencyWindow {
  readonly #counts: SlidingWindow

  /**
   * @param window - how far back samples count, in ms.
   * @param slices - how many slices the window is cut into: a sample leaves the window between
   *   `window - window / slices` and `window` ms after it was recorded.
   */
  constructor(window: number, slices: number) {
    this.#counts = new SlidingWindow(window, slices, BUCKETS)
  }

  /** Records a latency of `ms` at time `now`. */
  record(now: number, ms: number): void {
    this.#counts.add(now, bucketOf(ms))
  }

  /**
   * How many latencies the window ending at `now` holds, and their `qs` quantiles (each
   * 0 < q ≤ 1, ascending) in ms; `undefined` quantiles when there are none.
   */
  quantiles(now: number, qs: readonly number[]): { count: number; values: (number | undefined)[] } {
    const counts: number[] = []
    let total = 0
    for (let i = 0; i < BUCKETS; i++) {
      const count = this.#counts.total(now, i)
      counts.push(count)
      total += count
    }
    if (total === 0) return { count: 0, values: qs.map(() => undefined) }
    const values: number[] = []
    let seen = 0
    let i = -1
    for (const q of qs) {
      // Nearest rank: the smallest value with at least q of the samples at or below it.
      const rank = Math.max(1, Math.ceil(q * total))
      while (seen < rank && i < BUCKETS - 1) seen += counts[++i] as number
      values.push(valueOf(i))
    }
    return { count: total, values }
  }
}

function bucketOf(ms: number): number {
  if (!(ms >= SMALLEST)) return 0
  const i = Math.floor(Math.log2(ms / SMALLEST) * PER_DOUBLING) + 1
  return i < BUCKETS ? i : BUCKETS - 1
}

/** The geometric middle of bucket `i`, rounded to 0.01 ms. */
function valueOf(i: number): number {
  if (i === 0) return SMALLEST / 2
  const ms = SMALLEST * 2 ** ((i - 0.5) / PER_DOUBLING)
  return Math.round(ms * 100) / 100
}
