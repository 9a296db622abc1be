/**
 * The two numbers that define a GCRA limit, in ms: one request per `interval`, and `tolerance`
 * (= burst × interval) of slack, so that `burst` extra requests may go at once after a quiet spell.
 */
export interface GcraRule {
  /** Time between two requests at the sustained rate: `per / rate`. */
  readonly interval: number
  /** How far ahead of the schedule a request may go: `burst × interval`. */
  readonly tolerance: number
}

/**
 * A request's place in the schedule: it may go after `wait` ms, and the key's theoretical
 * arrival time becomes `tat`. Or, when the wait would be longer than the caller can afford, no
 * place (`allowed: false`, nothing reserved) and `wait` says when one would be free.
 */
export interface GcraReservation {
  readonly allowed: boolean
  /** ms from `now` until the request may go (allowed) or until a slot frees (refused). */
  readonly wait: number
  /** The key's new theoretical arrival time when allowed; the old one when refused. */
  readonly tat: number
}

/**
 * One step of the generic cell-rate algorithm with reservation (ATM Forum TM 4.0, as
 * `redis-cell` and Envoy's local limiter use it): a key's whole state is its theoretical arrival
 * time `tat`, the time at which it would be back to zero use. A request may go once
 * `now ≥ max(tat, now) − tolerance`; going moves `tat` on by one `interval`. A request that must
 * wait reserves its place in the schedule now, so that waiting requests go in order and exactly
 * at the rate, and it is refused without reserving when its wait exceeds `maxWait`.
 *
 * Pure: `tat` is what the store kept (`-Infinity` or any past time for an unknown key).
 */
export function gcraReserve(
  tat: number,
  now: number,
  rule: GcraRule,
  maxWait: number,
): GcraReservation {
  const start = tat > now ? tat : now
  const allowAt = start - rule.tolerance
  const wait = allowAt > now ? allowAt - now : 0
  if (wait > maxWait) return { allowed: false, wait, tat }
  return { allowed: true, wait, tat: start + rule.interval }
}

/**
 * The key's theoretical arrival time after a pause until `until` (a server's `Retry-After`): no
 * request goes before `until`, and none in a burst right after it, since the quota the server
 * just refused has to build up again at the rate.
 */
export function gcraPause(tat: number, until: number, rule: GcraRule): number {
  const paused = until + rule.tolerance
  return paused > tat ? paused : tat
}

/** The rule for `rate` requests per `per` ms with `burst` extra at once. */
export function gcraRule(rate: number, per: number, burst: number): GcraRule {
  const interval = per / rate
  return { interval, tolerance: burst * interval }
}
