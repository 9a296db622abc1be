import { InvalidOptionError } from '../errors.ts'

/** True for `{}` literals and `Object.create(null)`, not for arrays, class instances or null. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false
  const proto = Object.getPrototypeOf(value) as unknown
  return proto === Object.prototype || proto === null
}

/**
 * Rejects keys not in `known`: a misspelt option (`deadLine`) silently ignored is a default the
 * user did not choose.
 */
export function checkKnownKeys(
  where: string,
  value: Record<string, unknown>,
  known: readonly string[],
): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      throw new InvalidOptionError(
        where === '' ? key : `${where}.${key}`,
        value[key],
        `no such option; known options are ${known.join(', ')}`,
      )
    }
  }
}

/**
 * The longest delay a Node timer can hold (about 24.8 days). Node turns a longer one into 1 ms,
 * so every duration option is capped here.
 */
export const MAX_TIMER_MS = 2_147_483_647

/**
 * A duration in milliseconds, greater than zero and at most {@link MAX_TIMER_MS}; `fallback` when
 * `value` is undefined.
 */
export function positiveMs(option: string, value: unknown, fallback?: number): number {
  return durationMs(option, value, fallback, false)
}

/** Like {@link positiveMs}, but 0 is allowed. */
export function nonNegativeMs(option: string, value: unknown, fallback?: number): number {
  return durationMs(option, value, fallback, true)
}

/** The range a duration option accepts, for error messages. */
export function msRange(zeroAllowed: boolean): string {
  return zeroAllowed ? `from 0 to ${MAX_TIMER_MS}` : `greater than 0 and at most ${MAX_TIMER_MS}`
}

function durationMs(
  option: string,
  value: unknown,
  fallback: number | undefined,
  zeroAllowed: boolean,
): number {
  if (value === undefined && fallback !== undefined) return fallback
  if (
    typeof value !== 'number' ||
    !((zeroAllowed ? value >= 0 : value > 0) && value <= MAX_TIMER_MS)
  ) {
    throw new InvalidOptionError(option, value, `a number of milliseconds ${msRange(zeroAllowed)}`)
  }
  return value
}

/** Checks an optional callback (a hook, ...): `undefined` or a function. */
export function optionalFunction<T>(option: string, value: T): T {
  if (value !== undefined && typeof value !== 'function') {
    throw new InvalidOptionError(option, value, 'a function')
  }
  return value
}

/** An integer from `min` up to `max`; `fallback` when `value` is undefined. */
export function intInRange(
  option: string,
  value: unknown,
  min: number,
  max: number,
  fallback?: number,
): number {
  return inRange(option, value, min, max, fallback, true)
}

/** A finite number from `min` up to `max`; `fallback` when `value` is undefined. */
export function numberInRange(
  option: string,
  value: unknown,
  min: number,
  max: number,
  fallback?: number,
): number {
  return inRange(option, value, min, max, fallback, false)
}

function inRange(
  option: string,
  value: unknown,
  min: number,
  max: number,
  fallback: number | undefined,
  integer: boolean,
): number {
  if (value === undefined && fallback !== undefined) return fallback
  if (
    typeof value !== 'number' ||
    !(value >= min && value <= max) ||
    (integer && !Number.isInteger(value))
  ) {
    const kind = integer ? 'an integer' : 'a number'
    throw new InvalidOptionError(option, value, `${kind} from ${min} to ${max}`)
  }
  return value
}

/** An options object whose keys are all in `known`: `value` itself, validated. */
export function optionsObject(
  where: string,
  value: unknown,
  known: readonly string[],
): Record<string, unknown> {
  if (!isPlainObject(value)) throw new InvalidOptionError(where, value, 'an object')
  checkKnownKeys(where, value, known)
  return value
}

/** A finite number, or `InvalidOptionError` naming `option`. */
export function finiteNumber(option: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new InvalidOptionError(option, value, 'a finite number')
  }
  return value
}

/**
 * A random source option: `undefined` (then `fallback`) or a function returning numbers in
 * [0, 1). One check for the client and every standalone layer that takes one.
 */
export function randomOption(value: unknown, fallback: () => number = Math.random): () => number {
  if (value === undefined) return fallback
  if (typeof value !== 'function') {
    throw new InvalidOptionError('random', value, 'a function returning numbers in [0, 1)')
  }
  return value as () => number
}

/** The options argument of a standalone layer, store or algorithm: a plain object. */
export function optionsArgument(
  where: string,
  value: unknown,
  expected = 'an object',
): asserts value is Record<string, unknown> {
  if (!isPlainObject(value)) throw new InvalidOptionError(where, value, expected)
}
