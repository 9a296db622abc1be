/**
 * One attempt's outcome, as a limit algorithm sees it. Times are ms on the monotonic clock.
 */
export interface LimitSample {
  /** When the attempt ended. */
  now: number
  /** How long it took: from its start (after any queueing) to its headers or its error. */
  rtt: number
  /** Attempts in flight when it started, itself included. */
  inFlight: number
  /**
   * The origin signalled overload: a 429 or 503, a timeout, a reset connection. A loss-based
   * algorithm backs off on it.
   */
  dropped: boolean
  /**
   * Of `dropped`: the origin answered 429 or 503, asking for less. That is about its rate, which
   * adaptive throttling answers, not about how many requests it can serve at once: a
   * latency-based algorithm ignores it (its quick RTT says nothing of the service time either).
   * @defaultValue false
   */
  nack?: boolean
  /**
   * The request's route: its method and path, with ids templated out (`GET /users/:`). A
   * latency-based algorithm judges each answer against its own route's baseline.
   * @defaultValue '' (one route)
   */
  route?: string
  /**
   * Attempts waiting for a place when it ended: with `inFlight`, the demand the limit did not
   * meet. A limit still starting may grow to it at once.
   * @defaultValue 0
   */
  queued?: number
}

/**
 * Decides how many attempts may be in flight to one origin. Pure: it sees only the samples it is
 * given (each carrying `now`) and never reads a clock; the limit is always an integer within its
 * bounds.
 */
export interface LimitAlgorithm {
  /** The current limit. */
  readonly limit: number
  /**
   * Takes one sample; returns the new limit.
   *
   * @param idle - reads the process's event loop idle time in total, in ms, when called
   *   (`Clock.idle`); none with a clock that has no idle time. A latency-based algorithm reads
   *   it once per round, at the round's end: a round during which the process was busy nearly
   *   throughout is not read as a queue at the origin, since its answers waited on the process
   *   itself. (Once per round rather than in every sample: a reading costs 20-45 ns.)
   */
  update(sample: LimitSample, idle?: () => number): number
}

/** A limit that never changes. */
export class FixedLimit implements LimitAlgorithm {
  readonly limit: number
  constructor(limit: number) {
    this.limit = limit
  }
  update(): number {
    return this.limit
  }
}

/**
 * True while the caller, not the origin, limits the traffic: fewer than half of the allowed
 * attempts are in flight. Nothing the origin does then says how much more it could take, so no
 * algorithm grows the limit (Netflix's concurrency-limits uses the same test).
 */
export function appLimited(inFlight: number, limit: number): boolean {
  return inFlight * 2 < limit
}
