import type { Endpoint } from './endpoint.ts'
import type { ResolvedEjection } from './endpoints-options.ts'

/**
 * Whether one more of `endpoints` may be ejected at `now`: fewer than `maxShare` of the live
 * addresses are ejected (but one always may be, as Envoy allows), and at least one other would
 * be left to take the traffic.
 */
export function canEject(endpoints: readonly Endpoint[], now: number, maxShare: number): boolean {
  let live = 0
  let ejected = 0
  for (const endpoint of endpoints) {
    if (endpoint.draining) continue
    live++
    if (endpoint.ejected(now)) ejected++
  }
  const allowed = Math.max(1, Math.floor(live * maxShare + 1e-9))
  return ejected < allowed && live - ejected > 1
}

/**
 * Ejects `endpoint` at `now` for `baseTime` × the times it was ejected recently, at most
 * `maxTime` (A50).
 */
export function eject(endpoint: Endpoint, now: number, rules: ResolvedEjection): void {
  endpoint.multiplier++
  endpoint.ejections++
  endpoint.ejectedUntil = now + Math.min(rules.maxTime, rules.baseTime * endpoint.multiplier)
  endpoint.out = true
  endpoint.consecutiveFailures = 0
}

/**
 * Counts one attempt's outcome against `endpoint`; true when it ends a run of
 * `consecutiveFailures` failures, so that the address should be ejected (if {@link canEject}).
 */
export function countOutcome(
  endpoint: Endpoint,
  failed: boolean,
  rules: ResolvedEjection,
): boolean {
  endpoint.attempts++
  endpoint.intervalAttempts++
  if (!failed) {
    endpoint.consecutiveFailures = 0
    return false
  }
  endpoint.failures++
  endpoint.intervalFailures++
  endpoint.consecutiveFailures++
  return endpoint.consecutiveFailures >= rules.consecutiveFailures
}

/**
 * The end of an outlier-detection interval at `now`: returns the addresses whose failure rate
 * over it was at least `failureRate` (with `minRequests` attempts) and at least twice the rate of
 * all the others together, worst first, as many as {@link canEject} allows, ejected. Then, as
 * A50 does, each address not ejected at any time in the interval takes one off its multiplier,
 * and the interval's counts start again.
 */
export function sweep(
  endpoints: readonly Endpoint[],
  now: number,
  rules: ResolvedEjection,
): Endpoint[] {
  let attempts = 0
  let failures = 0
  for (const e of endpoints) {
    attempts += e.intervalAttempts
    failures += e.intervalFailures
  }
  const outliers: { endpoint: Endpoint; rate: number }[] = []
  for (const endpoint of endpoints) {
    const n = endpoint.intervalAttempts
    if (endpoint.draining || endpoint.ejected(now) || n < rules.minRequests) continue
    const rate = endpoint.intervalFailures / n
    const others = attempts - n
    const othersRate = others === 0 ? 0 : (failures - endpoint.intervalFailures) / others
    if (rate >= rules.failureRate && othersRate * 2 <= rate) outliers.push({ endpoint, rate })
  }
  outliers.sort((a, b) => b.rate - a.rate)
  const ejected: Endpoint[] = []
  for (const { endpoint } of outliers) {
    if (!canEject(endpoints, now, rules.maxShare)) break
    eject(endpoint, now, rules)
    ejected.push(endpoint)
  }
  for (const endpoint of endpoints) {
    if (endpoint.multiplier > 0 && endpoint.ejectedUntil <= now - rules.interval) {
      endpoint.multiplier--
    }
    endpoint.intervalAttempts = 0
    endpoint.intervalFailures = 0
  }
  return ejected
}
