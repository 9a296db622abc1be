import { intInRange, isPlainObject, optionalFunction, positiveMs } from './validate.ts'
import { InvalidOptionError } from '../errors.ts'
interface Entry<T> {
  value: T
  lastUsed: number
}

/** Options of an `OriginMap`. */
export interface OriginMapOptions<T> {
  /** Creates the state for an origin seen for the first time. */
  create: (origin: string) => T
  /** Releases an entry's resources (timers, listeners) when it is evicted or the map is cleared. */
  dispose?: (value: T, origin: string) => void
  /** Most origins kept at once; the least recently used is evicted past it. */
  maxOrigins: number
  /** An origin unused for this long (ms) is evicted the next time the map is used. */
  idleTimeout: number
  /** Monotonic clock in ms. */
  now: () => number
}

/**
 * Per-origin state, bounded two ways: at most `maxOrigins` entries (least recently used goes
 * first) and no entry idle for longer than `idleTimeout`. Expiry is lazy, done while the map is
 * used, so the map owns no timer; every evicted entry is disposed, which releases its timers.
 *
 * A call that already holds an entry keeps using it after eviction; the next call for that
 * origin starts from fresh state.
 */
export class OriginMap<T> {
  readonly #entries = new Map<string, Entry<T>>()
  readonly #options: OriginMapOptions<T>
  readonly #sweepEvery: number
  #lastSweep: number
  #newest: string | undefined

  constructor(options: OriginMapOptions<T>) {
    if (!isPlainObject(options))
      throw new InvalidOptionError('options', options, 'OriginMapOptions')
    if (typeof options.create !== 'function' || typeof options.now !== 'function') {
      throw new InvalidOptionError('options', options, 'an object with create() and now()')
    }
    optionalFunction('dispose', options.dispose)
    intInRange('maxOrigins', options.maxOrigins, 1, Number.MAX_SAFE_INTEGER)
    positiveMs('idleTimeout', options.idleTimeout)
    this.#options = options
    // Sweeping scans from the least recently used end and stops at the first live entry, so it
    // is cheap; doing it at most a few times per idle period keeps it off most calls entirely.
    this.#sweepEvery = Math.max(1, options.idleTimeout / 4)
    this.#lastSweep = options.now()
  }

  /** Number of origins held. */
  get size(): number {
    return this.#entries.size
  }

  /**
   * The state for `origin`, created if missing; marks it as just used. `now` saves a clock reading
   * when the caller has one (a call's start time).
   */
  get(origin: string, now: number = this.#options.now()): T {
    if (now - this.#lastSweep >= this.#sweepEvery) this.#sweep(now)
    const map = this.#entries
    const entry = map.get(origin)
    if (entry !== undefined) {
      entry.lastUsed = now
      // Re-insert to move it to the most recently used end of the Map's insertion order, unless
      // it is there already: a client that talks to one origin then never pays for the move.
      if (origin !== this.#newest) {
        map.delete(origin)
        map.set(origin, entry)
        this.#newest = origin
      }
      return entry.value
    }
    const value = this.#options.create(origin)
    map.set(origin, { value, lastUsed: now })
    this.#newest = origin
    if (map.size > this.#options.maxOrigins) {
      const oldest = map.keys().next().value as string
      this.delete(oldest)
    }
    return value
  }

  /** The state for `origin` if held, without creating it or marking it used. */
  peek(origin: string): T | undefined {
    return this.#entries.get(origin)?.value
  }

  /** Evicts and disposes `origin`'s state. */
  delete(origin: string): boolean {
    const entry = this.#entries.get(origin)
    if (entry === undefined) return false
    this.#entries.delete(origin)
    if (origin === this.#newest) this.#newest = undefined
    this.#options.dispose?.(entry.value, origin)
    return true
  }

  /** Evicts and disposes everything. */
  clear(): void {
    for (const origin of [...this.#entries.keys()]) this.delete(origin)
  }

  /** Origins and their states, least recently used first. */
  *entries(): IterableIterator<[string, T]> {
    for (const [origin, entry] of this.#entries) yield [origin, entry.value]
  }

  #sweep(now: number): void {
    this.#lastSweep = now
    const limit = this.#options.idleTimeout
    for (const [origin, entry] of this.#entries) {
      if (now - entry.lastUsed < limit) break
      this.delete(origin)
    }
  }
}
