import { Cancellation } from '../core/cancellation.ts'
import type { CallRequest, CallResponse, Handler, Middleware } from '../core/middleware.ts'
import { whenBodyComplete } from '../core/response-body.ts'
import { checkKnownKeys, optionsArgument } from '../core/validate.ts'
import { AttemptTimeoutError } from '../errors.ts'
import { deadlineError } from './deadline-layer.ts'
import { formatTimeoutHeader } from './timeout-header.ts'
import { resolvePropagation, type PropagationOptions } from './timeout-options.ts'

/** Settings of {@link attemptTimeoutLayer}, for a custom stack; validated when it is created. */
export interface AttemptTimeoutLayerOptions {
  /**
   * The header that carries each attempt's time left, and the margin taken off it (`inherit`
   * does not apply here: the client reads inherited deadlines).
   * @defaultValue header `x-deadline-remaining-ms`, margin 5 ms
   */
  propagation?: PropagationOptions | false
}

/**
 * The innermost policy, run once per attempt, just above the transport. It gives the attempt its
 * slice of the deadline:
 *
 * - With less than the client's `minAttemptTime` left (`request.minAttemptTime`), it sends
 *   nothing and fails with `DeadlineExceededError` (final): an attempt with a few ms left only
 *   adds load.
 * - The attempt's budget is `min(attemptTimeout, remaining)`. When `attemptTimeout` is the
 *   smaller, an attempt with no response headers by then is stopped (its socket destroyed) and
 *   fails with `AttemptTimeoutError`, which a retry policy may retry. An attempt timeout at or
 *   above the time left is ignored: the deadline ends the attempt first, and that is final.
 * - The budget minus `margin` goes to the next hop in `header`, rounded down and never negative,
 *   so it shrinks from attempt to attempt as the deadline nears.
 *
 * The attempt timeout stops at the response headers: after that the response belongs to the
 * caller, nothing will retry it, and only the deadline (and the Agent's idle `bodyTimeout`) bound
 * the body.
 */
export function attemptTimeoutLayer(options: AttemptTimeoutLayerOptions = {}): Middleware {
  optionsArgument('options', options)
  checkKnownKeys('', options, ['propagation'])
  const { header, margin } = resolvePropagation(options.propagation)
  return attemptTimeoutLayerFrom(header, margin)
}

/** {@link attemptTimeoutLayer} from settings the client has already validated. */
export function attemptTimeoutLayerFrom(header: string | undefined, margin: number): Middleware {
  return function attemptTimeout(request, next) {
    const remaining = request.deadline - request.clock.now()
    const { minAttemptTime } = request
    if (remaining <= 0 || remaining < minAttemptTime) {
      const left = Math.max(0, Math.floor(remaining))
      return Promise.reject(
        deadlineError(
          request,
          `left ${left} ms for another attempt, less than minAttemptTime (${minAttemptTime} ms)`,
        ),
      )
    }
    const timeout = request.attemptTimeout
    const timed = timeout !== undefined && timeout < remaining
    const budget = timed ? timeout : remaining
    const attempt: CallRequest =
      header === undefined
        ? request
        : {
            ...request,
            headers: { ...request.headers, [header]: formatTimeoutHeader(header, budget - margin) },
          }
    return timed ? timedAttempt(attempt, next, timeout) : next(attempt)
  }
}

/**
 * Runs one attempt under its own cancellation: it follows the call's (a deadline or a caller's
 * abort still reach the attempt) and also aborts when the attempt's timer fires.
 */
function timedAttempt(request: CallRequest, next: Handler, timeout: number): Promise<CallResponse> {
  const { clock, attempts } = request
  const cancellation = new Cancellation()
  const unfollow = request.cancellation.onAbort((reason) => cancellation.abort(reason))
  const number = attempts.length + 1
  const timer = clock.setTimer(() => {
    cancellation.abort(
      new AttemptTimeoutError(
        `attempt ${number} got no response headers within its attempt timeout of ${timeout} ms`,
        { attempts },
      ),
    )
  }, timeout)
  return next({ ...request, cancellation }).then(
    (response) => {
      clock.clearTimer(timer)
      // The call's aborts must still reach the body while it arrives.
      whenBodyComplete(response.body, unfollow)
      return response
    },
    (error: unknown) => {
      clock.clearTimer(timer)
      unfollow()
      throw error
    },
  )
}
