import { AbortedError, NetiquetteError } from '../errors.ts'
import type { AttemptRecord } from './attempt.ts'

/**
 * `error` carrying the call's `attempts`, so that `explain()` can tell its story whichever way it
 * reached the caller (a rejected call, a body that failed mid-stream, a dispatch handler's
 * `onResponseError`). A netiquette error keeps attempts it already has; undici's errors pass
 * through unchanged but for the added records. Non-objects are returned as they are.
 */
export function withAttempts<T>(error: T, attempts: readonly AttemptRecord[]): T {
  if (error instanceof NetiquetteError) {
    if (error.attempts.length === 0) error.attempts = attempts
  } else if (typeof error === 'object' && error !== null) {
    ;(error as { attempts?: readonly AttemptRecord[] }).attempts = attempts
  }
  return error
}

/**
 * A caller's abort surfaces as one `AbortedError` per call (the reason as `cause`), never as the
 * reason itself: one reason object is often shared by many calls, and each call's error must
 * carry its own attempts. Its `name` is the reason's when that is `TimeoutError` (the reason of
 * `AbortSignal.timeout()`), so `error.name === 'TimeoutError'` tells a timeout from a cancel as
 * it does with the global fetch; `AbortError` otherwise.
 */
export function callerAbortError(
  reason: unknown,
  attempts: readonly AttemptRecord[],
): AbortedError {
  const shown = reason instanceof Error ? `${reason.name}: ${reason.message}` : String(reason)
  const error = new AbortedError(`the caller aborted the call (${shown})`, {
    cause: reason,
    attempts,
  })
  if (reason instanceof Error && reason.name === 'TimeoutError') error.name = 'TimeoutError'
  return error
}
