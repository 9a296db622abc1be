import { breakerPolicy } from './breaker/breaker-policy.ts'
import { rateLimitPolicy } from './rate-limit/rate-limit-policy.ts'
import { throttlePolicy } from './throttle/throttle-policy.ts'
import type { Policy } from './core/policy.ts'
import { endpointsPolicy } from './endpoints/endpoints-policy.ts'
import { concurrencyPolicy } from './concurrency/concurrency-policy.ts'
import { retryPolicy } from './retry/retry-policy.ts'
import { attemptTimeoutPolicy } from './timeouts/attempt-timeout-policy.ts'
import { deadlinePolicy } from './timeouts/deadline-policy.ts'
import type { ClientStats, OriginStats } from './client-stats.ts'

/** A policy the client can assemble: its stats parts fill the client's stats. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each policy has its own settings
export type ClientPolicy = Policy<any, OriginStats, ClientStats>

/**
 * The client's policies, outermost first: the order of the default stack, and its reasons are
 * in `docs/architecture.md`. The deadline bounds everything; the throttle sheds before a retry
 * could multiply a call; the retry layer sits above the breaker and the limiter so that each
 * attempt is judged and admitted on its own; the attempt timeout is just above the transport; the
 * choice of an address is last, so that each attempt may go to another one.
 */
export const DEFAULT_POLICIES: readonly ClientPolicy[] = Object.freeze([
  deadlinePolicy,
  throttlePolicy,
  retryPolicy,
  breakerPolicy,
  rateLimitPolicy,
  concurrencyPolicy,
  attemptTimeoutPolicy,
  endpointsPolicy,
])
