import { randomUUID } from 'node:crypto'
import { InvalidOptionError } from '../errors.ts'

/**
 * Methods RFC 9110 section 9.2.2 defines as idempotent (plus QUERY, from the safe-method draft):
 * sending one twice has the effect of sending it once, so a retry cannot duplicate an action.
 */
export const IDEMPOTENT_METHODS: ReadonlySet<string> = new Set([
  'GET',
  'HEAD',
  'OPTIONS',
  'PUT',
  'DELETE',
  'TRACE',
  'QUERY',
])

/**
 * The header that makes a non-idempotent request safe to retry: the server stores the first
 * outcome under the key and answers a repeat with it (IETF draft "The Idempotency-Key HTTP Header
 * Field"; Stripe, Adyen and others).
 */
export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key'

/**
 * Why a request may be sent again after it may have reached the server, or `undefined` when it
 * may not:
 * - `idempotent`: the method is idempotent, or the request's undici option `idempotent` is true
 *   (undici's own meaning: "can be safely retried"). `idempotent: false` opts a GET out.
 * - `keyed`: the request carries an `Idempotency-Key`.
 */
export function replaySafety(
  method: string,
  headers: Readonly<Record<string, unknown>>,
  idempotentOption: unknown,
): 'idempotent' | 'keyed' | undefined {
  if (headers[IDEMPOTENCY_KEY_HEADER] !== undefined) return 'keyed'
  if (idempotentOption === true) return 'idempotent'
  if (idempotentOption === false) return undefined
  return IDEMPOTENT_METHODS.has(method) ? 'idempotent' : undefined
}

// RFC 9110 field-value characters, at least one, no leading or trailing whitespace.
const KEY_VALUE = /^[\x21-\x7e\x80-\xff](?:[\t\x20-\x7e\x80-\xff]*[\x21-\x7e\x80-\xff])?$/

/**
 * The `Idempotency-Key` to send for the request option `idempotencyKey`: `true` makes a fresh
 * random UUID (one per call: every attempt sends the same one), a string is used as is,
 * `false` or `undefined` sends none. Validates the option.
 */
export function idempotencyKeyFor(option: unknown): string | undefined {
  if (option === undefined || option === false) return undefined
  if (option === true) return randomUUID()
  if (typeof option === 'string' && option.length <= 255 && KEY_VALUE.test(option)) return option
  throw new InvalidOptionError(
    'idempotencyKey',
    option,
    'true (a random key per call), false, or a key of 1 to 255 visible characters',
  )
}
