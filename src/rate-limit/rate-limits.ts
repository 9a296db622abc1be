import type { GcraRule } from './gcra.ts'
import { RateKey, type RateLimitStats } from './rate-key.ts'
import type { ResolvedRateLimit } from './rate-limit-options.ts'

// Keys one client tracks at once (learned rates and counters); the least recently used goes.
const MAX_KEYS = 10_000

/**
 * A client's rate-limit keys: what it learned about each and its counters, in a bounded map (the
 * least recently used key is forgotten past 10,000). The schedule itself is in the store.
 */
export class RateLimits {
  readonly settings: ResolvedRateLimit
  readonly #keys = new Map<string, RateKey>()

  constructor(settings: ResolvedRateLimit) {
    this.settings = settings
  }

  /** The key's state, created on first use; marks it most recently used. */
  get(key: string): RateKey {
    const keys = this.#keys
    let state = keys.get(key)
    if (state === undefined) {
      if (keys.size >= MAX_KEYS) {
        const oldest = keys.keys().next()
        if (oldest.done !== true) keys.delete(oldest.value)
      }
      state = new RateKey(key, this.settings.learn)
      keys.set(key, state)
    } else {
      // Re-inserting moves the key to the recent end of the map's order.
      keys.delete(key)
      keys.set(key, state)
    }
    return state
  }

  /** The rule for `state`'s key now (see `RateKey.rule`). */
  rule(state: RateKey, now: number): GcraRule | undefined {
    return state.rule(now, this.settings.rule, this.settings.burst)
  }

  /** One entry per key, least recently used first. */
  stats(now: number): RateLimitStats[] {
    const { store, rule, burst } = this.settings
    const kind = store.kind
    const { fallback } = store.state()
    const list: RateLimitStats[] = []
    for (const state of this.#keys.values()) {
      list.push({
        key: state.key,
        store: kind,
        fallback,
        rate: state.ratePerSecond(now, rule, burst),
        learnedRate: state.learned?.rate(now),
        pausedFor: state.pausedUntil > now ? state.pausedUntil - now : undefined,
        waiting: state.waiting,
        waited: state.waited,
        waitedMs: state.waitedMs,
        rejected: state.rejected,
        throttled: state.throttled,
        decreases: state.learned?.decreases ?? 0,
      })
    }
    return list
  }
}
