import type { GcraRule } from './gcra.ts'
import { LearnedRate, type LearnedRateSettings } from './learned-rate.ts'

/** One rate-limit key as `client.stats().rateLimits` shows it. */
export interface RateLimitStats {
  /** The key (the origin, unless `rateLimit.key` names quotas otherwise). */
  key: string
  /** The store's kind: `memory`, `redis`, or a custom store's. */
  store: string
  /** True while a shared store is unreachable and the local fallback limit applies. */
  fallback: boolean
  /**
   * Requests per second allowed now: the least of the configured rate, the learned one and the
   * one the server's `RateLimit-*` headers leave; `undefined` when nothing limits the key.
   */
  rate: number | undefined
  /** The rate learned from the server's 429s, per second; `undefined` when none is in force. */
  learnedRate: number | undefined
  /** ms until the pause a server asked for (`Retry-After`) ends; `undefined` when not paused. */
  pausedFor: number | undefined
  /** Attempts waiting for their slot now. */
  waiting: number
  /** Attempts that waited for their slot, and their total wait in ms. */
  waited: number
  waitedMs: number
  /** Attempts refused because their slot would come after their deadline. */
  rejected: number
  /** 429 responses seen for the key, and how many of them lowered the learned rate. */
  throttled: number
  decreases: number
}

/** Learned-rate settings the layer uses (AWS's beta; three seconds back to the old rate). */
export const LEARNED_RATE: LearnedRateSettings = Object.freeze({
  beta: 0.85,
  recovery: 2000,
  minRate: 0.05,
})

/**
 * What one client knows about one rate-limit key besides the store's schedule: the learned rate,
 * the pacing the server's `RateLimit-*` headers ask for, a pause it learned of, and counters.
 * Pure: every method takes `now`.
 */
export class RateKey {
  readonly key: string
  readonly learned: LearnedRate | undefined
  // Pacing from the RateLimit headers: the window's quota spread over the window, and what is
  // left of a nearly spent quota spread over the time to its reset, each until a time.
  #windowInterval = 0
  #windowUntil = -Infinity
  #spendInterval = 0
  #spendUntil = -Infinity
  // The longest reset the server gave: the length of its window, as far as the client knows.
  #window = 0
  /** The end of the last pause this client learned of (its own 429 with `Retry-After`). */
  pausedUntil = -Infinity
  /**
   * Times the learned rate was cut and the slots reserved at the old rate given up: an attempt
   * that reserved its slot before a cut takes a new one.
   */
  cuts = 0
  waiting = 0
  waited = 0
  waitedMs = 0
  rejected = 0
  throttled = 0

  constructor(key: string, learn: boolean) {
    this.key = key
    this.learned = learn ? new LearnedRate(LEARNED_RATE) : undefined
  }

  /**
   * The rule a request for this key follows now: the configured one, slowed to the learned rate
   * and to the headers' pacing when those are lower; `undefined` when nothing limits the key.
   */
  rule(now: number, configured: GcraRule | undefined, burst: number): GcraRule | undefined {
    let interval = configured?.interval ?? 0
    const learned = this.learned?.rate(now)
    if (learned !== undefined) interval = Math.max(interval, 1000 / learned)
    if (now < this.#windowUntil) interval = Math.max(interval, this.#windowInterval)
    if (now < this.#spendUntil) interval = Math.max(interval, this.#spendInterval)
    if (interval === 0) return undefined
    if (configured !== undefined && interval === configured.interval) return configured
    return { interval, tolerance: burst * interval }
  }

  /**
   * The server said `remaining` requests are left until `reset` ms from now, of `limit` per
   * window when it says so. With a limit, requests are paced at `limit` per window (the longest
   * reset seen is taken as the window's length), so a window's quota is not spent in its first
   * moments; when the quota is nearly spent (under a tenth of the limit, or under 10), what is
   * left is spread over the time left. Returns true when nothing is left, which the caller turns
   * into a pause until the reset.
   */
  serverQuota(now: number, remaining: number, reset: number, limit: number | undefined): boolean {
    if (reset <= 0) return false
    if (remaining <= 0) return true
    if (reset > this.#window) this.#window = reset
    if (limit !== undefined && limit > 0) {
      this.#windowInterval = this.#window / limit
      // Past this window too: the next one most likely has the same quota.
      this.#windowUntil = now + reset + this.#window
    }
    const nearlySpent = limit !== undefined && limit > 0 ? remaining < limit / 10 : remaining < 10
    if (nearlySpent) {
      this.#spendInterval = reset / remaining
      this.#spendUntil = now + reset
    }
    return false
  }

  /** Rate allowed now, in requests per second, for stats. */
  ratePerSecond(now: number, configured: GcraRule | undefined, burst: number): number | undefined {
    const rule = this.rule(now, configured, burst)
    return rule === undefined ? undefined : 1000 / rule.interval
  }
}
