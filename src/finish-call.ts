import { callerAbortError, withAttempts } from './core/call-error.ts'
import { channels } from './core/events.ts'
import type { CallRequest, CallResponse } from './core/middleware.ts'
import { redactQuery } from './core/redact-query.ts'
import { ClientClosedError, MiddlewareError } from './errors.ts'

// How a call ends, for the caller and for the origin's stats.

/** The error the caller sees: always an object with `attempts`, and typed. */
export function finalError(error: unknown, request: CallRequest): unknown {
  const { attempts, callerSignal } = request
  const last = attempts[attempts.length - 1]
  if (callerSignal?.aborted === true && !(error instanceof ClientClosedError)) {
    if (last !== undefined) last.decision ??= { action: 'fail', reason: 'the caller aborted' }
    return callerAbortError(callerSignal.reason, attempts)
  }
  if (last !== undefined) last.decision ??= { action: 'fail', reason: 'error handed to the caller' }
  if (typeof error === 'object' && error !== null) return withAttempts(error, attempts)
  return new MiddlewareError(`a middleware threw a non-Error value: ${String(error)}`, {
    cause: error,
    attempts,
  })
}

/** Adds a call that sent something to its origin's latency window; local rejections say nothing. */
export function recordLatency(request: CallRequest, now: number): void {
  if (request.attempts.length === 0) return
  request.originState.recordLatency(now, now - request.startTime)
}

// The decision on a response handed to the caller: the same for every call, never mutated.
export const RETURNED = Object.freeze({
  action: 'return',
  reason: 'response handed to the caller',
} as const)

export function publishEnd(
  request: CallRequest,
  response: CallResponse | undefined,
  error: unknown,
): void {
  channels.callEnd.publish({
    method: request.method,
    origin: request.origin,
    path: redactQuery(request.path),
    duration: request.clock.now() - request.startTime,
    attempts: request.attempts,
    statusCode: response?.statusCode,
    error,
  })
}
