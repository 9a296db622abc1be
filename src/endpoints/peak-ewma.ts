/**
 * Finagle's and Linkerd's peak-EWMA latency of one address: an exponentially weighted moving
 * average that jumps to any sample above it at once and decays toward newer, lower samples, and
 * toward zero while nothing is observed. A slow address therefore looks slow after its first slow
 * answer, and looks cheap again, so that it is tried again, some `decay` ms after it stops
 * answering slowly. Pure: every method takes `now`.
 */
export class PeakEwma {
  readonly #decay: number
  #value = 0
  #stamp: number

  /**
   * @param decay - the time constant τ, in ms: a sample's weight falls to 1/e after τ.
   * @param now - the time of creation, in ms.
   */
  constructor(decay: number, now: number) {
    this.#decay = decay
    this.#stamp = now
  }

  /** Records a latency of `ms` observed at `now`. */
  observe(now: number, ms: number): void {
    const w = Math.exp(-Math.max(0, now - this.#stamp) / this.#decay)
    this.#stamp = now
    // The estimate as decayed until now; a sample above it replaces it (the peak).
    const decayed = this.#value * w
    this.#value = ms > decayed ? ms : decayed + ms * (1 - w)
  }

  /**
   * Raises the estimate to `ms` if it is higher, never lowers it: for an attempt that ended
   * without an answer (a timeout, a hedge that overtook it), whose time is only a lower bound.
   */
  observePeak(now: number, ms: number): void {
    if (ms > this.value(now)) {
      this.#value = ms
      this.#stamp = now
    }
  }

  /** The estimate at `now`, in ms, decayed toward zero for the time since the last sample. */
  value(now: number): number {
    const elapsed = Math.max(0, now - this.#stamp)
    return elapsed === 0 ? this.#value : this.#value * Math.exp(-elapsed / this.#decay)
  }

  /** Forgets every sample: the address is measured afresh (after it was ejected). */
  reset(now: number): void {
    this.#value = 0
    this.#stamp = now
  }
}
