import type { AttemptRecord, RetryDecisionCode } from '../core/attempt-record.ts'
import type { CallRequest, CallResponse } from '../core/middleware.ts'
import { h2ErrorName, h2NeverProcessed } from '../core/h2-error.ts'
import { connectionLost, errorCode, neverLeftClient } from '../core/outcome.ts'
import { idleCloseOf } from '../core/idle-close.ts'
import type { Random } from '../core/random.ts'
import { isReplayableBody } from '../core/request-body.ts'
import { MAX_TIMER_MS } from '../core/validate.ts'
import { InvalidOptionError } from '../errors.ts'
import { backoffDelay } from './backoff.ts'
import { replaySafety } from './idempotency.ts'
import { serverRetryHint } from '../core/retry-after.ts'
import type { ResolvedRetryPolicy } from './retry-options.ts'

/** Everything {@link planRetry} decides from; time and randomness are passed in. */
export interface RetryPlanInput {
  policy: ResolvedRetryPolicy
  request: CallRequest
  attempt: AttemptRecord
  /** The attempt's response, or `undefined` when it failed with `error`. */
  response: CallResponse | undefined
  error: unknown
  /** Retries made so far in this call, transparent ones left out. */
  retries: number
  /**
   * Transparent retries made so far in this call: of attempts that never left the client. They
   * pace the backoff with `retries`, but count against neither `maxRetries` nor the budget.
   * @defaultValue 0
   */
  transparentRetries?: number
  /**
   * Keep-alive races retried so far in this call (`core/idle-close.ts`): the first
   * `MAX_KEEP_ALIVE_RETRIES` are retried at once and for free, later ones as any reset.
   * @defaultValue 0
   */
  keepAliveRetries?: number
  /** The wait before the previous retry, if any. */
  previousDelay: number | undefined
  /** `clock.now()`, to compare with `request.deadline`. */
  now: number
  /** `clock.wallNow()`, for HTTP-dates in hints. */
  wallNow: number
  /** No attempt is started with less than this left (the client's `minAttemptTime`). */
  minAttemptTime: number
  random: Random
}

/** What to do after an attempt. */
export type RetryPlan =
  | {
      retry: true
      delay: number
      delaySource: 'backoff' | 'server' | 'custom'
      reason: string
      /** Why the outcome may be retried, without the wait: `status 503 is retryable`. */
      basis: string
      /**
       * The attempt never left the client: the retry is transparent, charged to neither
       * `maxRetries` nor the retry budget (gRPC's transparent retry).
       */
      transparent: boolean
    }
  | {
      retry: false
      code: RetryDecisionCode
      reason: string
    }

/**
 * Decides whether to retry after an attempt and how long to wait, by the rules in
 * `docs/retry.md`: a retryable status or error; a request safe to send again (idempotent, keyed,
 * or provably never sent); `shouldRetry`; retries left; a body that can be sent again; a wait
 * (server hint, else backoff) that leaves time for an attempt before the deadline. Pure apart from
 * the user's `shouldRetry` and `delay` callbacks.
 */
// Long (about 170 lines): the rules of docs/retry.md in the order they apply, each returning its
// decision; read top to bottom it is the policy, and it is pure, so tests take every branch.
export function planRetry(input: RetryPlanInput): RetryPlan {
  const { policy, request, response, error, retries } = input
  // An HTTP/2 failure goes by its name (REFUSED_STREAM...): its code alone (ERR_HTTP2_STREAM_ERROR)
  // does not say whether the server processed the request.
  const what =
    response !== undefined
      ? `status ${response.statusCode}`
      : (h2ErrorName(error) ?? errorCode(error))
  let retryable: boolean
  let reason: string
  let code: RetryDecisionCode = 'not-retryable'
  let transparent = false
  let idleClosed = false
  if (
    response !== undefined ? policy.statuses.has(response.statusCode) : policy.errorCodes.has(what)
  ) {
    if (response === undefined && neverLeftClient(error, input.attempt)) {
      retryable = true
      // A name that does not exist (NXDOMAIN) is most often a typo: it will not resolve in the
      // next 250 ms. It never left, so any method may go again, but only maxRetries times, as
      // undici's retry handler does; a resolver that timed out (EAI_AGAIN) stays transparent.
      transparent = what !== 'ENOTFOUND'
      reason = !transparent
        ? `${what} is retryable: the request never left the client (a name that does not resolve is retried at most maxRetries times)`
        : h2NeverProcessed(error)
          ? `${what} is retryable: the server did not process the request`
          : `${what} is retryable: the request never left the client`
    } else {
      const safety = replaySafety(
        request.method,
        request.headers,
        request.undiciOptions.dispatch?.idempotent,
      )
      retryable = safety !== undefined
      // A session this client closed as dead, or an idle connection the server closed as the
      // request was written (the keep-alive race): the retry goes on a new connection, for free.
      // MAX_KEEP_ALIVE_RETRIES races per call are free: a server that resets every request looks
      // like a race on each idle connection of the pool, and must not get a free retry per socket.
      idleClosed = idleCloseOf(error) !== undefined
      transparent =
        retryable &&
        (idleClosed
          ? (input.keepAliveRetries ?? 0) < MAX_KEEP_ALIVE_RETRIES
          : connectionLost(error))
      const free = !transparent
        ? ''
        : idleClosed
          ? ' at once on a new connection (the server closed an idle connection as it was reused)'
          : ' on a new connection (the session stopped answering)'
      if (safety === 'keyed')
        reason = `${what} is retryable${free}: the request has an Idempotency-Key`
      else if (safety === 'idempotent') reason = `${what} is retryable${free}`
      else {
        code = 'unsafe-method'
        reason = idleClosed
          ? `${what}: the server closed an idle connection as it was reused, but ${request.method} is not idempotent and has no Idempotency-Key, and it was written: the server may have acted on it`
          : `${what} would be retried, but ${request.method} is not idempotent and has no Idempotency-Key: the server may have acted on it`
      }
    }
  } else {
    retryable = false
    reason = `${what} is not retryable`
  }

  const retry = retries + 1
  if (policy.shouldRetry !== undefined) {
    const verdict = policy.shouldRetry({
      request,
      attempt: input.attempt,
      response,
      error,
      retry,
      retryable,
      reason,
    })
    if (verdict === true && !retryable) {
      retryable = true
      reason = `shouldRetry chose to retry (${reason})`
    } else if (verdict === false && retryable) {
      retryable = false
      code = 'predicate'
      reason = `shouldRetry declined (${reason})`
    }
  }
  if (!retryable) return { retry: false, code, reason }
  const transparentRetries = input.transparentRetries ?? 0
  if (transparent && transparentRetries >= MAX_TRANSPARENT_RETRIES) {
    return {
      retry: false,
      code: 'retries-exhausted',
      reason: `${what} is retryable, but the call has made ${MAX_TRANSPARENT_RETRIES} transparent retries, the most it may`,
    }
  }
  if (!transparent && retries >= policy.maxRetries) {
    return {
      retry: false,
      code: 'retries-exhausted',
      reason: `${what} is retryable, but no retries are left (maxRetries: ${policy.maxRetries})`,
    }
  }
  if (!isReplayableBody(request.body)) {
    return {
      retry: false,
      code: 'body-not-replayable',
      reason: `${what} is retryable, but the body is a one-shot stream that cannot be sent again (pass a factory \`() => body\` to allow retries)`,
    }
  }

  const backoff = backoffDelay(policy.backoff, {
    retry: retries + transparentRetries,
    previous: input.previousDelay,
    base: policy.baseDelay,
    cap: transparent ? Math.min(policy.maxDelay, TRANSPARENT_MAX_DELAY) : policy.maxDelay,
    random: input.random,
  })
  // Read uncapped, so a hint that does not fit the deadline is reported as the server gave it.
  const serverHint =
    response === undefined
      ? undefined
      : serverRetryHint(response.statusCode, response.headers, input.wallNow, MAX_TIMER_MS)
  const hint =
    serverHint === undefined
      ? undefined
      : { ...serverHint, delay: Math.min(serverHint.delay, policy.maxRetryAfter) }
  let delay: number
  let delaySource: 'backoff' | 'server' | 'custom'
  if (policy.delay !== undefined) {
    delay = policy.delay({
      retry,
      attempt: input.attempt,
      response,
      error,
      backoff,
      hint,
      previousDelay: input.previousDelay,
    })
    if (typeof delay !== 'number' || !(delay >= 0 && delay <= MAX_TIMER_MS)) {
      throw new InvalidOptionError(
        'retry.delay',
        delay,
        `a function returning a number of ms from 0 to ${MAX_TIMER_MS}`,
      )
    }
    delaySource = 'custom'
  } else if (hint !== undefined) {
    delay = hint.delay
    delaySource = 'server'
  } else if (transparent && idleClosed) {
    // Nothing of the request was processed and the connection is gone: there is nothing to wait
    // for (Go's transport retries these at once too).
    delay = 0
    delaySource = 'backoff'
  } else {
    delay = backoff
    delaySource = 'backoff'
  }

  const left = request.deadline - input.now
  // Nothing reached the origin, so nothing is lost by trying once more just before the deadline
  // (a port closed for a restart opens again): the wait is cut to fit rather than given up.
  if (transparent && delay + input.minAttemptTime > left && left >= input.minAttemptTime) {
    delay = left - input.minAttemptTime
  }
  if (delay + input.minAttemptTime > left) {
    const fromServer = delaySource === 'server' ? serverHint : undefined
    const wait =
      fromServer !== undefined
        ? `the server asks to wait ${ms(fromServer.delay)} (${fromServer.header}: ${fromServer.value})`
        : `the wait would be ${ms(delay)}`
    return {
      retry: false,
      code: 'deadline',
      reason: `${what} is retryable, but the deadline is too near: ${wait}, and ${ms(Math.max(0, left))} are left for it and an attempt of at least ${ms(input.minAttemptTime)}`,
    }
  }
  const from =
    transparent && idleClosed && delaySource === 'backoff'
      ? 'no wait'
      : delaySource === 'server' && hint !== undefined
        ? `${hint.header}: ${hint.value}`
        : delaySource === 'custom'
          ? 'retry.delay'
          : `${policy.backoff} jitter backoff`
  const free = transparent ? '; not counted against maxRetries or the budget' : ''
  return {
    retry: true,
    delay,
    delaySource,
    reason: `${reason} (${from}${free})`,
    basis: reason,
    transparent,
  }
}

/**
 * The most transparent retries one call makes: the deadline bounds them too, but a client with a
 * long deadline and no breaker must not gather attempt records without end.
 */
export const MAX_TRANSPARENT_RETRIES = 20

/**
 * Keep-alive races one call retries at once and for free. The connection layer closes the
 * origin's connections idle as long as the one that failed, so a retry usually goes on a new or
 * younger connection; a second free retry covers one that was younger but still past the
 * server's idle timeout. Past two, a reset on a reused connection is more likely the server
 * resetting this request than another race (Go retries without a bound, one idle connection at a
 * time; a server that resets every request must not get a free retry per pooled connection).
 */
export const MAX_KEEP_ALIVE_RETRIES = 2

/**
 * The longest wait before a transparent retry, in ms: a port that opens again, or a connection
 * that comes free, is found within a quarter of a second, and a call to an origin that stays
 * unreachable meets the open circuit (which opens after 1 s without a success) soon after,
 * rather than sleeping out a long backoff. With 1 s, calls with a 1 s deadline that met a port
 * closed for 0.5 s drew waits past their deadline on a loaded machine (up to 8% of them, in the
 * lab's restart scenario); a refused connect costs the origin nothing, so trying more often is
 * cheap.
 */
export const TRANSPARENT_MAX_DELAY = 250

function ms(value: number): string {
  return `${Math.round(value)} ms`
}
