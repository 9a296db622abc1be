import { nowOrStart } from '../core/call-start.ts'
import { gateLayer } from '../core/gate.ts'
import { timerQueueOf, type QueuedTimer } from '../core/timer-queue.ts'
import type { CallRequest, Middleware } from '../core/middleware.ts'
import { whenBodyComplete } from '../core/response-body.ts'
import { DeadlineExceededError } from '../errors.ts'

/**
 * The outermost policy: holds the call to its deadline (`request.deadline`, set by the client
 * from the `deadline` option and any inherited deadline). It covers everything below it: queue
 * waits, every attempt, backoff sleeps, and the response body until it has been received. When the
 * deadline passes, it aborts the call: the attempt in flight is stopped and its socket destroyed,
 * a sleep or queue wait ends at once, and the call (or the body being read) fails with
 * `DeadlineExceededError`, which is final.
 *
 * Its timer waits in the clock's timer queue with every other call's, removed when the call
 * settles; a call whose deadline has already passed sends nothing.
 */
export function deadlineLayer(): Middleware {
  return gateLayer<QueuedTimer>({
    name: 'deadline',
    enter(request) {
      const { clock } = request
      const now = nowOrStart(clock)
      if (request.deadline <= now)
        throw deadlineError(request, 'had passed before the call started')
      return timerQueueOf(clock).add(request.deadline, now, onDeadline, request)
    },
    response(timer, request, response) {
      // The body is part of the call: a trickled body must still be cut at the deadline.
      whenBodyComplete(response.body, () => timerQueueOf(request.clock).remove(timer))
    },
    error(timer, request) {
      timerQueueOf(request.clock).remove(timer)
    },
  })
}

function onDeadline(request: CallRequest): void {
  const error = deadlineError(request, 'passed')
  const last = request.attempts[request.attempts.length - 1]
  if (last !== undefined && last.decision === undefined) {
    last.decision = { action: 'fail', reason: `the call's deadline passed during this attempt` }
  }
  request.cancellation.abort(error)
}

/**
 * The error for a call whose deadline has passed (or cannot be met), saying how long it had and
 * where it came from.
 */
export function deadlineError(request: CallRequest, what: string): DeadlineExceededError {
  const budget = Math.round(request.deadline - request.startTime)
  const source = request.deadlineInherited ? ' (inherited from the incoming request)' : ''
  const count = request.attempts.length
  return new DeadlineExceededError(
    `the call's deadline of ${budget} ms${source} ${what}; ${count} attempt${count === 1 ? '' : 's'} made`,
    { attempts: request.attempts },
  )
}
