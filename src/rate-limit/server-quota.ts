import { parseRateLimitReset } from '../core/retry-after.ts'

/** What a response's `RateLimit-*` headers say about the quota. */
export interface ServerQuota {
  /** Requests left in the current window. */
  remaining: number
  /** ms until the window resets. */
  reset: number
  /** The window's quota, when the server says. */
  limit: number | undefined
}

/**
 * Reads `RateLimit-Remaining` and `RateLimit-Reset` (the IETF draft's separate fields), or their
 * `X-RateLimit-` forms as GitHub and most APIs send them, and `…-Limit` when present. The reset
 * is seconds from now or an epoch timestamp (see `parseRateLimitReset`), cut to `cap`.
 * `undefined` unless both remaining and reset can be read.
 */
export function serverQuota(
  headers: Record<string, string | string[] | undefined>,
  wallNow: number,
  cap: number,
): ServerQuota | undefined {
  if (typeof headers !== 'object' || headers === null) return undefined
  let remainingText = headers['ratelimit-remaining']
  let resetText = headers['ratelimit-reset']
  let limitText = headers['ratelimit-limit']
  if (remainingText === undefined) {
    remainingText = headers['x-ratelimit-remaining']
    resetText = headers['x-ratelimit-reset']
    limitText = headers['x-ratelimit-limit']
  }
  if (typeof remainingText !== 'string' || typeof resetText !== 'string') return undefined
  if (!COUNT.test(remainingText.trim())) return undefined
  const reset = parseRateLimitReset(resetText, wallNow, cap)
  if (reset === undefined) return undefined
  const limit =
    typeof limitText === 'string' && COUNT.test(limitText.trim()) ? Number(limitText) : undefined
  return { remaining: Number(remainingText), reset, limit }
}

const COUNT = /^\d{1,15}$/
