import { NetiquetteError } from '../errors.ts'
import { InvalidOptionError } from '../errors.ts'

/**
 * The one classification every policy uses:
 * - `success`: a response the origin meant (2xx, 3xx, and 4xx other than 408/429: a client
 *   error is the caller's problem, not the origin's health).
 * - `failure`: the origin or the path to it failed (5xx other than 503, resets, DNS, parse errors).
 * - `overload`: the origin is shedding or too slow (429, 503, connection refused, timeouts).
 *   Breakers count it as a failure; adaptive throttling and AIMD treat it as a signal to back off.
 * - `local`: rejected on this side without contacting the origin (circuit open, queue full,
 *   throttled, client closed). Never counted as an upstream failure.
 * - `cancelled`: the caller gave up. Never counted against the origin.
 */
export type OutcomeKind = 'success' | 'failure' | 'overload' | 'local' | 'cancelled'

/** Classifies a response status. */
export function classifyStatus(status: number): OutcomeKind {
  if (typeof status !== 'number') throw new InvalidOptionError('status', status, 'a status code')
  if (status === 429 || status === 503) return 'overload'
  if (status === 408 || status >= 500) return 'failure'
  return 'success'
}

const OVERLOAD_CODES = new Set([
  'ECONNREFUSED',
  'ETIMEDOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'NQ_ATTEMPT_TIMEOUT',
  'NQ_DEADLINE_EXCEEDED',
])

// Failures that happen before a single byte of the request can have been written: the request
// provably never reached the origin, so any method may be sent again (gRPC's transparent retry).
// A refused or timed-out connect, or DNS. Not EHOSTUNREACH and its kin: Linux also reports them on
// an established socket whose retransmits time out after an ICMP error (the socket's soft error),
// when the request may well have been delivered.
const NEVER_SENT_CODES = new Set([
  'ECONNREFUSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
])

/**
 * Classifies an error thrown by an attempt.
 *
 * @param callerAborted - whether the caller's own signal had aborted; an abort the caller asked
 *   for is `cancelled` whatever error it surfaced as.
 */
export function classifyError(error: unknown, callerAborted: boolean): OutcomeKind {
  if (callerAborted) return 'cancelled'
  if (error instanceof NetiquetteError) {
    if (error.local) return 'local'
    if (error.code === 'NQ_ABORTED') return 'cancelled'
  }
  return OVERLOAD_CODES.has(errorCode(error)) ? 'overload' : 'failure'
}

/** True when the error proves the request never left the client (a connect-phase failure). */
export function neverLeftClient(error: unknown): boolean {
  return NEVER_SENT_CODES.has(errorCode(error))
}

/**
 * The error's `code`, else its cause's `code` (Node wraps some socket errors), else its name.
 * Used in attempt records and logs.
 */
export function errorCode(error: unknown): string {
  if (typeof error !== 'object' || error === null) return typeof error
  const { code, cause, name } = error as { code?: unknown; cause?: unknown; name?: unknown }
  if (typeof code === 'string') return code
  if (typeof cause === 'object' && cause !== null) {
    const causeCode = (cause as { code?: unknown }).code
    if (typeof causeCode === 'string') return causeCode
  }
  return typeof name === 'string' ? name : 'Error'
}
