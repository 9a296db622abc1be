import { intInRange, checkKnownKeys, optionsArgument } from '../core/validate.ts'

import { gcraPause, gcraReserve, type GcraRule } from './gcra.ts'
import type { RateLimitStore, RateReservation, RateLimitStoreState } from './rate-limit-store.ts'

/** Options of {@link memoryStore}. */
export interface MemoryStoreOptions {
  /**
   * Keys kept at once; past it the least recently used key is forgotten (its next request finds
   * the full burst).
   * @defaultValue 10000: one timestamp each, under 1 MB, and far more quotas than a process uses
   */
  maxKeys?: number
}

const NOT_SHARED: RateLimitStoreState = Object.freeze({ fallback: false })

/**
 * The rate limit's schedule in this process: one timestamp per key in a bounded map, the GCRA
 * step synchronous. The default store; also the local fallback of `redisStore`.
 */
export function memoryStore(options: MemoryStoreOptions = {}): MemoryRateStore {
  optionsArgument('memoryStore', options)
  checkKnownKeys('memoryStore', options, ['maxKeys'])
  return new MemoryRateStore(
    intInRange('memoryStore.maxKeys', options.maxKeys, 1, 10_000_000, 10_000),
  )
}

/** See {@link memoryStore}. */
export class MemoryRateStore implements RateLimitStore {
  readonly kind = 'memory'
  readonly #maxKeys: number
  // Insertion order is recency: a key is moved to the end when it is used.
  readonly #tats = new Map<string, number>()

  constructor(maxKeys: number) {
    this.#maxKeys = maxKeys
  }

  /** Keys held now. */
  get size(): number {
    return this.#tats.size
  }

  reserve(key: string, rule: GcraRule, maxWait: number, now: number): RateReservation {
    const tat = this.#tats.get(key) ?? -Infinity
    const reservation = gcraReserve(tat, now, rule, maxWait)
    if (reservation.allowed) this.#set(key, reservation.tat)
    return reservation
  }

  pause(key: string, rule: GcraRule, delay: number, now: number): void {
    this.#set(key, gcraPause(this.#tats.get(key) ?? -Infinity, now + delay, rule))
  }

  rewind(key: string, to: number): void {
    const tat = this.#tats.get(key)
    if (tat !== undefined && tat > to) this.#tats.set(key, to)
  }

  state(): RateLimitStoreState {
    return NOT_SHARED
  }

  #set(key: string, tat: number): void {
    const tats = this.#tats
    if (tats.has(key)) {
      // Re-inserting moves the key to the recent end, unless it is there already.
      tats.delete(key)
    } else if (tats.size >= this.#maxKeys) {
      // Forget the least recently used key.
      const oldest = tats.keys().next()
      if (oldest.done !== true) tats.delete(oldest.value)
    }
    tats.set(key, tat)
  }
}
