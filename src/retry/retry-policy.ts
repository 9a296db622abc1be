import type { RetryHook } from '../core/events.ts'
import type { Policy } from '../core/policy.ts'
import { optionalFunction } from '../core/validate.ts'
import { InvalidOptionError } from '../errors.ts'
import { REQUEST_HEDGE, resolveHedgePolicy, type ResolvedHedgePolicy } from './hedge-options.ts'
import { HEDGE_STATE, type HedgeState, type HedgeStats } from './hedge-state.ts'
import { RETRIES_ALLOWED, RETRIES_REFUSED, retryLayerFrom } from './retry-layer.ts'
import {
  DEFAULT_RETRY,
  REQUEST_RETRY,
  resolveRetryPolicy,
  type ResolvedRetryPolicy,
} from './retry-options.ts'

interface RetrySettings {
  readonly retry: ResolvedRetryPolicy | false
  readonly hedge: ResolvedHedgePolicy | false
}

interface RetryOriginStats {
  retriesAllowed: number
  retriesRefused: number
  hedges: HedgeStats | undefined
}

/**
 * Retries and hedging (`retry`, `hedge`, `onRetry`). Its layer is always in the stack, even with
 * `retry: false`, so that a request's own `retry` or `hedge` can turn them on for one call.
 */
export const retryPolicy: Policy<RetrySettings, RetryOriginStats> = {
  name: 'retry',
  options: ['retry', 'hedge', 'onRetry'],
  resolve({ options }) {
    optionalFunction('onRetry', options.onRetry)
    const retry = resolveRetryPolicy('retry', options.retry, DEFAULT_RETRY)
    const dispatcher = options.dispatcher as { constructor?: { name?: string } } | undefined
    if (retry !== false && dispatcher?.constructor?.name === 'RetryAgent') {
      throw new InvalidOptionError(
        'dispatcher',
        options.dispatcher,
        "a dispatcher without undici's own retries: under netiquette's retry policy a RetryAgent sends each attempt up to 6 times, unseen by the retry budget (pass the agent it wraps, or set retry: false)",
      )
    }
    return { retry, hedge: resolveHedgePolicy('hedge', options.hedge, false) }
  },
  create: ({ retry, hedge }, { random, options }) => ({
    layer: retryLayerFrom(retry, random, options.onRetry as RetryHook | undefined, hedge),
    requestOptions: [
      {
        name: 'retry',
        key: REQUEST_RETRY,
        resolve: (value) => resolveRetryPolicy('retry', value, retry || DEFAULT_RETRY, true),
      },
      {
        name: 'hedge',
        key: REQUEST_HEDGE,
        resolve: (value) => resolveHedgePolicy('hedge', value, hedge),
      },
    ],
    originStats(entry, state) {
      entry.retriesAllowed = state.tally(RETRIES_ALLOWED)
      entry.retriesRefused = state.tally(RETRIES_REFUSED)
      const hedging = state.peekSlot<HedgeState>(HEDGE_STATE)
      if (hedging !== undefined) {
        const { sent, won, refused, currentDelay: delay } = hedging
        entry.hedges = { sent, won, refused, delay }
      }
    },
  }),
}
