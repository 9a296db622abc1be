import type { CallUndiciOptions, UndiciRequestOptions } from './middleware.ts'
import { InvalidOptionError } from '../errors.ts'

const RESPONSE_OPTIONS = new Set(['opaque', 'onInfo', 'highWaterMark'])
// What undici's dispatch takes from a call, checked by undici itself on each attempt.
const DISPATCH_OPTIONS = new Set([
  'query',
  'idempotent',
  'headersTimeout',
  'bodyTimeout',
  'reset',
  'blocking',
  'expectContinue',
  'typeOfService',
])
const UNSUPPORTED_OPTIONS: Record<string, string> = {
  // undici's dispatch would take these over the URL argument: the call would go to another
  // origin with this client's headers (credentials included), counted in this origin's breaker.
  origin: "nothing: the URL argument and the client's origin say where a request goes",
  path: "nothing: the URL argument and the client's origin say where a request goes",
  upgrade: 'nothing: upgrades are not supported; use undici.upgrade or undici.connect',
  responseHeaders: 'nothing: raw response headers are not supported; headers arrive parsed',
  dispatcher: 'nothing per request: set the dispatcher when creating the client',
}
const NO_UNDICI_OPTIONS: CallUndiciOptions = Object.freeze({
  dispatch: undefined,
  opaque: null,
  onInfo: undefined,
  highWaterMark: undefined,
  context: undefined,
})

/**
 * @internal Request options only `client.dispatcher` sets, under symbols a caller cannot write
 * by accident: the dispatch's own options that no layer of ours reads (`maxRedirections` for a
 * redirect interceptor composed into the client's dispatcher, an interceptor's own), passed to
 * every attempt's dispatch as they are; and the context object the face handed its handler,
 * which each attempt's `onRequestStart` context is copied into (a redirect interceptor's
 * `history`).
 */
export const kPassThrough: unique symbol = Symbol('netiquette.passThrough')
export const kDispatchContext: unique symbol = Symbol('netiquette.dispatchContext')

/** A set of option names, or a map keyed by them. */
type OptionNames = Pick<ReadonlySet<string>, 'has' | 'keys'>

/**
 * Splits a request's undici options into those undici's dispatch takes and those the response
 * handling takes, skipping the `handled` ones (the client's own and its policies'). Any other key
 * is refused. Most calls have none and share one frozen object.
 */
export function splitUndiciOptions(
  options: UndiciRequestOptions,
  handled: OptionNames,
): CallUndiciOptions {
  let dispatch: Record<string, unknown> | undefined
  let response: Record<string, unknown> | undefined
  for (const key in options) {
    if (handled.has(key)) continue
    const value = (options as Record<string, unknown>)[key]
    if (value === undefined) continue
    const unsupported = UNSUPPORTED_OPTIONS[key]
    if (unsupported !== undefined) throw new InvalidOptionError(key, value, unsupported)
    if (RESPONSE_OPTIONS.has(key)) (response ??= {})[key] = value
    else if (DISPATCH_OPTIONS.has(key)) (dispatch ??= {})[key] = value
    else {
      // `{ timeout: 5000 }` or `{ json: {...} }` ignored would be a silent surprise.
      throw new InvalidOptionError(
        key,
        value,
        `no such request option; known options are ${knownOptions(handled)}`,
      )
    }
  }
  const passThrough = (options as { [kPassThrough]?: Record<string, unknown> })[kPassThrough]
  if (passThrough !== undefined) dispatch = { ...passThrough, ...dispatch }
  const context = (options as { [kDispatchContext]?: Record<string, unknown> })[kDispatchContext]
  if (dispatch === undefined && response === undefined && context === undefined) {
    return NO_UNDICI_OPTIONS
  }
  const onInfo = response?.onInfo
  if (onInfo !== undefined && typeof onInfo !== 'function') {
    throw new InvalidOptionError('onInfo', onInfo, 'a function')
  }
  const highWaterMark = response?.highWaterMark
  if (
    highWaterMark !== undefined &&
    (typeof highWaterMark !== 'number' || !Number.isInteger(highWaterMark) || highWaterMark < 0)
  ) {
    throw new InvalidOptionError('highWaterMark', highWaterMark, 'an integer of bytes, 0 or more')
  }
  return {
    dispatch,
    opaque: response?.opaque ?? null,
    onInfo: onInfo as CallUndiciOptions['onInfo'],
    highWaterMark: highWaterMark as number | undefined,
    context,
  }
}

function knownOptions(handled: OptionNames): string {
  return [...handled.keys(), ...DISPATCH_OPTIONS, ...RESPONSE_OPTIONS].join(', ')
}
