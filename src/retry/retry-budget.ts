import { intInRange, optionsObject, numberInRange, positiveMs } from '../core/validate.ts'
import { SlidingWindow } from '../core/sliding-window.ts'

/** Settings of a {@link RetryBudget}. */
export interface RetryBudgetOptions {
  /**
   * The sliding window over which calls and failed retries are counted, in ms (Finagle's and
   * Linkerd's budget TTL).
   * @defaultValue 10000
   */
  window?: number
  /**
   * Failed retries allowed per call in the window: 0.1 holds a total outage to about 1.1 attempts
   * per call, the SRE book's per-client limit ("the 10% budget reduces the growth to just 1.1x").
   * @defaultValue 0.1
   */
  ratio?: number
  /**
   * Retries allowed per second of the window on top of the ratio, so that a client with little
   * traffic can still retry (Finagle's `minRetriesPerSec`, which is 10 at 20%; 1 here keeps a
   * total outage at 200 calls/s near 1.1x).
   * @defaultValue 1
   */
  minRetriesPerSecond?: number
  /**
   * Retries that may be pending at once (waiting out their backoff or on the wire) however
   * little else is in flight (Envoy's `min_retry_concurrency`): the cap on pending retries is the
   * larger of this and the number of first attempts in flight. Envoy's is 3 with a 25 ms base
   * backoff; a retry here waits from 100 ms, so it holds its place about four times as long, and
   * 10 keeps the same headroom (at 3, a client at 200 calls/s with 20% failures lost 7% of its
   * calls to the cap).
   * @defaultValue 10
   */
  minRetryConcurrency?: number
}

/** The defaults of {@link RetryBudgetOptions}, with their sources in its TSDoc. */
export const DEFAULT_RETRY_BUDGET: Readonly<Required<RetryBudgetOptions>> = Object.freeze({
  window: 10_000,
  ratio: 0.1,
  minRetriesPerSecond: 1,
  minRetryConcurrency: 10,
})

/** Counters of a budget: totals since it was created, and what is in flight now. */
export interface RetryBudgetStats {
  /** Retries the budget allowed. */
  allowed: number
  /** Retries it refused. */
  refused: number
  /** Retries allowed whose attempt has not ended yet (waiting out a backoff, or sent). */
  pending: number
  /** First attempts of calls on the wire now. */
  attemptsInFlight: number
  /** Retry attempts on the wire now. */
  retriesInFlight: number
}

const CALLS = 0
const FAILED_RETRIES = 1

/**
 * Bounds the extra load retries add to an origin, across calls. A retry is allowed when both hold:
 *
 * - **Rate**: over a sliding `window`,
 *   `failed retries + pending retries + 1 <= ratio * calls + minRetriesPerSecond * window (s)`.
 * - **Concurrency**: pending retries (allowed and not ended: waiting out a backoff, or on the
 *   wire) stay below `max(minRetryConcurrency, first attempts on the wire)`, so retries never
 *   outnumber fresh traffic in flight, and a quiet client can still have a few out.
 *
 * A retry is charged when it fails. One that succeeds costs nothing, as in the AWS SDKs' retry
 * quota, which refunds a retry that succeeds: it replaced a failed attempt with a served one, so
 * the origin did not do work for nothing. During a total outage no retry succeeds, and attempts
 * stay near `1 + ratio` per call. When 20% of attempts fail, most retries succeed, and the budget
 * does not get in their way. A pending retry (allowed, not yet ended) is reserved against the rate,
 * so a burst of failures cannot overdraw it.
 *
 * Pure: every method that depends on time takes `now` (ms, monotonic). One instance may serve
 * several clients, so that a whole service's retries to a dependency share one limit.
 *
 * @example
 * ```ts
 * const inventoryBudget = new RetryBudget({ ratio: 0.1 })
 * const a = createClient({ origin: 'http://inventory', retry: { budget: inventoryBudget } })
 * const b = createClient({ origin: 'http://inventory', retry: { budget: inventoryBudget } })
 * ```
 */
export class RetryBudget {
  readonly #options: Readonly<Required<RetryBudgetOptions>>
  readonly #window: SlidingWindow
  readonly #floor: number
  #pending = 0
  #attemptsInFlight = 0
  #retriesInFlight = 0
  #allowed = 0
  #refused = 0

  constructor(options: RetryBudgetOptions = {}) {
    this.#options = resolveRetryBudgetOptions('budget', options)
    const { window, minRetriesPerSecond } = this.#options
    this.#window = new SlidingWindow(window, 10, 2)
    this.#floor = (minRetriesPerSecond * window) / 1000
  }

  /** The settings in force, defaults filled in. */
  get options(): Readonly<Required<RetryBudgetOptions>> {
    return this.#options
  }

  /** A call started: it adds `ratio` to what retries may spend. */
  recordCall(now: number): void {
    this.#window.add(now, CALLS)
  }

  /** An attempt was sent; `retry` says whether it is a retry the budget allowed. */
  attemptStarted(retry: boolean): void {
    if (retry) this.#retriesInFlight++
    else this.#attemptsInFlight++
  }

  /** An attempt from {@link RetryBudget.attemptStarted} has ended. */
  attemptEnded(retry: boolean): void {
    if (retry) this.#retriesInFlight = Math.max(0, this.#retriesInFlight - 1)
    else this.#attemptsInFlight = Math.max(0, this.#attemptsInFlight - 1)
  }

  /**
   * Asks for one retry at `now`. When allowed, the retry is pending until
   * {@link RetryBudget.retryEnded}; when refused, nothing changes but the `refused` counter.
   */
  tryRetry(now: number): boolean {
    if (this.canRetry(now)) {
      this.#pending++
      this.#allowed++
      return true
    }
    this.#refused++
    return false
  }

  /** Whether a retry would be allowed at `now`, without taking it. */
  canRetry(now: number): boolean {
    return this.#canSpend(now, 1)
  }

  /**
   * Asks for one hedge at `now`: as {@link RetryBudget.tryRetry}, but only while retries and
   * hedges have spent at most half of what the window allows, so that retries, which recover
   * failures, always keep the other half, and an origin whose retries fail stops being hedged.
   * Allowed, it is pending until {@link RetryBudget.retryEnded}; a hedge that was sent is
   * charged whatever its outcome, since one of the two copies was work for nothing. Refusals
   * are not counted in `refused`, which counts retries.
   */
  tryHedge(now: number): boolean {
    if (!this.#canSpend(now, 0.5)) return false
    this.#pending++
    return true
  }

  #canSpend(now: number, share: number): boolean {
    const cap = Math.max(this.#options.minRetryConcurrency, this.#attemptsInFlight)
    // Pending retries (waiting out a backoff, or sent) count, as in Envoy, which holds a retry's
    // place from when it is scheduled: a retry granted while sleeping is on the wire moments later.
    if (this.#pending >= cap * share) return false
    const spent = this.#window.total(now, FAILED_RETRIES) + this.#pending
    return spent + 1 <= share * (this.#options.ratio * this.#window.total(now, CALLS) + this.#floor)
  }

  /**
   * A retry allowed by `tryRetry` has ended: its attempt got an answer or failed, or the call was
   * aborted before it was sent. `failed` (it reached the origin and failed) charges it.
   */
  retryEnded(now: number, failed: boolean): void {
    this.#pending = Math.max(0, this.#pending - 1)
    if (failed) this.#window.add(now, FAILED_RETRIES)
  }

  /** What the budget has done so far, and what is in flight. */
  get stats(): RetryBudgetStats {
    return {
      allowed: this.#allowed,
      refused: this.#refused,
      pending: this.#pending,
      attemptsInFlight: this.#attemptsInFlight,
      retriesInFlight: this.#retriesInFlight,
    }
  }

  /** A short account of the budget at `now`, for a refusal's reason. */
  describe(now: number): string {
    const { ratio, minRetryConcurrency, window } = this.#options
    const calls = this.#window.total(now, CALLS)
    const failed = this.#window.total(now, FAILED_RETRIES)
    const allowance = ratio * calls + this.#floor
    const cap = Math.max(minRetryConcurrency, this.#attemptsInFlight)
    return (
      `${round(failed)} failed and ${this.#pending} pending retries of ${round(allowance)} allowed ` +
      `for ${round(calls)} calls in ${window / 1000} s; ${this.#pending} of at most ${cap} pending at once`
    )
  }
}

function round(n: number): number {
  return Math.round(n * 10) / 10
}

/** Validates budget options and fills in the defaults. */
export function resolveRetryBudgetOptions(
  where: string,
  options: unknown,
): Readonly<Required<RetryBudgetOptions>> {
  optionsObject(where, options, Object.keys(DEFAULT_RETRY_BUDGET))
  const o = options as RetryBudgetOptions
  const at = (key: string) => `${where}.${key}`
  return Object.freeze({
    window: positiveMs(at('window'), o.window, DEFAULT_RETRY_BUDGET.window),
    ratio: numberInRange(at('ratio'), o.ratio, 0, 10, DEFAULT_RETRY_BUDGET.ratio),
    minRetriesPerSecond: numberInRange(
      at('minRetriesPerSecond'),
      o.minRetriesPerSecond,
      0,
      1e6,
      DEFAULT_RETRY_BUDGET.minRetriesPerSecond,
    ),
    minRetryConcurrency: intInRange(
      at('minRetryConcurrency'),
      o.minRetryConcurrency,
      0,
      1_000_000,
      DEFAULT_RETRY_BUDGET.minRetryConcurrency,
    ),
  })
}
