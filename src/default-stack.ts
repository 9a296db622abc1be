import { resolveThrottleOptions } from './budget/adaptive-throttle.ts'
import { createThrottleLayer } from './budget/throttle-layer.ts'
import type { Breaker } from './breaker/breaker-layer.ts'
import type { Middleware } from './core/middleware.ts'
import type { Random } from './core/random.ts'
import { InvalidOptionError } from './errors.ts'
import { createConcurrencyLayer } from './pool/concurrency-layer.ts'
import type { ResolvedConcurrency } from './pool/concurrency-options.ts'
import { createRetryLayer } from './retry/retry-layer.ts'
import type { ResolvedRetryPolicy } from './retry/retry-options.ts'
import type { ResolvedHedgePolicy } from './retry/hedge-options.ts'
import { createAttemptTimeoutLayer } from './timeouts/attempt-timeout-layer.ts'
import { deadlineLayer } from './timeouts/deadline-layer.ts'
import type { ResolvedTimeouts } from './timeouts/timeout-options.ts'
import type { ClientOptions } from './client-options.ts'
import { createEndpointsLayer } from './endpoints/endpoints-layer.ts'
import { createRateLimitLayer } from './budget/rate-limit-layer.ts'
import type { RateLimits } from './budget/rate-limits.ts'
import type { ResolvedEndpoints } from './endpoints/endpoints-options.ts'

/**
 * The client's default policies, outermost first (the order and its reasons are in
 * `docs/architecture.md`): deadline, adaptive throttle (unless `throttle` is `false`), retry, circuit
 * breaker (unless `breaker` is `false`), rate limit (with `rateLimit`), concurrency limiter (unless `concurrency` is `false`),
 * attempt timeout, and the choice of an address (with `endpoints`). The retry layer (which also hedges) is always there, so that a request can
 * turn retries or hedging on for itself.
 */
export function defaultStack(
  options: ClientOptions,
  timeouts: ResolvedTimeouts,
  retry: ResolvedRetryPolicy | false,
  hedge: ResolvedHedgePolicy | false,
  breaker: Breaker | undefined,
  concurrency: ResolvedConcurrency | false,
  random: Random,
  endpoints: ResolvedEndpoints | false = false,
  rateLimits?: RateLimits,
): readonly Middleware[] {
  const stack: Middleware[] = [deadlineLayer()]
  const { throttle } = options
  if (throttle !== false) {
    const settings = resolveThrottleOptions(
      'throttle',
      throttle === true || throttle === undefined ? {} : throttle,
    )
    stack.push(createThrottleLayer(settings, random, options.onShed))
  }
  stack.push(createRetryLayer(retry, random, options.onRetry, hedge))
  if (breaker !== undefined) stack.push(breaker.middleware)
  if (rateLimits !== undefined) stack.push(createRateLimitLayer(rateLimits, options.onShed))
  if (concurrency !== false) {
    stack.push(createConcurrencyLayer(concurrency, options.onLimitChange, options.onShed))
  }
  stack.push(createAttemptTimeoutLayer(timeouts.header, timeouts.margin))
  if (endpoints !== false) stack.push(createEndpointsLayer(endpoints, random, options.onAttempt))
  return Object.freeze(stack)
}

/** The user's `middleware` option applied to the default stack. */
export function resolveMiddleware(
  option: ClientOptions['middleware'],
  defaults: readonly Middleware[],
): readonly Middleware[] {
  if (option === undefined) return defaults
  const list = typeof option === 'function' ? option(defaults) : [...defaults, ...option]
  if (!Array.isArray(list) || list.some((m) => typeof m !== 'function')) {
    throw new InvalidOptionError(
      'middleware',
      list,
      'an array of middleware functions (or a function returning one)',
    )
  }
  return list as readonly Middleware[]
}
