import { systemClock, type Clock } from '../core/clock.ts'
import { HTTP_TOKEN } from '../core/headers.ts'
import { checkKnownKeys, nonNegativeMs, positiveMs, optionsArgument } from '../core/validate.ts'
import { InvalidOptionError } from '../errors.ts'
import {
  DEFAULT_DEADLINE_HEADER,
  ENVOY_TIMEOUT_HEADER,
  GRPC_TIMEOUT_HEADER,
  parseTimeoutHeader,
} from './timeout-header.ts'

/** Request headers as Node's `http` module (and Express, and Fastify) present them. */
export type IncomingHeaders = Readonly<Record<string, string | readonly string[] | undefined>>

/** How a server reads the deadline a caller sent. Validated once, when a helper is created. */
export interface InboundDeadlineOptions {
  /**
   * Headers to read, lower-case. `grpc-timeout` is read in gRPC's format (`250m`, `3S`); every
   * other header as whole milliseconds. When several carry a valid value, the smallest wins.
   * @defaultValue `['x-deadline-remaining-ms', 'grpc-timeout', 'x-envoy-expected-rq-timeout-ms']`
   */
  headers?: readonly string[]
  /**
   * Cap on an inbound deadline, in ms. A caller can shorten the work done for its own request but
   * cannot make it hold resources for a day.
   * @defaultValue 300000 (5 minutes)
   */
  max?: number
  /**
   * Deadline, in ms, for requests that carry none. Without it those requests get no deadline
   * scope and outbound calls use their own deadlines.
   * @defaultValue none
   */
  fallback?: number
  /**
   * The clock the deadline is measured on.
   * @defaultValue the system clock
   */
  clock?: Clock
}

/** {@link InboundDeadlineOptions} after validation. */
export interface ResolvedInboundOptions {
  readonly headers: readonly string[]
  readonly max: number
  readonly fallback: number | undefined
  readonly clock: Clock
}

/** The headers read by default, in the order they are documented. */
export const DEFAULT_INBOUND_HEADERS: readonly string[] = Object.freeze([
  DEFAULT_DEADLINE_HEADER,
  GRPC_TIMEOUT_HEADER,
  ENVOY_TIMEOUT_HEADER,
])

const KNOWN = ['headers', 'max', 'fallback', 'clock']

/** Validates {@link InboundDeadlineOptions}; throws `InvalidOptionError` naming the bad one. */
export function resolveInboundOptions(options: unknown): ResolvedInboundOptions {
  if (options === undefined) {
    return {
      headers: DEFAULT_INBOUND_HEADERS,
      max: 300_000,
      fallback: undefined,
      clock: systemClock,
    }
  }
  optionsArgument('options', options)
  checkKnownKeys('', options, KNOWN)
  const headers = options.headers ?? DEFAULT_INBOUND_HEADERS
  if (
    !Array.isArray(headers) ||
    headers.length === 0 ||
    headers.some((h) => typeof h !== 'string' || !HTTP_TOKEN.test(h) || h !== h.toLowerCase())
  ) {
    throw new InvalidOptionError('headers', headers, 'a non-empty array of lower-case header names')
  }
  const clock = options.clock as Clock | undefined
  if (clock !== undefined && typeof clock.now !== 'function') {
    throw new InvalidOptionError('clock', clock, 'a Clock')
  }
  return {
    headers: [...(headers as string[])],
    max: positiveMs('max', options.max, 300_000),
    fallback:
      options.fallback === undefined ? undefined : nonNegativeMs('fallback', options.fallback),
    clock: clock ?? systemClock,
  }
}

/**
 * The deadline a request carries, in milliseconds from now: the smallest valid value among the
 * configured headers, capped at `max`; `fallback` when there is none. Garbage (a negative
 * number, a decimal, an unknown unit, text) is ignored, never thrown: a bad header from a caller
 * must not break the request it came with. A header that appears several times counts with its
 * smallest valid value.
 *
 * @example
 * ```ts
 * parseInboundDeadline({ 'grpc-timeout': '1500m' }) // 1500
 * parseInboundDeadline({ 'x-deadline-remaining-ms': '-3' }) // undefined
 * ```
 */
export function parseInboundDeadline(
  headers: IncomingHeaders,
  options?: InboundDeadlineOptions,
): number | undefined {
  return readInboundDeadline(headers, resolveInboundOptions(options))
}

/** `parseInboundDeadline` with options validated beforehand, for the server helpers. */
export function readInboundDeadline(
  headers: IncomingHeaders,
  options: ResolvedInboundOptions,
): number | undefined {
  let best: number | undefined
  // No headers object at all reads as no header (a framework that gave none).
  for (const name of typeof headers === 'object' && headers !== null ? options.headers : []) {
    const raw = headers[name]
    if (raw === undefined) continue
    // One value, as nearly always: parse it without building an array.
    if (typeof raw === 'string' && !raw.includes(',')) {
      best = smaller(best, parseTimeoutHeader(name, raw))
      continue
    }
    const values = typeof raw === 'string' ? [raw] : Array.isArray(raw) ? raw : []
    for (const value of values.flatMap((v) => (typeof v === 'string' ? v.split(',') : []))) {
      best = smaller(best, parseTimeoutHeader(name, value))
    }
  }
  if (best === undefined) return options.fallback
  return Math.min(best, options.max)
}

function smaller(a: number | undefined, b: number | undefined): number | undefined {
  return b === undefined || (a !== undefined && a <= b) ? a : b
}
