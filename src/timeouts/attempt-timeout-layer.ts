import { nowOrStart } from '../core/call-start.ts'
import { Cancellation } from '../core/cancellation.ts'
import { CALL_HEADERS } from '../core/headers.ts'
import { gateLayer } from '../core/gate.ts'
import { timerQueueOf, type QueuedTimer } from '../core/timer-queue.ts'
import type { CallRequest, Middleware } from '../core/middleware.ts'
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
  return gateLayer<AttemptBudget>({
    name: 'attemptTimeout',
    enter(request) {
      const { deadline } = request
      const remaining = deadline - nowOrStart(request.clock)
      const { minAttemptTime } = request
      if (remaining <= 0 || remaining < minAttemptTime) {
        const left = Math.max(0, Math.floor(remaining))
        throw deadlineError(
          request,
          `left ${left} ms for another attempt, less than minAttemptTime (${minAttemptTime} ms)`,
        )
      }
      const timeout = request.attemptTimeout
      if (timeout === undefined || timeout >= remaining) return remaining
      return startTimer(request, timeout, deadline - remaining)
    },
    forward(budget, request) {
      const timed = typeof budget !== 'number'
      if (header === undefined && !timed) return request
      const value =
        header === undefined
          ? undefined
          : formatTimeoutHeader(header, (timed ? budget.timeout : budget) - margin)
      // The call's first attempt, on the call's own header record, with no cancellation of its
      // own: the header goes into the record. No other attempt of the call can be reading it,
      // and undici copies the headers when the attempt is dispatched. Later attempts (a retry,
      // a hedge) copy, since an earlier one may not have been dispatched yet.
      if (
        !timed &&
        request.attempts.length === 0 &&
        CALL_HEADERS.get(request) === request.headers
      ) {
        request.headers[header as string] = value as string
        return request
      }
      const attempt: { -readonly [K in keyof CallRequest]: CallRequest[K] } = { ...request }
      if (header !== undefined) {
        attempt.headers = { ...request.headers, [header]: value as string }
      }
      if (timed) attempt.cancellation = budget.cancellation
      return attempt
    },
    response(budget, request, response) {
      if (typeof budget === 'number') return
      timerQueueOf(request.clock).remove(budget.timer)
      // The call's aborts must still reach the body while it arrives.
      whenBodyComplete(response.body, budget.unfollow)
    },
    error(budget, request) {
      if (typeof budget === 'number') return
      timerQueueOf(request.clock).remove(budget.timer)
      budget.unfollow()
    },
  })
}

/** An attempt's time: the ms left of the deadline, or its own timeout when that is sooner. */
type AttemptBudget = number | TimedAttempt

/**
 * An attempt under its own cancellation: it follows the call's (a deadline or a caller's abort
 * still reach the attempt) and also aborts when the attempt's timer fires.
 */
interface TimedAttempt {
  readonly timeout: number
  readonly cancellation: Cancellation
  readonly timer: QueuedTimer
  readonly unfollow: () => void
}

function startTimer(request: CallRequest, timeout: number, now: number): TimedAttempt {
  const { clock, attempts } = request
  const cancellation = new Cancellation()
  const unfollow = request.cancellation.onAbort((reason) => cancellation.abort(reason))
  const number = attempts.length + 1
  const fire = () =>
    cancellation.abort(
      new AttemptTimeoutError(
        `attempt ${number} got no response headers within its attempt timeout of ${timeout} ms`,
        { attempts },
      ),
    )
  const timer = timerQueueOf(clock).add(now + timeout, now, fire, undefined)
  return { timeout, cancellation, timer, unfollow }
}
