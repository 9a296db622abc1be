import { SlidingWindow } from '../core/sliding-window.ts'

/** Settings of {@link LearnedRate}. */
export interface LearnedRateSettings {
  /** The rate kept after a throttle, as a share of the rate the origin was measured to accept. */
  readonly beta: number
  /** ms the rate takes to climb back to where it was throttled, after a decrease. */
  readonly recovery: number
  /** The lowest learned rate, in requests per second. */
  readonly minRate: number
}

// Sent (0) and accepted (1) requests over the last two seconds: the origin's accepted rate.
const WINDOW = 2000
const SENT = 0
const ACCEPTED = 1
// After a decrease, throttles are not counted again for this long: a server that counts in
// fixed windows refuses everything until its window turns, whatever the new rate.
const HOLD = 1000

/**
 * A rate learned from the origin's throttling (429), per key: TCP CUBIC applied to a request rate,
 * as in the AWS SDKs' adaptive retry mode, with two changes that stop it oscillating into 429
 * storms or collapsing:
 *
 * - **The decrease starts from what the origin accepted**, not from what was sent: a client
 *   sending 200/s to an origin that serves 50/s goes to `beta × 50`, not `beta × 200`.
 * - **One decrease per congestion event**: a 429 counts only for a request sent after the last
 *   decrease and at least a second after it (a server counting fixed windows refuses everything
 *   until its window turns, and every one of those refusals would otherwise cut the rate again).
 *
 * Between throttles the rate climbs on CUBIC's curve, scaled to the rate: back to the throttled
 * rate after `recovery` ms, flat around it, then faster, and forgotten (no learned limit) once it
 * has doubled, since the origin no longer refuses anything near it. Pure: every method takes `now`.
 */
export class LearnedRate {
  readonly #settings: LearnedRateSettings
  readonly #window = new SlidingWindow(WINDOW, 20, 2)
  #firstSample: number | undefined
  // The rate at the last throttle (requests/s), its time, and CUBIC's constant for it.
  #max: number | undefined
  #since = -Infinity
  #k = 0
  #c = 0
  /** Throttles that cut the rate. */
  decreases = 0

  constructor(settings: LearnedRateSettings) {
    this.#settings = settings
  }

  /** Counts a request sent now. */
  sent(now: number): void {
    this.#firstSample ??= now
    this.#window.add(now, SENT)
  }

  /** Counts a response that was not a throttle. */
  accepted(now: number): void {
    this.#firstSample ??= now
    this.#window.add(now, ACCEPTED)
  }

  /**
   * A 429 for a request sent at `sentAt`. Cuts the rate when this is a new congestion event;
   * returns whether it did.
   */
  throttled(now: number, sentAt: number): boolean {
    if (sentAt < this.#since || now - this.#since < HOLD) return false
    const elapsed = Math.max(1, Math.min(WINDOW, now - (this.#firstSample ?? now)))
    const acceptedRate = (this.#window.total(now, ACCEPTED) * 1000) / elapsed
    const sentRate = (this.#window.total(now, SENT) * 1000) / elapsed
    const current = this.rate(now) ?? sentRate
    // What the origin took is the best estimate of its limit; never above what was being sent.
    let max = Math.min(current, acceptedRate > 0 ? acceptedRate : current)
    max = Math.max(max, this.#settings.minRate)
    const { beta, recovery } = this.#settings
    this.#max = max
    this.#since = now
    // W(t) = max · (1 + c (t − k)³), W(0) = beta · max, W(k) = max with k = recovery.
    this.#k = recovery / 1000
    this.#c = (1 - beta) / this.#k ** 3
    this.decreases++
    return true
  }

  /** The learned rate now in requests per second, or `undefined` when none is in force. */
  rate(now: number): number | undefined {
    const max = this.#max
    if (max === undefined) return undefined
    const t = (now - this.#since) / 1000 - this.#k
    const rate = max * (1 + this.#c * t * t * t)
    if (rate >= 2 * max) {
      // Doubled without a throttle: the origin no longer limits anywhere near here.
      this.#max = undefined
      return undefined
    }
    return Math.max(rate, this.#settings.minRate)
  }
}
