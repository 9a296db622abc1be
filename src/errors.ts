import type { AttemptRecord } from './core/attempt-record.ts'

/**
 * Stable error codes. A code never changes meaning once released; match on `err.code`, not on
 * the message or the class name.
 */
export const ErrorCodes = {
  DEADLINE_EXCEEDED: 'NQ_DEADLINE_EXCEEDED',
  ATTEMPT_TIMEOUT: 'NQ_ATTEMPT_TIMEOUT',
  CIRCUIT_OPEN: 'NQ_CIRCUIT_OPEN',
  QUEUE_FULL: 'NQ_QUEUE_FULL',
  QUEUE_TIMEOUT: 'NQ_QUEUE_TIMEOUT',
  THROTTLED: 'NQ_THROTTLED',
  BODY_NOT_REPLAYABLE: 'NQ_BODY_NOT_REPLAYABLE',
  CLIENT_CLOSED: 'NQ_CLIENT_CLOSED',
  INVALID_OPTION: 'NQ_INVALID_OPTION',
  INVALID_REQUEST: 'NQ_INVALID_REQUEST',
  CROSS_ORIGIN: 'NQ_CROSS_ORIGIN',
  ABORTED: 'NQ_ABORTED',
  MIDDLEWARE: 'NQ_MIDDLEWARE',
  BODY_USED: 'NQ_BODY_USED',
  REDIRECT: 'NQ_REDIRECT',
  INVALID_RESPONSE: 'NQ_INVALID_RESPONSE',
  DECOMPRESSION: 'NQ_DECOMPRESSION',
  SUPERSEDED: 'NQ_SUPERSEDED',
  HEDGE_DECLINED: 'NQ_HEDGE_DECLINED',
  ENDPOINT_RESOLUTION: 'NQ_ENDPOINT_RESOLUTION',
  RATE_LIMITED: 'NQ_RATE_LIMITED',
  /** Thrown at load on a Node older than 22.19 (`node-check.ts`, which imports nothing). */
  UNSUPPORTED_NODE: 'NQ_UNSUPPORTED_NODE',
  /** A feature needs an optional peer dependency that is not installed (named in the message). */
  MISSING_PEER: 'NQ_MISSING_PEER',
  /**
   * An HTTP/2 session did not answer a PING in time and was closed; the attempts on it fail with
   * this error (see `agent.http2`).
   */
  H2_UNRESPONSIVE: 'NQ_H2_UNRESPONSIVE',
  /**
   * The agent's `totalConnections` were all open and busy, and no connection came free within
   * `headersTimeout` (or the queue of waiting connects was full); nothing was sent.
   */
  CONNECTION_LIMIT: 'NQ_CONNECTION_LIMIT',
} as const

/** One of the values of {@link ErrorCodes}. */
export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes]

/** Options shared by every netiquette error. */
export interface NetiquetteErrorOptions {
  /** The underlying error, if any. */
  cause?: unknown
  /** The attempts made before this error, when a call was made. */
  attempts?: readonly AttemptRecord[]
}

/**
 * Base class of every error netiquette throws. Errors that come from undici (connection resets,
 * its own timeouts) are not wrapped: they pass through unchanged, with `attempts` attached.
 */
export class NetiquetteError extends Error {
  /** Stable, machine-readable code: see {@link ErrorCodes}. */
  readonly code: ErrorCode
  /** One record per attempt made for the call (empty when nothing was sent). */
  attempts: readonly AttemptRecord[]
  /**
   * True when the error was decided locally without contacting the origin (circuit open, queue
   * full, throttled, client closed). Policies never count these as upstream failures.
   */
  readonly local: boolean

  constructor(
    code: ErrorCode,
    message: string,
    options: NetiquetteErrorOptions = {},
    local = false,
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = new.target.name
    this.code = code
    this.attempts = options.attempts ?? []
    this.local = local
  }
}

/**
 * The call's total deadline passed. Final: never retried. (A response whose `Retry-After` asks
 * for longer than the time left is handed back as it is, not turned into this error.)
 */
export class DeadlineExceededError extends NetiquetteError {
  constructor(message: string, options?: NetiquetteErrorOptions) {
    super(ErrorCodes.DEADLINE_EXCEEDED, message, options)
  }
}

/** One attempt ran out of its own time; the retry policy may try again within the deadline. */
export class AttemptTimeoutError extends NetiquetteError {
  constructor(message: string, options?: NetiquetteErrorOptions) {
    super(ErrorCodes.ATTEMPT_TIMEOUT, message, options)
  }
}

/** The states in which a circuit rejects an attempt. */
export type CircuitRejectingState = 'open' | 'half-open' | 'isolated'

/**
 * The origin's circuit breaker rejected the attempt: the circuit is open (or isolated), or
 * half-open with its probes already in flight. Nothing was sent. Local: no policy counts it as
 * an upstream failure.
 */
export class CircuitOpenError extends NetiquetteError {
  /** The origin whose circuit rejected the call. */
  readonly origin: string | undefined
  /** The circuit's state: `open`, `half-open` (probes busy) or `isolated`. */
  readonly state: CircuitRejectingState | undefined
  /**
   * Epoch milliseconds at which the circuit next lets a call through: the end of the open
   * period. `undefined` when that is not known: half-open (it depends on the probes) or
   * isolated (until reset by hand).
   */
  readonly retryAt: number | undefined
  constructor(
    message: string,
    options?: NetiquetteErrorOptions & {
      origin?: string
      state?: CircuitRejectingState
      retryAt?: number
    },
  ) {
    super(ErrorCodes.CIRCUIT_OPEN, message, options, true)
    this.origin = options?.origin
    this.state = options?.state
    this.retryAt = options?.retryAt
  }
}

/**
 * The rate limit (`rateLimit` option) has no slot for the attempt before the call's deadline:
 * nothing was sent. Local: no policy counts it as an upstream failure, and it is not retried
 * (the wait was already weighed against the deadline).
 */
export class RateLimitedError extends NetiquetteError {
  /** The origin the attempt was for. */
  readonly origin: string | undefined
  /** ms until the key's next slot frees, from when the attempt was refused. */
  readonly retryAfter: number | undefined
  constructor(
    message: string,
    options?: NetiquetteErrorOptions & { origin?: string; retryAfter?: number },
  ) {
    super(ErrorCodes.RATE_LIMITED, message, options, true)
    this.origin = options?.origin
    this.retryAfter = options?.retryAfter
  }
}

/**
 * A new connection was needed, the agent's `totalConnections` were all open and busy, and none
 * came free within `headersTimeout` (or too many connects were waiting already). Local: nothing
 * was sent, and policies do not count it against the origin.
 */
export class ConnectionLimitError extends NetiquetteError {
  constructor(message: string, options?: NetiquetteErrorOptions) {
    super(ErrorCodes.CONNECTION_LIMIT, message, options, true)
  }
}

/** The concurrency limiter's queue was full: the call was shed at once. */
export class QueueFullError extends NetiquetteError {
  constructor(message: string, options?: NetiquetteErrorOptions) {
    super(ErrorCodes.QUEUE_FULL, message, options, true)
  }
}

/** The call waited in the limiter's queue for as long as it was allowed to. */
export class QueueTimeoutError extends NetiquetteError {
  constructor(message: string, options?: NetiquetteErrorOptions) {
    super(ErrorCodes.QUEUE_TIMEOUT, message, options, true)
  }
}

/** Adaptive throttling rejected the call locally; nothing was sent. */
export class ThrottledError extends NetiquetteError {
  constructor(message: string, options?: NetiquetteErrorOptions) {
    super(ErrorCodes.THROTTLED, message, options, true)
  }
}

/**
 * The request body is a stream that has already been read from (or a body factory returned one
 * twice): sending it would send a partial or empty body. Thrown before anything is sent. A retry
 * the policy skips because the body is a one-shot stream does not throw this: the caller gets the
 * last response or error, and the attempt's decision says why.
 */
export class BodyNotReplayableError extends NetiquetteError {
  constructor(message: string, options?: NetiquetteErrorOptions) {
    super(ErrorCodes.BODY_NOT_REPLAYABLE, message, options, true)
  }
}

/** The client was closed or destroyed before or during the call. */
export class ClientClosedError extends NetiquetteError {
  constructor(message: string, options?: NetiquetteErrorOptions) {
    super(ErrorCodes.CLIENT_CLOSED, message, options, true)
  }
}

/** The caller aborted the call with a reason that is not an Error; the reason is the `cause`. */
export class AbortedError extends NetiquetteError {
  constructor(message: string, options?: NetiquetteErrorOptions) {
    super(ErrorCodes.ABORTED, message, options)
    this.name = 'AbortError'
  }
}

/**
 * The attempt was cancelled because another attempt of the same call (a hedge, or the attempt
 * it hedged) answered first. It is the reason such an attempt's record shows
 * (`error: 'NQ_SUPERSEDED'`); it never reaches a caller, whose call got the winner's response.
 * Classified `cancelled`: no policy counts it against the origin.
 */
export class SupersededError extends NetiquetteError {
  constructor(message: string, options?: NetiquetteErrorOptions) {
    super(ErrorCodes.SUPERSEDED, message, options)
  }
}

/**
 * A policy below the retry layer refused a hedge it would have had to queue or probe with (the
 * origin's concurrency limit is reached, its circuit is not closed): a hedge must not add load to
 * a struggling origin. Nothing was sent. The call goes on with the attempt it hedged; a caller
 * never sees this error under the default stack. Local.
 */
export class HedgeDeclinedError extends NetiquetteError {
  constructor(message: string, options?: NetiquetteErrorOptions) {
    super(ErrorCodes.HEDGE_DECLINED, message, options, true)
  }
}

/**
 * The `endpoints.resolve` function failed or returned no usable address (an empty list, or
 * something that is not an IP address) for an origin whose addresses are not known yet. Nothing
 * was sent, so the retry policy retries it like a DNS failure; the resolver's own error is the
 * `cause`. (The default resolver's errors, `ENOTFOUND` and `EAI_AGAIN`, pass unchanged, as
 * without `endpoints`.)
 */
export class EndpointResolutionError extends NetiquetteError {
  /** The hostname that was being resolved. */
  readonly hostname: string
  constructor(hostname: string, message: string, options?: NetiquetteErrorOptions) {
    super(ErrorCodes.ENDPOINT_RESOLUTION, message, options)
    this.hostname = hostname
  }
}

/** A response body was read a second time (each body can be consumed once). */
export class BodyUsedError extends NetiquetteError {
  constructor(message: string, options?: NetiquetteErrorOptions) {
    super(ErrorCodes.BODY_USED, message, options, true)
  }
}

/** A middleware threw something that is not an Error; the value is the `cause`. */
export class MiddlewareError extends NetiquetteError {
  constructor(message: string, options?: NetiquetteErrorOptions) {
    super(ErrorCodes.MIDDLEWARE, message, options)
  }
}

/** An option had a bad value. Thrown at construction, or when a request's options are read. */
export class InvalidOptionError extends NetiquetteError {
  /** Dotted path of the bad option, e.g. `agent.connectTimeout`. */
  readonly option: string
  constructor(option: string, value: unknown, expected: string) {
    super(
      ErrorCodes.INVALID_OPTION,
      `invalid option ${option}: got ${describeValue(value)}, expected ${expected}`,
      {},
      true,
    )
    this.option = option
  }
}

/** The request itself is malformed (bad URL, CR/LF/NUL in a header); nothing was sent. */
export class InvalidRequestError extends NetiquetteError {
  constructor(message: string, options?: NetiquetteErrorOptions) {
    super(ErrorCodes.INVALID_REQUEST, message, options, true)
  }
}

/**
 * The client has an `origin` and the request named another scheme, host or port. It is
 * rejected rather than re-targeted, so a user-controlled path can never redirect credentials.
 */
export class CrossOriginError extends NetiquetteError {
  constructor(message: string, options?: NetiquetteErrorOptions) {
    super(ErrorCodes.CROSS_ORIGIN, message, options, true)
  }
}

/**
 * `client.fetch` could not follow a redirect: `redirect: 'error'` was asked for, there were more
 * than 20 in a row, or the `Location` was not a valid http(s) URL. The redirect response was
 * discarded; its attempts are in `attempts`.
 */
export class RedirectError extends NetiquetteError {
  constructor(message: string, options?: NetiquetteErrorOptions) {
    super(ErrorCodes.REDIRECT, message, options)
  }
}

/**
 * The origin answered with something the face asked for cannot represent: `client.fetch` got a
 * status outside 200-599, which a WHATWG `Response` cannot hold. The response was discarded and
 * its connection closed; its attempt is in `attempts`. Not retried.
 */
export class InvalidResponseError extends NetiquetteError {
  /** The status code the origin sent. */
  readonly statusCode: number | undefined
  constructor(message: string, options?: NetiquetteErrorOptions & { statusCode?: number }) {
    super(ErrorCodes.INVALID_RESPONSE, message, options)
    this.statusCode = options?.statusCode
  }
}

/**
 * `client.fetch` could not decode a response body (`decompress` option): more than 5 content
 * codings, a decoded size past `maxSize`, a decoded/received ratio past `maxRatio` (a
 * decompression bomb), or data that is not what its coding says (`corrupt`, the decoder's error
 * as `cause`). The body stream errors with it (the call rejects, for too many codings) and the
 * connection is closed. `reason` says which.
 */
export class DecompressionError extends NetiquetteError {
  /** Why the body was not decoded. */
  readonly reason: DecompressionFailure
  constructor(
    message: string,
    options: NetiquetteErrorOptions & { reason?: DecompressionFailure } = {},
  ) {
    super(ErrorCodes.DECOMPRESSION, message, options)
    this.reason = options.reason ?? 'corrupt'
  }
}

/** Why {@link DecompressionError} was thrown. */
export type DecompressionFailure = 'codings' | 'maxSize' | 'maxRatio' | 'corrupt'

/** Renders a value for an error message: short, and safe for values of any type. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') {
    const redacted = redactUrl(value)
    const shown = redacted.length > 60 ? `${redacted.slice(0, 57)}...` : redacted
    return JSON.stringify(shown)
  }
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') {
    return String(value)
  }
  if (value === null) return 'null'
  if (value === undefined) return 'undefined'
  if (typeof value === 'function') return 'a function'
  if (Array.isArray(value)) return 'an array'
  return `an object (${Object.prototype.toString.call(value).slice(8, -1)})`
}

// `scheme://userinfo@`: what a URL's credentials look like wherever they appear in a string.
const USERINFO = /([a-z][a-z\d+.-]*:\/\/)[^/?#@\s]*@/gi

/**
 * `text` with the userinfo of every URL in it replaced by `***`
 * (`https://user:secret@host/` becomes `https://***@host/`), so an error message or a log line
 * never shows a password, even for a URL that does not parse.
 */
export function redactUrl(text: string): string {
  return text.includes('@') ? text.replace(USERINFO, '$1***@') : text
}
