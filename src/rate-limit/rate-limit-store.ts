import type { GcraRule } from './gcra.ts'

/** A store's answer to a reservation: go after `wait` ms, or no place (`wait`: until one frees). */
export interface RateReservation {
  readonly allowed: boolean
  /** ms until the request may go (allowed), or until a slot would be free (refused). */
  readonly wait: number
}

/**
 * Payload of `netiquette:rate-limit`: a shared store lost its backend and a local limit stands
 * in (`fallback`), or it is back (`recovered`).
 */
export interface RateLimitStoreEvent {
  /** The store's kind, e.g. `redis`. */
  store: string
  event: 'fallback' | 'recovered'
  /** With `fallback`: what went wrong (a timeout, the client's error message). */
  reason?: string
}

/** What a store reports for `client.stats()`. */
export interface RateLimitStoreState {
  /** True while a shared store cannot be reached and a local limit stands in for it. */
  readonly fallback: boolean
}

/**
 * Where the rate limit's schedule lives: in the process (`memoryStore`, the default) or shared by
 * every instance of a service (`redisStore` from `netiquette/redis`). A store keeps one
 * theoretical arrival time per key and runs the GCRA step on it atomically.
 *
 * A store may answer synchronously (the memory store does, so a call under its limit costs no
 * promise) or with a promise. A store must never leave a call pending: one that cannot reach its
 * backend answers from a local limit instead.
 */
export interface RateLimitStore {
  /** `memory`, `redis`, or a custom store's name, for stats. */
  readonly kind: string
  /**
   * Reserves the key's next slot under `rule` if its wait is at most `maxWait` ms.
   * @param now - the client's clock, for stores that keep time locally; shared stores use their own.
   */
  reserve(
    key: string,
    rule: GcraRule,
    maxWait: number,
    now: number,
  ): RateReservation | Promise<RateReservation>
  /** No request for `key` before `delay` ms from now: the server's `Retry-After`, for everyone. */
  pause(key: string, rule: GcraRule, delay: number, now: number): void | Promise<void>
  /** The store's condition now, for stats. */
  state(): RateLimitStoreState
  /**
   * Forgets the slots reserved after `to` for `key`, because the rate they were reserved at
   * no longer holds (the server throttled): the attempts waiting for them reserve again at the
   * new rate. Optional: a shared store leaves them (other instances hold some of them), and the
   * attempts then reserve behind them.
   */
  rewind?(key: string, to: number): void
}
