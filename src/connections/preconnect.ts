/**
 * How many connections to open ahead for an origin (`agent.preconnect`, Envoy's
 * `per_upstream_preconnect_ratio`): enough that `ratio` x `demand` connections are open or
 * opening, at most `max`. `demand` is the connections in use or being opened for a waiting
 * request; `have` is every connection open or opening, those kept ahead included.
 */
export function preconnectCount(ratio: number, demand: number, have: number, max: number): number {
  // The epsilon keeps 1.1 x 10 at 11, not 12 (binary floating point).
  const target = Math.min(Math.ceil(ratio * demand - 1e-9), max)
  return target > have ? target - have : 0
}
