import type { ShedHook } from '../core/events.ts'
import type { Policy } from '../core/policy.ts'
import type { RateLimitStats } from './rate-key.ts'
import { RATE_LIMITED, rateLimitLayerFrom } from './rate-limit-layer.ts'
import { resolveRateLimitOptions, type ResolvedRateLimit } from './rate-limit-options.ts'
import { RateLimits } from './rate-limits.ts'

/** Client-side rate limits (`rateLimit`): off by default. */
export const rateLimitPolicy: Policy<
  ResolvedRateLimit,
  { shed: { rateLimited: number } },
  { rateLimits: RateLimitStats[] }
> = {
  name: 'rateLimit',
  options: ['rateLimit'],
  resolve: ({ options }) =>
    resolveRateLimitOptions(
      'rateLimit',
      options.rateLimit as Parameters<typeof resolveRateLimitOptions>[1],
    ),
  create(settings, { options }) {
    const limits = new RateLimits(settings)
    return {
      layer: rateLimitLayerFrom(limits, options.onShed as ShedHook | undefined),
      originStats(entry, state) {
        entry.shed.rateLimited = state.tally(RATE_LIMITED)
      },
      clientStats(entry, now) {
        entry.rateLimits = limits.stats(now)
      },
    }
  },
}
