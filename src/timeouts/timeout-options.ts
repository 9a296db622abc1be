import type { Clock } from '../core/clock.ts'
import { HTTP_TOKEN } from '../core/headers.ts'
import {
  MAX_TIMER_MS,
  checkKnownKeys,
  isPlainObject,
  msRange,
  nonNegativeMs,
  positiveMs,
} from '../core/validate.ts'
import { InvalidOptionError } from '../errors.ts'
import { DEFAULT_DEADLINE_HEADER } from './timeout-header.ts'

/** How a client passes deadlines on and takes them over. */
export interface PropagationOptions {
  /**
   * Header that carries each attempt's time left to the next hop, or `false` to send none.
   * `grpc-timeout` is written in gRPC's format (`250m`); any other header as whole milliseconds.
   * @defaultValue `'x-deadline-remaining-ms'`
   */
  header?: string | false
  /**
   * Milliseconds taken off the time the header announces, so the next hop gives up (and answers)
   * a little before this client would, leaving time for its reply to travel back.
   * @defaultValue 5
   */
  margin?: number
  /**
   * Whether calls made inside {@link withDeadline} (or a request handled through one of the
   * server helpers) take `min(own deadline, inherited deadline)`.
   * @defaultValue true
   */
  inherit?: boolean
}

/** The deadline settings of a client, validated; each is documented on `ClientOptions`. */
export interface ResolvedTimeouts {
  /** `deadline`, in ms. */
  readonly deadline: number
  /** `attemptTimeout`, in ms, if set. */
  readonly attemptTimeout: number | undefined
  /** `minAttemptTime`, in ms. */
  readonly minAttemptTime: number
  /** `propagation.header`, lower-case; `undefined` when no header is sent. */
  readonly header: string | undefined
  /** `propagation.margin`, in ms. */
  readonly margin: number
  /** `propagation.inherit`. */
  readonly inherit: boolean
}

/**
 * Defaults of the deadline settings, with their reasons in the TSDoc of `ClientOptions`: a 30 s
 * deadline (the total timeout of .NET's standard resilience handler, and as long as the Agent's
 * headers timeout), no attempt timeout of its own, a 10 ms minimum attempt, a 5 ms margin.
 */
export const DEFAULT_TIMEOUTS: ResolvedTimeouts = Object.freeze({
  deadline: 30_000,
  attemptTimeout: undefined,
  minAttemptTime: 10,
  header: DEFAULT_DEADLINE_HEADER,
  margin: 5,
  inherit: true,
})

interface TimeoutOptionsInput {
  deadline?: unknown
  attemptTimeout?: unknown
  minAttemptTime?: unknown
  propagation?: unknown
}

/** Validates a client's deadline options and merges them over {@link DEFAULT_TIMEOUTS}. */
export function resolveTimeouts(options: TimeoutOptionsInput): ResolvedTimeouts {
  const { deadline, attemptTimeout, minAttemptTime } = options
  const { header, margin, inherit } = resolvePropagation(options.propagation)
  const resolvedDeadline = positiveMs('deadline', deadline, DEFAULT_TIMEOUTS.deadline)
  const resolvedMin = nonNegativeMs(
    'minAttemptTime',
    minAttemptTime,
    DEFAULT_TIMEOUTS.minAttemptTime,
  )
  // Otherwise every call would fail before sending anything.
  if (resolvedMin >= resolvedDeadline) {
    throw new InvalidOptionError(
      'minAttemptTime',
      resolvedMin,
      `less than the deadline (${resolvedDeadline} ms)`,
    )
  }
  return {
    deadline: resolvedDeadline,
    attemptTimeout:
      attemptTimeout === undefined ? undefined : positiveMs('attemptTimeout', attemptTimeout),
    minAttemptTime: resolvedMin,
    header,
    margin,
    inherit,
  }
}

/** Validates the `propagation` option and merges it over the defaults. */
export function resolvePropagation(
  propagation: unknown,
): Pick<ResolvedTimeouts, 'header' | 'margin' | 'inherit'> {
  if (propagation === undefined || propagation === true) return DEFAULT_TIMEOUTS
  if (propagation === false) return { header: undefined, margin: 0, inherit: false }
  if (!isPlainObject(propagation)) {
    throw new InvalidOptionError('propagation', propagation, 'true, false or an object')
  }
  checkKnownKeys('propagation', propagation, ['header', 'margin', 'inherit'])
  if (propagation.inherit !== undefined && typeof propagation.inherit !== 'boolean') {
    throw new InvalidOptionError('propagation.inherit', propagation.inherit, 'a boolean')
  }
  return {
    header: resolveHeader(propagation.header),
    margin: nonNegativeMs('propagation.margin', propagation.margin, DEFAULT_TIMEOUTS.margin),
    inherit: propagation.inherit ?? DEFAULT_TIMEOUTS.inherit,
  }
}

function resolveHeader(value: unknown): string | undefined {
  if (value === undefined) return DEFAULT_TIMEOUTS.header
  if (value === false) return undefined
  if (typeof value !== 'string' || !HTTP_TOKEN.test(value)) {
    throw new InvalidOptionError('propagation.header', value, 'a header name, or false')
  }
  return value.toLowerCase()
}

/**
 * A `deadline` given as milliseconds from now or as a `Date`, in milliseconds from now. A number
 * is validated (0 only when `zeroAllowed`, for "already expired"); a `Date` is measured on the
 * clock's wall time and may have passed (0 or less: the call then sends nothing).
 */
export function deadlineFromNow(value: unknown, clock: Clock, zeroAllowed = false): number {
  if (value instanceof Date) {
    const ms = value.getTime() - clock.wallNow()
    if (Number.isNaN(ms)) throw new InvalidOptionError('deadline', value, 'a valid Date')
    return Math.min(ms, MAX_TIMER_MS)
  }
  if (
    typeof value !== 'number' ||
    !((zeroAllowed ? value >= 0 : value > 0) && value <= MAX_TIMER_MS)
  ) {
    throw new InvalidOptionError(
      'deadline',
      value,
      `milliseconds ${msRange(zeroAllowed)}, or a Date`,
    )
  }
  return value
}
