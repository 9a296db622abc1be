import { AsyncLocalStorage } from 'node:async_hooks'
import { systemClock, type Clock } from '../core/clock.ts'
import { deadlineFromNow } from './timeout-options.ts'
import { InvalidOptionError } from '../errors.ts'

/** A deadline in force for the code running inside {@link withDeadline}. */
export interface DeadlineScope {
  /** When it passes, as a reading of `clock.now()`. */
  readonly at: number
  /** The clock `at` is measured on. */
  readonly clock: Clock
  /** Milliseconds left; 0 or less once it has passed. */
  remaining(): number
}

class Scope implements DeadlineScope {
  readonly at: number
  readonly clock: Clock
  constructor(at: number, clock: Clock) {
    this.at = at
    this.clock = clock
  }
  remaining(): number {
    return this.at - this.clock.now()
  }
}

// Created at import, but costs nothing until the first withDeadline(): Node 22 only installs its
// promise hooks once a store is entered, and Node 24 has no hooks at all.
const storage = new AsyncLocalStorage<DeadlineScope>()

/** Options of {@link withDeadline}. */
export interface WithDeadlineOptions {
  /**
   * The clock the deadline is measured on. Tests pass a `VirtualClock`.
   * @defaultValue the system clock
   */
  clock?: Clock
}

/**
 * Runs `fn` with a deadline in its async context: every client call made inside it, however
 * deep in awaits, uses `min(its own deadline, this one)`. A nested `withDeadline` can shorten
 * the deadline, never extend it. Returns what `fn` returns.
 *
 * Opt-in because async context is not free on Node 22: once any store has been entered, every
 * promise in the process costs more (see docs/timeouts.md for the figures). Node 24 does not
 * have that cost.
 *
 * @param deadline - milliseconds from now (0 means already expired), or an absolute `Date`.
 * @example
 * ```ts
 * await withDeadline(2_000, async () => {
 *   await api.request('/a') // both calls share what is left of the 2 s
 *   await api.request('/b')
 * })
 * ```
 */
export function withDeadline<T>(
  deadline: number | Date,
  fn: () => T,
  options: WithDeadlineOptions = {},
): T {
  if (typeof fn !== 'function') throw new InvalidOptionError('fn', fn, 'a function to run')
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError('options', options, 'an object such as { clock }')
  }
  const clock = options.clock ?? systemClock
  return enterDeadline(deadlineFromNow(deadline, clock, true), clock, fn)
}

/**
 * {@link withDeadline} for a deadline already known to be valid (the server helpers, once per
 * request): no validation and no options object.
 */
export function enterDeadline<T>(ms: number, clock: Clock, fn: () => T): T {
  const parent = storage.getStore()
  if (parent !== undefined && parent.remaining() <= ms) return fn()
  return storage.run(new Scope(clock.now() + ms, clock), fn)
}

/** The deadline of the enclosing {@link withDeadline}, or `undefined` outside one. */
export function currentDeadline(): DeadlineScope | undefined {
  return storage.getStore()
}
