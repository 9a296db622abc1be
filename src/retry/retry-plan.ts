import type { AttemptRecord, RetryDecisionCode } from '../core/attempt.ts'
import type { CallRequest, CallResponse } from '../core/middleware.ts'
import { errorCode, neverLeftClient } from '../core/outcome.ts'
import type { Random } from '../core/random.ts'
import { isReplayableBody } from '../core/request-body.ts'
import { MAX_TIMER_MS } from '../core/validate.ts'
import { InvalidOptionError } from '../errors.ts'
import { backoffDelay } from './backoff.ts'
import { replaySafety } from './idempotency.ts'
import { serverRetryHint, type RetryHint } from './retry-after.ts'
import type { ResolvedRetryPolicy } from './retry-options.ts'

/** Everything {@link planRetry} decides from; time and randomness are passed in. */
export interface RetryPlanInput {
  policy: ResolvedRetryPolicy
  request: CallRequest
  attempt: AttemptRecord
  /** The attempt's response, or `undefined` when it failed with `error`. */
  response: CallResponse | undefined
  error: unknown
  /** Retries made so far in this call. */
  retries: number
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
    }
  | {
      retry: false
      code: RetryDecisionCode
      reason: string
      /** With code `deadline`: the server's hint that did not fit in the time left. */
      hint?: RetryHint
    }

/**
 * Decides whether to retry after an attempt and how long to wait, by the rules in
 * `docs/retry.md`: a retryable status or error; a request safe to send again (idempotent, keyed,
 * or provably never sent); `shouldRetry`; retries left; a body that can be sent again; a wait
 * (server hint, else backoff) that leaves time for an attempt before the deadline. Pure apart from
 * the user's `shouldRetry` and `delay` callbacks.
 */
export function planRetry(input: RetryPlanInput): RetryPlan {
  const { policy, request, response, error, retries } = input
  const what = response !== undefined ? `status ${response.statusCode}` : errorCode(error)
  let retryable: boolean
  let reason: string
  let code: RetryDecisionCode = 'not-retryable'
  if (
    response !== undefined ? policy.statuses.has(response.statusCode) : policy.errorCodes.has(what)
  ) {
    if (response === undefined && neverLeftClient(error)) {
      retryable = true
      reason = `${what} is retryable: the request never left the client`
    } else {
      const safety = replaySafety(
        request.method,
        request.headers,
        request.undiciOptions.dispatch?.idempotent,
      )
      retryable = safety !== undefined
      if (safety === 'keyed') reason = `${what} is retryable: the request has an Idempotency-Key`
      else if (safety === 'idempotent') reason = `${what} is retryable`
      else {
        code = 'unsafe-method'
        reason = `${what} would be retried, but ${request.method} is not idempotent and has no Idempotency-Key: the server may have acted on it`
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

  if (retries >= policy.maxRetries) {
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
    retry: retries,
    previous: input.previousDelay,
    base: policy.baseDelay,
    cap: policy.maxDelay,
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
  } else {
    delay = backoff
    delaySource = 'backoff'
  }

  const left = request.deadline - input.now
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
      hint: fromServer,
    }
  }
  const from =
    delaySource === 'server' && hint !== undefined
      ? `${hint.header}: ${hint.value}`
      : delaySource === 'custom'
        ? 'retry.delay'
        : `${policy.backoff} jitter backoff`
  return { retry: true, delay, delaySource, reason: `${reason} (${from})`, basis: reason }
}

function ms(value: number): string {
  return `${Math.round(value)} ms`
}
