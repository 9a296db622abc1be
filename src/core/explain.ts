import type { AttemptConnect, AttemptRecord } from './attempt-record.ts'
import { describeH2Error } from './h2-error.ts'
import { errorCode } from './outcome.ts'
import { redactQuery } from './redact-query.ts'

/**
 * Renders the attempts of a response or an error as a few lines for a log: one summary line, then
 * one line per attempt with its timing, result and what was decided after it. Query strings are
 * left out, since they often carry tokens.
 *
 * @example
 * ```ts
 * try {
 *   await client.request('/charges/42')
 * } catch (err) {
 *   logger.warn(explain(err))
 *   // GET https://payments.internal/charges/42 failed with ECONNRESET after 3 attempts in 412 ms
 *   //   #1 at +0 ms: 503 (headers 11 ms, 12 ms) -> retry in 87 ms: status 503 is retryable
 *   //   ...
 * }
 * ```
 */
export function explain(responseOrError: unknown): string {
  const carrier = recordCarrier(responseOrError)
  const attempts = carrier?.attempts
  const status = responseStatus(responseOrError)
  const result =
    status !== undefined
      ? `got ${status}`
      : carrier === undefined || carrier.error === responseOrError
        ? `failed with ${describeError(responseOrError)}`
        : `failed with ${describeWrapper(responseOrError)}, caused by ${describeError(carrier.error)}`
  if (attempts === undefined) {
    // No record on it or its causes: whatever happened, nothing says no attempt ran.
    return `call ${result}; it carries no attempt record (not an error or response of netiquette's)`
  }
  const first = attempts[0]
  if (first === undefined) {
    return `call ${result} before any attempt was sent`
  }
  // Hedges overlap: the call took until the attempt that ended last.
  let total = 0
  for (const a of attempts) total = Math.max(total, a.start + (a.duration ?? a.timeToHeaders ?? 0))
  const lines = [
    `${first.method} ${first.origin}${redactQuery(first.path)} ${result} after ${plural(attempts.length, 'attempt')} in ${ms(total)}`,
  ]
  for (const attempt of attempts) lines.push(`  ${describeAttempt(attempt)}`)
  return lines.join('\n')
}

function describeAttempt(a: AttemptRecord): string {
  const timing: string[] = []
  if (a.rateLimitWait !== undefined) {
    timing.push(`waited ${ms(a.rateLimitWait)} for the rate limit`)
  }
  if (a.queued !== undefined) timing.push(`queued ${ms(a.queued)}`)
  if (a.timeToHeaders !== undefined) timing.push(`headers ${ms(a.timeToHeaders)}`)
  if (a.duration !== undefined) timing.push(`total ${ms(a.duration)}`)
  if (a.connect !== undefined) timing.push(describeConnect(a.connect))
  else if (a.reused !== undefined) timing.push(a.reused ? 'reused connection' : 'new connection')
  let result = a.statusCode !== undefined ? String(a.statusCode) : (a.error ?? 'pending')
  if (a.h2Error !== undefined) result += ` ${a.h2Error}: ${describeH2Error(a.h2Error)}`
  const where = a.address === undefined ? '' : ` to ${a.address}`
  let line = `#${a.number} at +${ms(a.start)}${a.hedge ? ' (hedge)' : ''}${where}: ${result}`
  if (a.outcome !== undefined && a.outcome !== 'success') line += ` [${a.outcome}]`
  if (timing.length > 0) line += ` (${timing.join(', ')})`
  if (a.hedgeRefused !== undefined) line += ` (no hedge: ${a.hedgeRefused})`
  const d = a.decision
  if (d !== undefined) {
    const action =
      d.action === 'retry' && d.delay !== undefined ? `retry in ${ms(d.delay)}` : d.action
    line += ` -> ${action}: ${d.reason}`
  }
  return line
}

function describeConnect(c: AttemptConnect): string {
  if (c.warm)
    return `warm connection (opened ahead, connect ${ms(c.ms)}${c.raced ? ', raced' : ''})`
  return `new connection (connect ${ms(c.ms)}${c.raced ? ', raced' : ''})`
}

/**
 * `value` if it has attempt records, else the nearest error in its `cause` chain that has them:
 * the global fetch wraps the dispatcher's error as `TypeError: fetch failed`, and SDKs wrap
 * theirs. `undefined` when none has a record.
 */
function recordCarrier(
  value: unknown,
): { error: unknown; attempts: readonly AttemptRecord[] } | undefined {
  // A few levels: wrappers nest, and a cyclic chain must not loop.
  for (let depth = 0; depth < 8; depth++) {
    if (typeof value !== 'object' || value === null) return undefined
    let attempts: unknown
    let cause: unknown
    try {
      attempts = (value as { attempts?: unknown }).attempts
      cause = (value as { cause?: unknown }).cause
    } catch {
      return undefined // a throwing getter: explain() must not throw
    }
    if (Array.isArray(attempts)) return { error: value, attempts: attempts as AttemptRecord[] }
    value = cause
  }
  return undefined
}

/**
 * The status of a response: undici-style (`statusCode`, from `client.request`) or WHATWG
 * (`status`, from `client.fetch` and the global fetch); `undefined` for anything else.
 */
function responseStatus(value: unknown): number | undefined {
  if (typeof value !== 'object' || value === null) return undefined
  try {
    const { statusCode, status, ok } = value as {
      statusCode?: unknown
      status?: unknown
      ok?: unknown
    }
    if (typeof statusCode === 'number') return statusCode
    if (typeof status === 'number' && typeof ok === 'boolean') return status
  } catch {
    // a throwing getter: explain() must not throw
  }
  return undefined
}

function describeError(error: unknown): string {
  const code = errorCode(error)
  let message: string
  try {
    message = error instanceof Error ? String(error.message) : String(error)
  } catch {
    // explain() is called from catch blocks and loggers: whatever was thrown, it must not throw.
    message = ''
  }
  return message === '' || message === code ? code : `${code} (${message})`
}

/** A wrapper by its own name or code: `errorCode` would report its cause's. */
function describeWrapper(error: unknown): string {
  try {
    const { code, name, message } = error as { code?: unknown; name?: unknown; message?: unknown }
    const label = typeof code === 'string' ? code : typeof name === 'string' ? name : 'Error'
    return typeof message === 'string' && message !== '' ? `${label} (${message})` : label
  } catch {
    return 'Error'
  }
}

function ms(value: number): string {
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ms`
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`
}
