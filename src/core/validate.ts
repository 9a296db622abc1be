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

/** A finite duration in milliseconds, greater than zero; `fallback` when `value` is undefined. */
export function positiveMs(option: string, value: unknown, fallback?: number): number {
  if (value === undefined && fallback !== undefined) return fallback
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new InvalidOptionError(option, value, 'a finite number of milliseconds greater than 0')
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
  if (value === undefined && fallback !== undefined) return fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidOptionError(option, value, `an integer from ${min} to ${max}`)
  }
  return value
}
