import type { ShedHook } from '../core/events.ts'
import type { Policy } from '../core/policy.ts'
import { optionalFunction } from '../core/validate.ts'
import { concurrencyLayerFrom, type LimitChangeHook } from './concurrency-layer.ts'
import { resolveConcurrencyOptions, type ResolvedConcurrency } from './concurrency-options.ts'
import { Limiters } from './limiters.ts'

interface ConcurrencyOriginStats {
  limit: number | undefined
  attemptsInFlight: number | undefined
  queued: number | undefined
  shed: { queueFull: number; queueTimeout: number }
}

/**
 * An adaptive concurrency limit and bounded queue per origin (`concurrency`, `onLimitChange`):
 * on by default. Its handle is `client.limiters`.
 */
export const concurrencyPolicy: Policy<ResolvedConcurrency, ConcurrencyOriginStats> = {
  name: 'concurrency',
  options: ['concurrency', 'onLimitChange'],
  resolve({ options }) {
    optionalFunction('onLimitChange', options.onLimitChange)
    return resolveConcurrencyOptions('concurrency', options.concurrency)
  },
  create(settings, { options, origins, defaultOrigin }) {
    const limiters = new Limiters(settings, origins, defaultOrigin)
    return {
      layer: concurrencyLayerFrom(
        settings,
        options.onLimitChange as LimitChangeHook | undefined,
        options.onShed as ShedHook | undefined,
      ),
      handle: limiters,
      // One connection per attempt in flight: the limiter's ceiling is the pool's.
      connectionsPerOrigin: Math.min(65_535, settings.maxLimit),
      originStats(entry, state) {
        const limiter = limiters.get(state.origin)
        if (limiter === undefined) return
        entry.limit = limiter.limit
        entry.attemptsInFlight = limiter.inFlight
        entry.queued = limiter.queued
        entry.shed.queueFull = limiter.shedQueueFull
        entry.shed.queueTimeout = limiter.shedTimeout
      },
    }
  },
}
