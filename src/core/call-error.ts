import { AbortedError, NetiquetteError } from '../errors.ts'
import { attemptError } from './attempt.ts'
import type { AttemptRecord } from './attempt-record.ts'

/**
 * `error` carrying the call's `attempts`, so that `explain()` can tell its story whichever way it
 * reached the caller (a rejected call, a body that failed mid-stream, a dispatch handler's
 * `onResponseError`). A netiquette error keeps attempts it already has; undici's errors pass
 * through unchanged but for the added records. Non-objects are returned as they are.
 */
export function withAttempts<T>(error: T, attempts: readonly AttemptRecord[]): T {
  if (error instanceof NetiquetteError) {
    if (error.attempts.length === 0) error.attempts = attempts
    if (error.cause === undefined) withLastAttempt(error, attempts)
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

/**
 * A policy's error that ends a call after attempts were made (an open circuit, a deadline, a
 * queue wait) names what the last of them met, and carries its error as `cause`: a logger that
 * prints `err.message` must still see the `ECONNREFUSED` that led to it.
 */
function withLastAttempt(error: NetiquetteError, attempts: readonly AttemptRecord[]): void {
  if (attempts.length === 0 || annotated.has(error)) return
  annotated.add(error)
  for (let i = attempts.length - 1; i >= 0; i--) {
    const record = attempts[i] as AttemptRecord
    const cause = attemptError(record)
    if (cause === error) continue
    // The attempt this error cut short (the deadline's) is skipped: name the one before.
    const which = i === attempts.length - 1 ? 'the last attempt' : `attempt ${record.number}`
    if (cause !== undefined) {
      const message = (cause as { message?: unknown }).message
      const detail = typeof message === 'string' && message !== '' ? ` (${message})` : ''
      error.message += `; ${which} failed with ${record.error ?? 'an error'}${detail}`
      Object.defineProperty(error, 'cause', {
        value: cause,
        writable: true,
        configurable: true,
        enumerable: false,
      })
    } else if (record.statusCode !== undefined && record.outcome !== 'success') {
      error.message += `; ${which} got status ${record.statusCode}`
    }
    return
  }
}

const annotated = new WeakSet<NetiquetteError>()
