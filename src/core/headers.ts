import { CallKey } from './call-key.ts'
import { InvalidRequestError, describeValue } from '../errors.ts'

/** Header input in any of the shapes undici accepts. */
export type HeadersInput =
  | Record<string, string | string[] | number | undefined | null>
  | Iterable<readonly [string, string | string[] | undefined]>
  | string[]

/** Normalized headers: lower-case names, string or string-array values. */
export type HeaderRecord = Record<string, string | string[]>

/**
 * @internal On a {@link HeaderRecord}: the names as the caller spelt them, for those not all
 * lower-case (`{ 'content-type': 'Content-Type' }`). Policies read lower-case names; the wire
 * gets the caller's, as undici and the global fetch send them (some servers and signature
 * schemes care). A symbol key, enumerable, so a spread copy (`{ ...headers, extra }`) keeps it and
 * `for...in`, `Object.keys` and JSON never see it.
 */
export const kWireNames = Symbol('netiquette.wireNames')

/**
 * The header record the client made for a call (`mergeHeaders`), which no one outside the call
 * holds: the attempt timeout writes its propagation header into it on a call's first attempt
 * rather than copying the request and its headers for one header (about 200 B and 80 ns a
 * call). A request whose `headers` is another record (a middleware's) is copied as before.
 */
export const CALL_HEADERS = new CallKey<HeaderRecord>('callHeaders')

type WithWireNames = HeaderRecord & { [kWireNames]?: Record<string, string> }

/**
 * @internal `headers` with each name as the caller spelt it, for undici's dispatch; the record
 * itself when every name was given lower-case (most calls: no copy).
 */
export function wireHeaders(headers: HeaderRecord): HeaderRecord {
  const names = (headers as WithWireNames)[kWireNames]
  if (names === undefined) return headers
  const out: HeaderRecord = {}
  for (const name in headers) out[names[name] ?? name] = headers[name] as string | string[]
  return out
}

/** RFC 9110 token: the characters allowed in a method and a header name. */
export const HTTP_TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
const SINGLETONS = new Set([
  'content-length',
  'host',
  'transfer-encoding',
  'authorization',
  'content-type',
])
// RFC 9110 field-value: visible characters, space, tab and obs-text; never CR, LF or NUL.
const INVALID_VALUE = /[^\t\x20-\x7e\x80-\xff]/

/**
 * Merges `defaults` and `headers` into a fresh record with lower-case names; a request header
 * replaces a default of the same name. Rejects a bad name or a value with CR, LF or NUL before
 * anything is sent (header injection).
 */
export function mergeHeaders(
  defaults: HeaderRecord | undefined,
  headers: HeadersInput | undefined | null,
): HeaderRecord {
  const out: HeaderRecord = {}
  if (headers !== undefined && headers !== null) addHeaders(out, headers)
  if (defaults !== undefined) {
    const names = (defaults as WithWireNames)[kWireNames]
    for (const name in defaults) {
      if (name in out) continue
      out[name] = defaults[name] as string | string[]
      const spelt = names?.[name]
      if (spelt !== undefined) wireName(out, name, spelt)
    }
  }
  return out
}

/** A parsed header record in undici's flat form, `[name, value, name, value, ...]`. */
export function flattenHeaders(headers: Record<string, string | string[] | undefined>): string[] {
  const flat: string[] = []
  for (const name in headers) {
    const value = headers[name]
    if (Array.isArray(value)) for (const item of value) flat.push(name, item)
    else if (value !== undefined) flat.push(name, value)
  }
  return flat
}

/** Validates and normalizes a header input into a new record (used for client defaults). */
export function normalizeHeaders(headers: HeadersInput): HeaderRecord {
  const out: HeaderRecord = {}
  addHeaders(out, headers)
  return out
}

function addHeaders(out: HeaderRecord, headers: HeadersInput): void {
  if (Array.isArray(headers)) {
    if (headers.length > 0 && typeof headers[0] === 'string') {
      // undici's flat form: [name, value, name, value, ...]
      const flat = headers as string[]
      if (flat.length % 2 !== 0) {
        throw new InvalidRequestError(
          `headers array has an odd length (${flat.length}); expected [name, value, ...] pairs`,
        )
      }
      for (let i = 0; i < flat.length; i += 2) add(out, flat[i], flat[i + 1])
      return
    }
  }
  if (isIterableHeaders(headers)) {
    for (const pair of headers as Iterable<readonly [string, unknown]>) {
      if (!Array.isArray(pair) || pair.length !== 2) {
        throw new InvalidRequestError(
          `headers entry ${describeValue(pair)} is not a [name, value] pair`,
        )
      }
      add(out, pair[0], pair[1])
    }
    return
  }
  if (typeof headers !== 'object') {
    throw new InvalidRequestError(
      `headers must be an object or iterable, got ${describeValue(headers)}`,
    )
  }
  // A record normalized before (a client's defaults, the fetch face's) keeps its spellings.
  const names = (headers as WithWireNames)[kWireNames]
  for (const name in headers)
    add(out, names?.[name] ?? name, (headers as Record<string, unknown>)[name])
}

function wireName(out: HeaderRecord, key: string, name: string): void {
  ;((out as WithWireNames)[kWireNames] ??= {})[key] = name
}

// Names already checked, each with its lower-case form: a service sends the same few names on
// every call, and a map lookup costs less than the token check and the lower-casing. Bounded:
// names that vary per call (rare) stop being remembered once it is full.
const CHECKED_NAMES = new Map<string, string>()
const CHECKED_NAMES_MAX = 512

function add(out: HeaderRecord, name: unknown, value: unknown): void {
  if (value === undefined || value === null) return
  let key = typeof name === 'string' ? CHECKED_NAMES.get(name) : undefined
  if (key === undefined) {
    if (typeof name !== 'string' || !HTTP_TOKEN.test(name)) {
      throw new InvalidRequestError(
        `header name ${describeValue(name)} is not a valid HTTP token (no spaces, colons, CR, LF or NUL)`,
      )
    }
    key = name.toLowerCase()
    if (CHECKED_NAMES.size < CHECKED_NAMES_MAX) CHECKED_NAMES.set(name, key)
  }
  const spelt = name as string
  const checked = Array.isArray(value)
    ? value.map((v: unknown) => checkedValue(spelt, v))
    : checkedValue(spelt, value)
  const existing = out[key]
  if (existing === undefined) {
    out[key] = checked
    if (key !== spelt) wireName(out, key, spelt)
    return
  }
  // The same name twice in one input (`Content-Length` and `content-length`, or a repeated flat
  // entry). List-valued fields may repeat; a repeated singleton is request smuggling material.
  if (SINGLETONS.has(key)) {
    throw new InvalidRequestError(`header ${spelt} is given more than once; it must appear once`)
  }
  out[key] = ([] as string[]).concat(existing, checked)
}

function checkedValue(name: string, value: unknown): string {
  const text = typeof value === 'string' ? value : typeof value === 'number' ? String(value) : null
  if (text === null) {
    throw new InvalidRequestError(
      `header ${name} has value ${describeValue(value)}; expected a string, number or array of strings`,
    )
  }
  if (INVALID_VALUE.test(text)) {
    throw new InvalidRequestError(
      `header ${name} has a value containing CR, LF, NUL or another control character; these would let the value inject headers`,
    )
  }
  return text
}

/**
 * A list of pairs (a `Headers`, a `Map`, a generator), not a record. A plain object is a record
 * unless it has an iterator of its own: an iterator it inherits from a polluted
 * `Object.prototype` must not turn `{ hello: 'world' }` into an empty list (undici's own test).
 */
function isIterableHeaders(headers: unknown): boolean {
  if (typeof (headers as Iterable<unknown>)?.[Symbol.iterator] !== 'function') return false
  const proto: unknown = Object.getPrototypeOf(headers)
  if (proto !== Object.prototype && proto !== null) return true
  return Object.hasOwn(headers as object, Symbol.iterator)
}
