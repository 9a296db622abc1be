import type { CallRequest } from './middleware.ts'
import { channels, type AttemptHook } from './events.ts'
import { callHook } from './hooks.ts'
import { classifyError, errorCode } from './outcome.ts'
import { createAttemptRecord, type AttemptRecord } from './attempt-record.ts'
import { redactQuery } from './redact-query.ts'
import { ATTEMPT_ENDPOINT, ATTEMPT_NOTE } from './attempt-keys.ts'
import { nowOrStart } from './call-start.ts'

/**
 * The `clock.now()` reading at which `record`'s response headers arrived, as the transport
 * measured it; a reading of the clock now when it did not (a custom transport). Layers judging a
 * response take their time from here rather than read the clock again: a reading costs 25-100 ns,
 * and several layers would each take one for the same moment.
 */
export function headersAt(request: CallRequest, record: AttemptRecord): number {
  const { timeToHeaders } = record
  return timeToHeaders === undefined
    ? request.clock.now()
    : request.startTime + record.start + timeToHeaders
}

/** Starts the record of a new attempt of `request`, numbered and timed, and appends it. */
export function startAttempt(request: CallRequest): AttemptRecord {
  const { attempts } = request
  const record = createAttemptRecord(
    attempts.length + 1,
    request.method,
    request.origin,
    redactQuery(request.path),
    nowOrStart(request.clock) - request.startTime,
    false,
    ATTEMPT_ENDPOINT.get(request)?.address,
  )
  ATTEMPT_NOTE.get(request)?.(record)
  attempts.push(record)
  return record
}

/**
 * Records an attempt that failed before it could be dispatched (its origin's addresses could not
 * be looked up): `sent: false`, with its error and outcome, published on
 * `netiquette:attempt:end` and handed to the `onAttempt` hook, so that the policies above judge
 * it as they judge a DNS failure in undici (never sent: retried whatever the method). Returns the
 * record.
 */
export function recordUnsentAttempt(
  request: CallRequest,
  error: unknown,
  onAttempt?: AttemptHook,
): AttemptRecord {
  const record = startAttempt(request)
  request.originState.counters.attempts++
  record.sent = false
  record.duration = 0
  record.error = errorCode(error)
  record.outcome = classifyError(error, request.callerSignal?.aborted === true)
  if (channels.attemptEnd.hasSubscribers) {
    channels.attemptEnd.publish({ attempt: record, error, attempts: request.attempts })
  }
  if (onAttempt !== undefined) callHook(onAttempt, 'onAttempt', { attempt: record, error })
  noteAttemptError(error, record)
  return record
}

// The record of the attempt each error ended, for layers that see only the error. An error object
// is fresh per failed attempt (undici's, or the transport's own); an abort reason shared by
// several attempts of a call maps to the last of them, which only matters for a call that is over.
const attemptOfError = new WeakMap<object, AttemptRecord>()
// And the other way: the error that ended each record's attempt, for the cause of a policy
// error that ends the call after it.
const errorOfAttempt = new WeakMap<AttemptRecord, object>()

/** Notes that `error` ended `record`'s attempt (the transport calls this before it rejects). */
export function noteAttemptError(error: unknown, record: AttemptRecord): void {
  if (typeof error === 'object' && error !== null) {
    attemptOfError.set(error, record)
    errorOfAttempt.set(record, error)
  }
}

/** The error that ended `record`'s attempt, when one was noted. */
export function attemptError(record: AttemptRecord): object | undefined {
  return errorOfAttempt.get(record)
}

/**
 * The record of the attempt that failed with `error`, among the records a layer's own `next()`
 * may have started (from index `before` of `attempts`). While only one attempt of a call runs at
 * a time that is the last record; with hedges several run at once, and the error says which.
 * `undefined` when the attempt failed before it was recorded (a local rejection).
 */
export function failedAttempt(
  error: unknown,
  attempts: readonly AttemptRecord[],
  before: number,
): AttemptRecord | undefined {
  if (typeof error === 'object' && error !== null) {
    const noted = attemptOfError.get(error)
    if (noted !== undefined && noted.number > before && attempts[noted.number - 1] === noted) {
      return noted
    }
  }
  return attempts.length > before ? attempts.at(-1) : undefined
}
