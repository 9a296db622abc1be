// The record of an attempt: data every layer, error and report reads. It imports no code, so
// that errors.ts and the middleware contract can name it without an import circle.

/**
 * The one classification every policy uses:
 * - `success`: a response the origin meant (2xx, 3xx, and 4xx other than 408/429: a client
 *   error is the caller's problem, not the origin's health).
 * - `failure`: the origin or the path to it failed (5xx other than 503, resets, refused
 *   connections, DNS, parse errors). The breaker counts it.
 * - `overload`: the origin asked for less (429, 503) or was too slow (timeouts). Adaptive
 *   throttling and the concurrency limit back off on it; the breaker counts a timeout as a
 *   failure, but a 429 or 503 only when nothing else gets through (`docs/breaker.md`).
 * - `local`: rejected on this side without contacting the origin (circuit open, queue full,
 *   throttled, client closed). Never counted as an upstream failure.
 * - `cancelled`: the caller gave up, or the call cancelled an attempt another one had overtaken
 *   (hedging). Never counted against the origin.
 */
export type OutcomeKind = 'success' | 'failure' | 'overload' | 'local' | 'cancelled'

/** What a policy decided after an attempt, and why. */
export interface AttemptDecision {
  /**
   * - `return`: the response was handed to the caller.
   * - `retry`: another attempt follows after `delay` ms.
   * - `fail`: the call failed with this attempt's error (or an error a policy raised).
   * - `superseded`: another attempt of the call, running at the same time (a hedge, or the
   *   attempt it hedged), decided the call instead: this one lost the race and was cancelled
   *   (`hedge-lost`), or failed while the other was still running (`hedge-pending`).
   */
  action: 'return' | 'retry' | 'fail' | 'superseded'
  /** Human-readable reason, e.g. `status 503 is retryable` or `method POST is not idempotent`. */
  reason: string
  /** With `retry`: the wait before the next attempt, in ms. */
  delay?: number
  /** With `retry`: where `delay` came from. */
  delaySource?: 'backoff' | 'server' | 'custom'
  /** Why, for machines (metrics, tests), when a retry policy decided: see {@link RetryDecisionCode}. */
  code?: RetryDecisionCode
}

/**
 * Why the retry policy did or did not retry after an attempt:
 * - `retryable`: retried (a retryable status or error, safe to send again).
 * - `not-retryable`: the status or error is not one that is retried.
 * - `unsafe-method`: the method is not idempotent, the request has no Idempotency-Key, and it may
 *   have reached the server.
 * - `predicate`: `shouldRetry` declined.
 * - `retries-exhausted`: `maxRetries` retries were made.
 * - `body-not-replayable`: the body is a one-shot stream and no body factory was given.
 * - `deadline`: the wait plus a minimal attempt does not fit in the time left.
 * - `budget`: the retry budget refused: retries to this origin have used their share.
 * - `aborted`: the call was aborted (caller, deadline, client destroyed) during the wait.
 * - `hedge-lost`: another attempt running at the same time answered first; this one was
 *   cancelled (its socket closed).
 * - `hedge-pending`: this attempt failed while another of the call was still running, so the
 *   call waited for that one rather than fail or retry.
 */
export type RetryDecisionCode =
  | 'retryable'
  | 'not-retryable'
  | 'unsafe-method'
  | 'predicate'
  | 'retries-exhausted'
  | 'body-not-replayable'
  | 'deadline'
  | 'budget'
  | 'aborted'
  | 'hedge-lost'
  | 'hedge-pending'

/**
 * One attempt of a call: what was sent, what came back and what was decided after it. Every
 * response and every error from a client carries an array of these as `attempts`.
 *
 * Times are milliseconds measured on the client's clock; `start` is relative to the call's start.
 * The optional fields (`address`, `hedgeRefused`, `queued`, `rateLimitWait`, `h2Error`) are set
 * on the few attempts they describe and absent from the rest: every call in flight holds its
 * record, and five fields declared on all of them cost 40 B a call. The other fields are always
 * present, `undefined` until known.
 */
export interface AttemptRecord {
  /** 1-based attempt number. */
  number: number
  /** Method of the request. */
  method: string
  /** Origin the attempt was sent to, e.g. `https://payments.internal`. */
  origin: string
  /**
   * Path of the request, its query replaced by `?…` (`/search?…`): records end up in logs, and
   * queries often carry tokens. A middleware reads the whole path from `request.path`.
   */
  path: string
  /**
   * The IP address the attempt was sent to, when the client balances over the origin's
   * addresses (`endpoints` option); absent otherwise (the dispatcher chose one).
   */
  address?: string
  /** Offset of the attempt's start from the call's start, in ms. */
  start: number
  /**
   * True for a hedge: an extra attempt sent while an earlier attempt of the call was still
   * running, because that one was slow (`hedge` option).
   */
  hedge: boolean
  /**
   * Time from the attempt's start until it ended: for an error, when it failed; for a
   * response that was discarded or handed over, when its body finished or was closed.
   * `undefined` while a response body is still being read.
   */
  duration: number | undefined
  /** Time from the attempt's start until response headers arrived. */
  timeToHeaders: number | undefined
  /**
   * Why a hedge of this attempt was due and not sent (the hedge share, the retry budget, the
   * deadline, a policy that would have queued it); absent when none was due or one was sent.
   */
  hedgeRefused?: string
  /**
   * Whether the request went out on a connection that had served an earlier request (over
   * HTTP/2, an earlier stream of its session). `undefined` when the attempt never reached a
   * connection, or went over one the client did not make (a `dispatcher` of the caller's own).
   */
  reused: boolean | undefined
  /**
   * The connect this attempt's request was the first to use: set on the first request of a
   * connection the client opened, `undefined` on a reused one (see `reused`) and where the client
   * did not make the connection.
   */
  connect: AttemptConnect | undefined
  /**
   * Whether undici handed the request to a connected socket: `false` when the attempt ended
   * before that (a refused or timed-out connect, DNS, a timeout or abort while it waited for a
   * connection), so the origin provably never saw it and it is retried transparently.
   * `undefined` where the bottom of the stack does not tell (a custom transport).
   */
  sent: boolean | undefined
  /**
   * Time the attempt waited in its origin's concurrency queue before `start`, in ms; absent
   * when it got a place at once.
   */
  queued?: number
  /**
   * Time the attempt waited for its slot under the rate limit (`rateLimit` option) before
   * `start`, in ms; absent when its slot was free at once.
   */
  rateLimitWait?: number
  /** The response status, when headers arrived. */
  statusCode: number | undefined
  /** The error's `code` (or name) when the attempt failed without a response. */
  error: string | undefined
  /**
   * With an HTTP/2 failure, its name: an RFC 9113 error code the server reset the stream with
   * (`REFUSED_STREAM`, `INTERNAL_ERROR`, `ENHANCE_YOUR_CALM`...), or `GOAWAY` (the session closed
   * below this stream), `UNRESPONSIVE` (a PING went unanswered), `SESSION_CLOSED`,
   * `STREAM_ENDED`, `HEADERS_NOT_SENT` (see `docs/http2.md`). Absent otherwise.
   */
  h2Error?: string
  /**
   * The HTTP version of the connection the attempt went over, `'1.1'` or `'2'`, as the
   * connection's TLS handshake chose it; `undefined` when the client did not make the connection
   * (a `dispatcher` of the caller's own).
   */
  protocol: '1.1' | '2' | undefined
  /** How the shared classification judged this attempt: see {@link classifyStatus}. */
  outcome: OutcomeKind | undefined
  /** What was decided after this attempt. */
  decision: AttemptDecision | undefined
}

/** How the connection an attempt's request went out on was opened (`AttemptRecord.connect`). */
export interface AttemptConnect {
  /**
   * Time the connect took, in ms: name resolution, TCP and TLS, raced attempts included. With
   * `warm`, it was paid before the call, off its path.
   */
  readonly ms: number
  /**
   * Whether the connect needed a race: a second attempt went out, to another address or as a
   * new SYN to the same one, because the first had not finished after the connection attempt
   * delay (`agent.race`).
   */
  readonly raced: boolean
  /** IP version of the connection. */
  readonly family: 4 | 6
  /** Whether `client.warm` opened the connection ahead of traffic. */
  readonly warm: boolean
}

/** Creates an attempt record with every measured field unset and no optional field. */
export function createAttemptRecord(
  number: number,
  method: string,
  origin: string,
  path: string,
  start: number,
  hedge = false,
  address?: string,
): AttemptRecord {
  const record: AttemptRecord = {
    number,
    method,
    origin,
    path,
    start,
    hedge,
    duration: undefined,
    timeToHeaders: undefined,
    reused: undefined,
    connect: undefined,
    sent: undefined,
    statusCode: undefined,
    error: undefined,
    protocol: undefined,
    outcome: undefined,
    decision: undefined,
  }
  if (address !== undefined) record.address = address
  return record
}
