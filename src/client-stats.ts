import type { CircuitState } from './breaker/circuit.ts'
import type { OriginMap } from './core/origin-map.ts'
import type { OriginState } from './core/origin-state.ts'
import type { PolicyInstance } from './core/policy.ts'
import type { HedgeStats } from './retry/hedge-state.ts'
import type { EndpointStats } from './endpoints/endpoint.ts'
import type { RateLimitStats } from './rate-limit/rate-key.ts'
import type { ConnectionStats } from './connections/connection-stats.ts'
import type { ConnectionTotals } from './connections/connection-cap.ts'

/** What `client.stats()` returns: one entry per origin the client holds state for. */
export interface ClientStats {
  /** Least recently used origin first. */
  origins: OriginStats[]
  /**
   * One entry per rate-limit key this client has used (least recently used first), with the
   * rate allowed now, what was learned, waits and refusals; empty without `rateLimit`.
   */
  rateLimits: RateLimitStats[]
  /**
   * The connections of the client's own agent across every origin: open, idle, busy, connecting
   * and waiting under `agent.totalConnections`. `undefined` with a `dispatcher` of the caller's
   * own, or behind a `proxy`.
   */
  connections: ConnectionTotals | undefined
}

/**
 * One origin at one moment. Counts run from when the client created the origin's state; that
 * state is dropped after `originIdleTimeout` without calls, or when `maxOrigins` others are more
 * recent, and the counts start again from zero.
 */
export interface OriginStats {
  /** `scheme://host[:port]`. */
  origin: string
  /** Calls started. */
  calls: number
  /** Calls in flight now (a response counts until its body has been received). */
  inFlight: number
  /** Attempts sent (dispatched to undici): first attempts and retries. */
  attempts: number
  /** Retries the retry budget allowed. */
  retriesAllowed: number
  /** Retries the policy wanted and the retry budget refused. */
  retriesRefused: number
  /** Attempts rejected locally, nothing sent, by cause (see `ShedCause`). */
  shed: {
    queueFull: number
    queueTimeout: number
    circuitOpen: number
    throttled: number
    /** Refused by the rate limit: no slot before the deadline (`RateLimitedError`). */
    rateLimited: number
  }
  /** The concurrency limit now; `undefined` without a limiter (or before the first attempt). */
  limit: number | undefined
  /** Attempts holding a place under the limit now. */
  attemptsInFlight: number | undefined
  /** Attempts waiting for a place now. */
  queued: number | undefined
  /** The circuit's state now; `undefined` with `breaker: false`. */
  circuit: CircuitState | undefined
  /**
   * Latency of the calls that sent at least one attempt and ended (response handed over, or
   * error) in the last 60 s, in ms: from the call's start to its response or error, so it
   * includes retries, backoff and queueing. Quantiles are within about 7%; `undefined` when no
   * call ended in the window.
   */
  latency: { count: number; p50: number | undefined; p99: number | undefined }
  /** Hedges sent, won and refused, and the percentile delay now; `undefined` until a call hedges. */
  hedges: HedgeStats | undefined
  /**
   * Each address of the origin and the balancer's view of it (latency estimate, attempts in
   * flight, failures, ejection), with `endpoints`; `undefined` without it, for an IP-literal
   * origin, or before the first lookup.
   */
  endpoints: EndpointStats[] | undefined
  /**
   * The origin's connections as the client's own agent made them: the HTTP version the latest
   * negotiated and, over HTTP/2, the sessions open and the streams the peer lets each carry.
   * Over HTTP/2, `attemptsInFlight` counts streams. `undefined` with a `dispatcher` of the
   * caller's own, behind a `proxy`, with `endpoints` (the connections go to the addresses), or
   * before the first connection.
   */
  connections: ConnectionStats | undefined
}

/** @internal What the client's own agent reports of its connections. */
export interface ConnectionReport {
  stats(origin: string): ConnectionStats | undefined
  totals(): ConnectionTotals
}

/** @internal The snapshot behind `client.stats()`: the client's counts, then each policy's. */
export function clientStats(
  origins: OriginMap<OriginState>,
  now: number,
  policies: ReadonlyMap<string, PolicyInstance<OriginStats, ClientStats>>,
  connections: ConnectionReport | undefined,
): ClientStats {
  const list: OriginStats[] = []
  for (const [origin, state] of origins.entries()) {
    const entry: OriginStats = {
      origin,
      calls: state.counters.calls,
      inFlight: state.inFlight,
      attempts: state.counters.attempts,
      retriesAllowed: 0,
      retriesRefused: 0,
      shed: { queueFull: 0, queueTimeout: 0, circuitOpen: 0, throttled: 0, rateLimited: 0 },
      limit: undefined,
      attemptsInFlight: undefined,
      queued: undefined,
      circuit: undefined,
      latency: state.latency(now),
      hedges: undefined,
      endpoints: undefined,
      connections: connections?.stats(origin),
    }
    for (const policy of policies.values()) policy.originStats?.(entry, state, now)
    list.push(entry)
  }
  const stats: ClientStats = {
    origins: list,
    rateLimits: [],
    connections: connections?.totals(),
  }
  for (const policy of policies.values()) policy.clientStats?.(stats, now)
  return stats
}
