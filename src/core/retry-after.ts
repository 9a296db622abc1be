/** A wait the server asked for before the next attempt. */
export interface RetryHint {
  /** The wait in ms, at most the cap it was read with. */
  delay: number
  /** The header it came from, lower-case: `retry-after`, `ratelimit-reset` or `x-ratelimit-reset`. */
  header: string
  /** The header's value as received. */
  value: string
}

/**
 * Reads the server's retry hint from a response: `Retry-After` on any status, and on a 429 (whose
 * meaning is "quota used up") also `RateLimit-Reset` and then `X-RateLimit-Reset`. The rate-limit
 * headers are ignored on other statuses: APIs such as GitHub's send them on every response, where
 * they describe a quota window, not a wait. A header whose value cannot be read gives no hint, so
 * the retry policy falls back to its backoff.
 *
 * @param wallNow - the wall clock in epoch ms, for HTTP-dates and epoch timestamps.
 * @param cap - the longest wait returned (`maxRetryAfter`); longer hints are cut to it.
 */
export function serverRetryHint(
  statusCode: number,
  headers: Record<string, string | string[] | undefined>,
  wallNow: number,
  cap: number,
): RetryHint | undefined {
  if (typeof headers !== 'object' || headers === null) return undefined
  const retryAfter = headers['retry-after']
  if (typeof retryAfter === 'string') {
    const delay = parseRetryAfter(retryAfter, wallNow, cap)
    if (delay !== undefined) return { delay, header: 'retry-after', value: retryAfter }
  }
  if (statusCode !== 429) return undefined
  for (const header of ['ratelimit-reset', 'x-ratelimit-reset']) {
    const value = headers[header]
    if (typeof value !== 'string') continue
    const delay = parseRateLimitReset(value, wallNow, cap)
    if (delay !== undefined) return { delay, header, value }
  }
  return undefined
}

/**
 * Parses a `Retry-After` value (RFC 9110 section 10.2.3): whole seconds, or an HTTP-date (a date
 * already past means now). Returns the wait in ms, at most `cap`, or `undefined` for anything
 * else: `soon`, `-1`, `1.5`, `1e12`, an empty string, a value that is not a string.
 */
export function parseRetryAfter(value: string, wallNow: number, cap: number): number | undefined {
  // Header values come from the network (and `string[]` for a repeated one): not a string, no hint.
  if (typeof value !== 'string') return undefined
  const text = value.trim()
  if (DIGITS.test(text)) return clamp(Number(text) * 1000, cap)
  const date = parseHttpDate(text, wallNow)
  return date === undefined ? undefined : clamp(date - wallNow, cap)
}

/**
 * Parses a `RateLimit-Reset` or `X-RateLimit-Reset` value: seconds from now, or, since APIs
 * disagree, an epoch timestamp when the number is too large to be a wait (from 1e9 as epoch
 * seconds, as GitHub sends; from 1e12 as epoch ms). Fractions are accepted. Returns the wait in
 * ms, at most `cap`, or `undefined`.
 */
export function parseRateLimitReset(
  value: string,
  wallNow: number,
  cap: number,
): number | undefined {
  if (typeof value !== 'string') return undefined
  const text = value.trim()
  if (!DECIMAL.test(text)) return undefined
  const n = Number(text)
  if (n >= 1e12) return clamp(n - wallNow, cap)
  if (n >= 1e9) return clamp(n * 1000 - wallNow, cap)
  return clamp(n * 1000, cap)
}

/**
 * Parses an HTTP-date in any of the three forms RFC 9110 section 5.6.7 requires a recipient to
 * accept: IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), RFC 850 (`Sunday, 06-Nov-94 08:49:37
 * GMT`) and asctime (`Sun Nov  6 08:49:37 1994`). Returns epoch ms, or `undefined`. Stricter than
 * `Date.parse`, which reads `"1"` and `"soon 2026"` as dates.
 *
 * @param wallNow - epoch ms, to place an RFC 850 two-digit year: one that would be more than 50
 *   years ahead is read as the most recent past year with those digits, as the RFC says.
 */
export function parseHttpDate(value: string, wallNow: number): number | undefined {
  if (typeof value !== 'string') return undefined
  let m = IMF_FIXDATE.exec(value)
  if (m !== null) return toEpoch(Number(m[4]), m[3], m[2], m[5], m[6], m[7])
  m = RFC850_DATE.exec(value)
  if (m !== null) {
    let year = 2000 + Number(m[4])
    if (year > new Date(wallNow).getUTCFullYear() + 50) year -= 100
    return toEpoch(year, m[3], m[2], m[5], m[6], m[7])
  }
  m = ASCTIME_DATE.exec(value)
  if (m !== null) return toEpoch(Number(m[7]), m[2], m[3], m[4], m[5], m[6])
  return undefined
}

const DIGITS = /^\d+$/
const DECIMAL = /^\d+(?:\.\d+)?$/
const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec']
const DAY = '(?:mon|tue|wed|thu|fri|sat|sun)'
const LONG_DAY = '(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)'
const MONTH = `(${MONTHS.join('|')})`
const TIME = '(\\d{2}):(\\d{2}):(\\d{2})'
const IMF_FIXDATE = new RegExp(`^(${DAY}), (\\d{2}) ${MONTH} (\\d{4}) ${TIME} GMT$`, 'i')
const RFC850_DATE = new RegExp(`^(${LONG_DAY}), (\\d{2})-${MONTH}-(\\d{2}) ${TIME} GMT$`, 'i')
const ASCTIME_DATE = new RegExp(`^(${DAY}) ${MONTH} ( \\d|\\d{2}) ${TIME} (\\d{4})$`, 'i')

function toEpoch(
  year: number,
  monthText: string | undefined,
  dayText: string | undefined,
  hourText: string | undefined,
  minuteText: string | undefined,
  secondText: string | undefined,
): number | undefined {
  const month = MONTHS.indexOf(String(monthText).toLowerCase())
  const day = Number(String(dayText).trim())
  const hour = Number(hourText)
  const minute = Number(minuteText)
  const second = Number(secondText)
  if (hour > 23 || minute > 59 || second > 60 || day < 1) return undefined
  // A leap second is read as the last second of its minute.
  const time = Date.UTC(year, month, day, hour, minute, Math.min(second, 59))
  // Rejects 31 Feb and the like, which Date.UTC would roll into the next month.
  return new Date(time).getUTCDate() === day ? time : undefined
}

function clamp(delay: number, cap: number): number {
  return Math.min(Math.max(0, delay), cap)
}
