import { noteAttempt } from '../core/attempt-keys.ts'
import { CallKey } from '../core/call-key.ts'
import type { CallRequest } from '../core/middleware.ts'

/**
 * Set on the copy of the request a hedge is sent with (an extra attempt while an earlier one of
 * the call is still running). A layer that would queue or probe with it refuses it with
 * `HedgeDeclinedError` instead: a hedge must never add load to a struggling origin.
 */
export const HEDGE_ATTEMPT = new CallKey<true>('hedgeAttempt')

/** True when `request` is a hedge's copy. */
export function isHedge(request: CallRequest): boolean {
  return HEDGE_ATTEMPT.get(request) === true
}

/** `request` marked as a hedge, its attempt's record too. */
export function asHedge<R extends CallRequest>(request: R): R {
  const marked = noteAttempt(request, markRecord)
  HEDGE_ATTEMPT.init(marked, true)
  return marked
}

function markRecord(record: { hedge: boolean }): void {
  record.hedge = true
}
