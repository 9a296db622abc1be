import type { Random } from '../core/random.ts'
import { InvalidOptionError } from '../errors.ts'

/**
 * How the wait before a retry is drawn (AWS Architecture Blog, "Exponential Backoff And Jitter"):
 * - `full`: `random(0, min(cap, base * 2^n))`. The default, as in AWS, gRPC and Envoy: it spreads
 *   retries the most, so clients that failed together do not retry together.
 * - `equal`: half of `min(cap, base * 2^n)` fixed, half random. Never retries at once.
 * - `decorrelated`: `min(cap, random(base, previous * 3))`, from the previous delay rather than
 *   the retry number, as cockatiel and Polly offer.
 */
export type BackoffStrategy = 'full' | 'equal' | 'decorrelated'

/** Inputs of {@link backoffDelay}. Times in ms; `random` returns numbers in [0, 1). */
export interface BackoffInput {
  /** 0 for the first retry, 1 for the second, and so on. */
  retry: number
  /** The delay before the previous retry, for `decorrelated`; `undefined` before the first. */
  previous: number | undefined
  base: number
  cap: number
  random: Random
}

/**
 * Full jitter: uniform in `[0, min(cap, base * 2^retry))`. Pure; the exponent is capped, so a
 * large `retry` gives `cap`, not `Infinity` or `NaN`.
 */
export function fullJitter(retry: number, base: number, cap: number, random: Random): number {
  return unit(random) * exponential(retry, base, cap)
}

/** Equal jitter: uniform in `[ceiling / 2, ceiling)`, with `ceiling = min(cap, base * 2^retry)`. */
export function equalJitter(retry: number, base: number, cap: number, random: Random): number {
  const ceiling = exponential(retry, base, cap)
  // Rounding of the two halves could overshoot the ceiling by one ulp.
  return Math.min(ceiling, ceiling / 2 + (unit(random) * ceiling) / 2)
}

/**
 * Decorrelated jitter: uniform in `[base, max(base, previous * 3))`, capped at `cap`. Starts from
 * `base` when there was no previous delay.
 */
export function decorrelatedJitter(
  previous: number | undefined,
  base: number,
  cap: number,
  random: Random,
): number {
  numbers(previous ?? base, base, cap)
  const high = Math.max(base, (previous ?? base) * 3)
  return Math.min(cap, base + unit(random) * (high - base))
}

/** The delay before a retry under `strategy`, in ms: always finite and in `[0, cap]`. */
export function backoffDelay(strategy: BackoffStrategy, input: BackoffInput): number {
  if (typeof input !== 'object' || input === null) {
    throw new InvalidOptionError('input', input, 'an object { retry, previous, base, cap, random }')
  }
  const { retry, previous, base, cap, random } = input
  switch (strategy) {
    case 'full':
      return fullJitter(retry, base, cap, random)
    case 'equal':
      return equalJitter(retry, base, cap, random)
    case 'decorrelated':
      return decorrelatedJitter(previous, base, cap, random)
  }
}

function exponential(retry: number, base: number, cap: number): number {
  numbers(retry, base, cap)
  // 2^64 already exceeds any cap a timer can hold; stopping there keeps the product finite.
  return Math.min(cap, base * 2 ** Math.min(Math.max(0, retry), 64))
}

/** The inputs are numbers: anything else is a typed error, not a TypeError or a NaN delay. */
function numbers(...values: unknown[]): void {
  for (const value of values) {
    if (typeof value !== 'number') {
      throw new InvalidOptionError('backoff input', value, 'numbers of ms and a retry count')
    }
  }
}

// A random source that strays outside [0, 1) (a custom one, say) must not push a delay out of
// its bounds or make it NaN.
function unit(random: Random): number {
  if (typeof random !== 'function') {
    throw new InvalidOptionError('random', random, 'a function returning numbers in [0, 1)')
  }
  const r = random()
  return r >= 0 && r < 1 ? r : 0
}
