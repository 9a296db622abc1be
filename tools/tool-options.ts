// The option checks of the lab and the fleet simulator. The tools use the library's public API
// only, so they keep their own few checks, on its public error type: a bad option to
// `netiquette-lab` or `runFleet` reads as a bad client option does.
import { InvalidOptionError } from '../src/index.ts'

/** A plain object (`{...}` or `Object.create(null)`), not an array, a class instance or null. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false
  const proto = Object.getPrototypeOf(value) as unknown
  return proto === Object.prototype || proto === null
}

/** Refuses a key not in `known`: a misspelt option silently ignored is a surprise. */
export function checkKnownKeys(
  where: string,
  value: Record<string, unknown>,
  known: readonly string[],
): void {
  const unknown = Object.keys(value).find((key) => !known.includes(key))
  if (unknown === undefined) return
  throw new InvalidOptionError(
    where === '' ? unknown : `${where}.${unknown}`,
    value[unknown],
    `no such option; known options are ${known.join(', ')}`,
  )
}

/** `undefined` or a function. */
export function optionalFunction<T>(option: string, value: T): T {
  if (value === undefined || typeof value === 'function') return value
  throw new InvalidOptionError(option, value, 'a function')
}

/** An integer from `min` to `max`; `fallback` when `value` is undefined. */
export function intInRange(
  option: string,
  value: unknown,
  min: number,
  max: number,
  fallback?: number,
): number {
  return within(option, value, [min, max], fallback, 'an integer')
}

/** A number from `min` to `max`; `fallback` when `value` is undefined. */
export function numberInRange(
  option: string,
  value: unknown,
  min: number,
  max: number,
  fallback?: number,
): number {
  return within(option, value, [min, max], fallback, 'a number')
}

function within(
  option: string,
  value: unknown,
  [min, max]: readonly [number, number],
  fallback: number | undefined,
  kind: 'an integer' | 'a number',
): number {
  if (value === undefined && fallback !== undefined) return fallback
  const ok =
    typeof value === 'number' &&
    value >= min &&
    value <= max &&
    (kind === 'a number' || Number.isInteger(value))
  if (!ok) throw new InvalidOptionError(option, value, `${kind} from ${min} to ${max}`)
  return value
}
