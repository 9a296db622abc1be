import { SlidingWindow } from '../core/sliding-window.ts'
import { LatencyWindow } from '../core/latency-window.ts'

/** How far back attempt latencies count for a percentile delay: Finagle's 30 s. */
const LATENCY_WINDOW = 30_000
/** How often a percentile delay is read again from the window: Finagle's 3 s. */
const REFRESH_INTERVAL = 3_000
/** The window over which hedges are held to `maxExtraLoad` of calls: the retry budget's 10 s. */
const LOAD_WINDOW = 10_000
/** Finagle's floor: a backup is never sent sooner than 1 ms, even when the percentile is ~0. */
const MIN_DELAY = 1

/** The origin-state slot of an origin's {@link HedgeState}: one per origin, whatever the policy. */
export const HEDGE_STATE: unique symbol = Symbol('hedging')

const CALLS = 0
const HEDGES = 1

/** Hedging's counters for one origin, as `client.stats()` shows them. */
export interface HedgeStats {
  /** Hedges sent. */
  sent: number
  /** Hedges whose answer the call took (the attempt they hedged was cancelled). */
  won: number
  /** Hedges that were due and not sent: see `docs/hedging.md` for why one is refused. */
  refused: number
  /** The percentile delay now, in ms; `undefined` with a fixed delay or too few samples. */
  delay: number | undefined
}

/**
 * What hedging knows about one origin: its recent attempt latency (for a percentile delay and
 * the deadline rule) and how many hedges it was sent against how many calls (for
 * `maxExtraLoad`). Pure: every method takes `now`; memory is fixed (two windows of counts).
 */
export class HedgeState {
  readonly #latency = new LatencyWindow(LATENCY_WINDOW, 10)
  readonly #load = new SlidingWindow(LOAD_WINDOW, 10, 2)
  // Samples recorded since the last refresh, and how many the window held then.
  #samples = 0
  #counted = 0
  #refreshedAt = -Infinity
  #quantile = NaN
  #delay: number | undefined
  #typical: number | undefined
  sent = 0
  won = 0
  refused = 0

  /** `calls` calls started (one by default): each adds `maxExtraLoad` to what hedges may spend. */
  recordCall(now: number, calls = 1): void {
    this.#load.add(now, CALLS, calls)
  }

  /**
   * An attempt's latency: to its response headers for an answer, or until it was stopped for an
   * attempt that timed out or lost to a hedge. Fast failures are left out, as Finagle does: a
   * refused connect would pull the percentile, and every hedge, earlier.
   */
  recordLatency(now: number, ms: number): void {
    this.#latency.record(now, ms)
    this.#samples++
  }

  /**
   * The delay at `quantile` of the latencies of the last 30 s, read again every 3 s (and as soon
   * as enough samples arrive while none is known). `undefined` until the window holds
   * `max(20, 1 / (1 − quantile))` samples: enough that the percentile is not simply the slowest
   * of a handful (a p99 needs 100).
   */
  delay(now: number, quantile: number): number | undefined {
    this.#refresh(now, quantile)
    return this.#delay
  }

  /** The median attempt latency as of the last refresh; `undefined` before enough samples. */
  typical(): number | undefined {
    return this.#typical
  }

  /** The percentile delay last read, for stats. */
  get currentDelay(): number | undefined {
    return this.#delay
  }

  /**
   * Takes a hedge if one more keeps hedges within `maxExtraLoad` of the calls of the last 10 s.
   * Nothing is taken when it is refused.
   */
  tryHedge(now: number, maxExtraLoad: number): boolean {
    const hedges = this.#load.total(now, HEDGES)
    if (hedges + 1 > maxExtraLoad * this.#load.total(now, CALLS)) return false
    this.#load.add(now, HEDGES)
    return true
  }

  /** Gives back a hedge taken by `tryHedge` that was not sent after all (a policy declined it). */
  refund(now: number): void {
    this.#load.add(now, HEDGES, -1)
  }

  #refresh(now: number, quantile: number): void {
    const stale = now - this.#refreshedAt >= REFRESH_INTERVAL || quantile !== this.#quantile
    const needed = Math.max(20, Math.ceil(1 / (1 - quantile) - 1e-9))
    // Before the first delay is known, read as soon as enough samples have come in.
    if (!stale && !(this.#delay === undefined && this.#counted + this.#samples >= needed)) return
    this.#refreshedAt = now
    this.#quantile = quantile
    this.#samples = 0
    const { count, values } = this.#latency.quantiles(now, [0.5, quantile])
    this.#counted = count
    if (count < needed) {
      this.#delay = undefined
      this.#typical = undefined
      return
    }
    this.#typical = values[0]
    this.#delay = Math.max(MIN_DELAY, values[1] as number)
  }
}
