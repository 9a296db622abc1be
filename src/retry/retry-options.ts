import { CallKey } from '../core/call-key.ts'
import type { AttemptRecord } from '../core/attempt-record.ts'
import type { CallRequest, CallResponse } from '../core/middleware.ts'
import { checkKnownKeys, intInRange, isPlainObject, nonNegativeMs } from '../core/validate.ts'
import { InvalidOptionError } from '../errors.ts'
import {
  DEFAULT_RETRY_BUDGET,
  RetryBudget,
  resolveRetryBudgetOptions,
  type RetryBudgetOptions,
} from './retry-budget.ts'
import type { BackoffStrategy } from './backoff.ts'
import type { RetryHint } from '../core/retry-after.ts'

/**
 * The most retries a call may make, whatever the options say: 11 attempts in all, what a
 * background job asks of axios-retry or got. The default stays 2; what bounds the amplification
 * is the retry budget (about 10% of recent calls across the origin, so a total outage costs
 * about 1.1 attempts per call whatever this says) and the deadline (every wait fits in it).
 * gRPC caps a service's policy at 5 attempts; past 10, each retry adds load faster than it adds
 * availability even for one caller.
 */
export const MAX_RETRIES = 10

/** What {@link RetryOptions.shouldRetry} is told about an attempt. */
export interface ShouldRetryArgs {
  /** The call. Its body may be a stream: do not read it here. */
  request: CallRequest
  /** The record of the attempt that just ended. */
  attempt: AttemptRecord
  /** The response, when the attempt got one. Do not read its body here. */
  response: CallResponse | undefined
  /** The error, when the attempt failed without a response. */
  error: unknown
  /** The number the retry would have: 1 for the first retry. */
  retry: number
  /** What the built-in rules decided (retryable status or error, and safe to send again). */
  retryable: boolean
  /** Why they decided so, as it would appear in the attempt record. */
  reason: string
}

/** What {@link RetryOptions.delay} is told about the retry it is timing. */
export interface RetryDelayArgs {
  /** 1 for the first retry. */
  retry: number
  /** The record of the attempt that just ended. */
  attempt: AttemptRecord
  response: CallResponse | undefined
  error: unknown
  /** The wait the `backoff` strategy drew for this retry, in ms. */
  backoff: number
  /** The server's retry hint, already cut to `maxRetryAfter`, when the response had one. */
  hint: RetryHint | undefined
  /** The wait before the previous retry, in ms; `undefined` before the first. */
  previousDelay: number | undefined
}

/**
 * The retry policy, on the client (`retry`) and per request (merged over the client's). See
 * `docs/retry.md` for what is retried and what never is.
 */
export interface RetryOptions {
  /**
   * Retries after the first attempt: 2 means at most 3 attempts, as the SRE book, AWS SDKs and
   * Polly use. At most {@link MAX_RETRIES}. Transparent retries of attempts that never reached
   * the origin are not counted (`docs/retry.md`); `retry: false` turns those off too.
   * @defaultValue 2
   */
  maxRetries?: number
  /**
   * Response statuses that may be retried: those that say the attempt failed for a reason that
   * may pass (RFC 9110: 408 may be repeated, 429 and 503 may carry Retry-After; 500, 502, 504 are
   * the usual transient errors, as in undici and gRPC).
   * @defaultValue [408, 429, 500, 502, 503, 504]
   */
  statuses?: readonly number[]
  /**
   * Error codes (the error's `code`, or its cause's) that may be retried: undici's own list of
   * connection errors, plus DNS's `EAI_AGAIN`, `ETIMEDOUT`, and connect, headers and attempt
   * timeouts. Errors not listed (a body timeout, a parse error) are not retried.
   * @defaultValue {@link DEFAULT_RETRY_ERROR_CODES}
   */
  errorCodes?: readonly string[]
  /**
   * How the wait before each retry is drawn: see {@link BackoffStrategy}.
   * @defaultValue `'full'`
   */
  backoff?: BackoffStrategy
  /**
   * Backoff base in ms: the first retry waits up to this long under full jitter, and each later
   * one up to twice as long as the one before. 100 ms is the AWS SDKs' base; in-cluster calls
   * with tight deadlines may want 25 ms, as Envoy uses.
   * @defaultValue 100
   */
  baseDelay?: number
  /**
   * Longest backoff wait in ms (AWS SDKs: 20 s). Server hints are capped by `maxRetryAfter`.
   * @defaultValue 20000
   */
  maxDelay?: number
  /**
   * Longest wait a server's `Retry-After` (or `RateLimit-Reset` on a 429) is honoured for, in ms;
   * a longer hint is cut to it. The call's deadline still applies: a hint that does not fit in
   * the time left fails the call at once. 30 s, as undici's retry handler caps it.
   * @defaultValue 30000
   */
  maxRetryAfter?: number
  /**
   * Replaces how the wait before a retry is chosen (by default: the server's hint if any, else
   * the backoff). Returns ms; a value that is not a finite number from 0 up fails the call with
   * `InvalidOptionError`. The deadline check still applies to what it returns.
   * @defaultValue none
   * @example
   * ```ts
   * // Constant 250 ms, unless the server says otherwise.
   * createClient({ retry: { delay: ({ hint }) => hint?.delay ?? 250 } })
   * ```
   */
  delay?: (args: RetryDelayArgs) => number
  /**
   * Widens or narrows what is retried: return `true` to retry, `false` not to, `undefined` to
   * keep the built-in decision (`args.retryable`). It can retry what the rules call unsafe (a POST
   * you know is idempotent), so use it with care. It cannot retry past `maxRetries`, the
   * deadline, a caller's abort, or a body that cannot be sent again.
   * @defaultValue none
   * @example
   * ```ts
   * // Also retry 409 Conflict on this API's idempotent PUTs.
   * createClient({ retry: { shouldRetry: ({ response }) => response?.statusCode === 409 || undefined } })
   * ```
   */
  shouldRetry?: (args: ShouldRetryArgs) => boolean | undefined
  /**
   * The retry budget every retry must get past: options for one budget per origin, a
   * {@link RetryBudget} instance to share (between origins and clients), or `false` for none.
   * A refused retry hands the last response or error to the caller, and its record says so
   * (`code: 'budget'`). Per request only `false` or an instance is accepted. See
   * `docs/budget.md`.
   * @defaultValue one budget per origin with {@link DEFAULT_RETRY_BUDGET}: 10% of calls over 10 s,
   *   plus 1 per second, at most 10 pending
   */
  budget?: RetryBudgetOptions | RetryBudget | false
}

/** Where a policy's retries are counted. */
export type ResolvedBudget =
  | RetryBudget
  | { readonly perOrigin: Readonly<Required<RetryBudgetOptions>>; readonly key: symbol }
  | false

/** A validated retry policy. */
export interface ResolvedRetryPolicy {
  readonly maxRetries: number
  readonly statuses: ReadonlySet<number>
  readonly errorCodes: ReadonlySet<string>
  readonly backoff: BackoffStrategy
  readonly baseDelay: number
  readonly maxDelay: number
  readonly maxRetryAfter: number
  readonly delay: ((args: RetryDelayArgs) => number) | undefined
  readonly shouldRetry: ((args: ShouldRetryArgs) => boolean | undefined) | undefined
  readonly budget: ResolvedBudget
}

/**
 * Connection errors retried by default: undici's list, plus DNS retry, timeouts of ours, a
 * failed `endpoints.resolve` (nothing was sent) and HTTP/2 failures by their names (see
 * `AttemptRecord.h2Error`): the ones by which the server says it did not process the request
 * (`REFUSED_STREAM`, `GOAWAY`, `HEADERS_NOT_SENT`: retried whatever the method) and stream resets
 * before a response, which are retried like `ECONNRESET`.
 */
export const DEFAULT_RETRY_ERROR_CODES: readonly string[] = Object.freeze([
  'ECONNRESET',
  'ECONNREFUSED',
  'ENOTFOUND',
  'ENETDOWN',
  'ENETUNREACH',
  'EHOSTDOWN',
  'EHOSTUNREACH',
  'EPIPE',
  'UND_ERR_SOCKET',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'NQ_ATTEMPT_TIMEOUT',
  'NQ_ENDPOINT_RESOLUTION',
  'REFUSED_STREAM',
  'GOAWAY',
  'HEADERS_NOT_SENT',
  'INTERNAL_ERROR',
  'CANCEL',
  'PROTOCOL_ERROR',
  'ENHANCE_YOUR_CALM',
  'STREAM_ENDED',
  'SESSION_CLOSED',
  'UNRESPONSIVE',
])

/** The defaults of {@link RetryOptions}, with their reasons in its TSDoc. */
export const DEFAULT_RETRY: ResolvedRetryPolicy = Object.freeze({
  maxRetries: 2,
  statuses: new Set([408, 429, 500, 502, 503, 504]),
  errorCodes: new Set(DEFAULT_RETRY_ERROR_CODES),
  backoff: 'full',
  baseDelay: 100,
  maxDelay: 20_000,
  maxRetryAfter: 30_000,
  delay: undefined,
  shouldRetry: undefined,
  budget: Object.freeze({ perOrigin: DEFAULT_RETRY_BUDGET, key: Symbol('retry budget') }),
})

const KNOWN = [
  'maxRetries',
  'statuses',
  'errorCodes',
  'backoff',
  'baseDelay',
  'maxDelay',
  'maxRetryAfter',
  'delay',
  'shouldRetry',
  'budget',
]
const STRATEGIES: readonly BackoffStrategy[] = ['full', 'equal', 'decorrelated']

/**
 * Validates a `retry` option and merges it over `base`: `false` turns retries off, `undefined`
 * keeps `base`, an object replaces the settings it names.
 *
 * @param where - the option's name in error messages (`retry`), or `''` for a layer's options.
 */
export function resolveRetryPolicy(
  where: string,
  option: unknown,
  base: ResolvedRetryPolicy,
  perRequest = false,
): ResolvedRetryPolicy | false {
  if (option === false) return false
  if (option === undefined || option === true) return base
  if (!isPlainObject(option)) {
    throw new InvalidOptionError(where, option, 'true, false, or an object of retry options')
  }
  checkKnownKeys(where, option, KNOWN)
  const o = option as RetryOptions
  const at = (key: string) => (where === '' ? key : `${where}.${key}`)
  const baseDelay = nonNegativeMs(at('baseDelay'), o.baseDelay, base.baseDelay)
  const maxDelay = nonNegativeMs(at('maxDelay'), o.maxDelay, base.maxDelay)
  if (maxDelay < baseDelay) {
    throw new InvalidOptionError(
      at('maxDelay'),
      maxDelay,
      `a number of ms at least baseDelay (${baseDelay})`,
    )
  }
  if (o.backoff !== undefined && !STRATEGIES.includes(o.backoff)) {
    throw new InvalidOptionError(at('backoff'), o.backoff, `one of ${STRATEGIES.join(', ')}`)
  }
  return {
    maxRetries: maxRetriesOf(at('maxRetries'), o.maxRetries, base.maxRetries),
    statuses: o.statuses === undefined ? base.statuses : statusSet(at('statuses'), o.statuses),
    errorCodes:
      o.errorCodes === undefined ? base.errorCodes : codeSet(at('errorCodes'), o.errorCodes),
    backoff: o.backoff ?? base.backoff,
    baseDelay,
    maxDelay,
    maxRetryAfter: nonNegativeMs(at('maxRetryAfter'), o.maxRetryAfter, base.maxRetryAfter),
    delay: optionalFunction(at('delay'), o.delay, base.delay),
    shouldRetry: optionalFunction(at('shouldRetry'), o.shouldRetry, base.shouldRetry),
    budget: resolveBudget(at('budget'), o.budget, base.budget, perRequest),
  }
}

function resolveBudget(
  option: string,
  value: unknown,
  fallback: ResolvedBudget,
  perRequest: boolean,
): ResolvedBudget {
  if (value === undefined) return fallback
  if (value === false || value instanceof RetryBudget) return value
  // A budget made per request would count nothing; one per options object would grow without
  // bound when a caller builds the options afresh for each request.
  if (perRequest) {
    throw new InvalidOptionError(
      option,
      value,
      'false or a RetryBudget instance per request (set budget options on the client)',
    )
  }
  return { perOrigin: resolveRetryBudgetOptions(option, value), key: Symbol('retry budget') }
}

function statusSet(option: string, value: unknown): ReadonlySet<number> {
  if (
    !Array.isArray(value) ||
    value.some((s) => typeof s !== 'number' || !Number.isInteger(s) || s < 400 || s > 599)
  ) {
    throw new InvalidOptionError(option, value, 'an array of HTTP status codes from 400 to 599')
  }
  return new Set(value as number[])
}

function codeSet(option: string, value: unknown): ReadonlySet<string> {
  if (!Array.isArray(value) || value.some((c) => typeof c !== 'string' || c === '')) {
    throw new InvalidOptionError(option, value, 'an array of error codes such as "ECONNRESET"')
  }
  return new Set(value as string[])
}

function optionalFunction<F>(
  option: string,
  value: unknown,
  fallback: F | undefined,
): F | undefined {
  if (value === undefined) return fallback
  if (typeof value !== 'function') throw new InvalidOptionError(option, value, 'a function')
  return value as F
}

function maxRetriesOf(where: string, value: unknown, fallback: number): number {
  if (typeof value === 'number' && Number.isInteger(value) && value > MAX_RETRIES) {
    throw new InvalidOptionError(
      where,
      value,
      `an integer from 0 to ${MAX_RETRIES}: past that each retry adds load faster than availability; the deadline and the retry budget bound the rest`,
    )
  }
  return intInRange(where, value, 0, MAX_RETRIES, fallback)
}

/**
 * The call's own retry policy: the request's `retry` option merged over the client's, or `false`
 * when the request turned it off. Unset when the request said nothing and the layer's own policy
 * applies.
 */
export const REQUEST_RETRY = new CallKey<ResolvedRetryPolicy | false>('retry')
