import type { Random } from '../core/random.ts'
import type { Endpoint } from './endpoint.ts'

/**
 * The power of two choices (Mitzenmacher; Finagle's and Linkerd's balancer): two distinct
 * candidates drawn at random, the one with the lower peak-EWMA cost wins (on a tie, the one with
 * fewer attempts in flight, then the first drawn). Two random draws rather than the best of all
 * keep many clients from piling onto the same "best" address at once, and cost O(1).
 * `candidates` must not be empty.
 */
export function chooseEndpoint(
  candidates: readonly Endpoint[],
  now: number,
  random: Random,
): Endpoint {
  const n = candidates.length
  if (n === 1) return candidates[0] as Endpoint
  const i = Math.min(n - 1, Math.floor(random() * n))
  let j = Math.min(n - 2, Math.floor(random() * (n - 1)))
  if (j >= i) j++
  const a = candidates[i] as Endpoint
  const b = candidates[j] as Endpoint
  const costA = a.cost(now)
  const costB = b.cost(now)
  if (costA !== costB) return costA < costB ? a : b
  return b.inFlight < a.inFlight ? b : a
}
