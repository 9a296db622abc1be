import { NetiquetteError } from '../errors.ts'
import { InvalidOptionError } from '../errors.ts'
import { h2ErrorName, h2NeverProcessed } from './h2-error.ts'
import { idleCloseOf } from './idle-close.ts'
import type { OutcomeKind } from './attempt-record.ts'

export type { OutcomeKind } from './attempt-record.ts'

/** Classifies a response status. */
export function classifyStatus(status: number): OutcomeKind {
  if (typeof status !== 'number') throw new InvalidOptionError('status', status, 'a status code')
  if (status === 429 || status === 503) return 'overload'
  if (status === 408 || status >= 500) return 'failure'
  return 'success'
}

const OVERLOAD_CODES = new Set([
  'ETIMEDOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'NQ_ATTEMPT_TIMEOUT',
  'NQ_DEADLINE_EXCEEDED',
])

// Failures that happen before a single byte of the request can have been written: the request
// provably never reached the origin, so any method may be sent again (gRPC's transparent retry).
// A refused or timed-out connect, or DNS. EHOSTUNREACH and its kin only with `syscall: 'connect'`:
// Linux also reports them on an established socket whose retransmits time out after an ICMP error
// (the socket's soft error), when the request may well have been delivered.
const NEVER_SENT_CODES = new Set([
  'ECONNREFUSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'NQ_ENDPOINT_RESOLUTION',
])
const UNREACHABLE_CODES = new Set(['EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENETDOWN'])

/** True for a status by which the origin asks for less: 429 and 503 (a nack, in Finagle's terms). */
export function isNack(status: number): boolean {
  return status === 429 || status === 503
}

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
    // A hedge's loser was stopped by its own call, not by the origin.
    if (error.code === 'NQ_ABORTED' || error.code === 'NQ_SUPERSEDED') return 'cancelled'
  }
  if (OVERLOAD_CODES.has(errorCode(error))) return 'overload'
  // HTTP/2's nack: the server resets streams because it wants fewer of them.
  return h2ErrorName(error) === 'ENHANCE_YOUR_CALM' ? 'overload' : 'failure'
}

/**
 * True when the request provably never left the client: its attempt ended before undici handed it
 * to a connected socket (`attempt.sent === false`: a refused or timed-out connect, DNS, an attempt
 * timeout or abort while it waited for a connection), or, without a record, the error is one only
 * the connect phase produces. An HTTP/2 failure by which the server says it did not process the
 * request (`REFUSED_STREAM`, a stream above a GOAWAY's last stream id) counts as never sent too:
 * RFC 9113 section 8.7 lets any method go again, as gRPC's transparent retry does.
 */
export function neverLeftClient(error: unknown, attempt?: { sent?: boolean | undefined }): boolean {
  if (attempt?.sent === false) return true
  if (h2NeverProcessed(error)) return true
  if (attempt?.sent === true) return false
  const code = errorCode(error)
  if (NEVER_SENT_CODES.has(code)) return true
  return UNREACHABLE_CODES.has(code) && syscallOf(error) === 'connect'
}

/**
 * True when the attempt died with its connection, for a reason of the connection's and not the
 * origin's answer: this client closed an HTTP/2 session as dead (it did not answer a PING,
 * `NQ_H2_UNRESPONSIVE`; one such event fails every stream on the session at once), or the server
 * closed an idle keep-alive connection just as the request was written on it (the keep-alive
 * race, `core/idle-close.ts`). Neither says anything about the origin's answers, and the attempt
 * goes again on a new connection. So it is not a breaker or throttle failure, and a retry of it
 * (when the request can be sent again) costs no retry budget: a retry of the same request is the
 * budget's concern, a connection that went away is not.
 */
export function connectionLost(error: unknown): boolean {
  return (
    (error as { code?: unknown } | null)?.code === 'NQ_H2_UNRESPONSIVE' ||
    idleCloseOf(error) !== undefined
  )
}

function syscallOf(error: unknown): unknown {
  if (typeof error !== 'object' || error === null) return undefined
  const { syscall, cause } = error as { syscall?: unknown; cause?: unknown }
  if (syscall !== undefined) return syscall
  return typeof cause === 'object' && cause !== null
    ? (cause as { syscall?: unknown }).syscall
    : undefined
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
