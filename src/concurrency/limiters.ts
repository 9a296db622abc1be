import type { OriginMap } from '../core/origin-map.ts'
import type { OriginState } from '../core/origin-state.ts'
import type { ResolvedConcurrency } from './concurrency-options.ts'
import type { ConcurrencyLimiter } from './limiter.ts'
import { originKey } from '../core/target.ts'

/** One origin's concurrency limiter at one moment. */
export interface LimiterSnapshot {
  origin: string
  /** Attempts allowed in flight now. */
  limit: number
  /** Attempts in flight now (each holds its place until its body is in). */
  inFlight: number
  /** Attempts waiting for a place now. */
  queued: number
  /** Attempts let through since the origin's state was created. */
  admitted: number
  /** Attempts shed at once because the queue was full. */
  shedQueueFull: number
  /** Attempts that waited as long as they could. */
  shedTimeout: number
  /** Attempts whose call was aborted while they waited. */
  abandoned: number
}

/**
 * The client's concurrency limiters, one per origin, for stats: `client.limiters`; `undefined`
 * when `concurrency` is `false`.
 */
export class Limiters {
  readonly #options: ResolvedConcurrency
  readonly #origins: OriginMap<OriginState>
  readonly #defaultOrigin: string | undefined

  /** @internal Created by the client. */
  constructor(
    options: ResolvedConcurrency,
    origins: OriginMap<OriginState>,
    defaultOrigin: string | undefined,
  ) {
    this.#options = options
    this.#origins = origins
    this.#defaultOrigin = defaultOrigin
  }

  /**
   * `origin`'s limiter now, or `undefined` when the client holds none for it (no call yet, or
   * its state was evicted). With the client's `origin` option set, the origin may be left out.
   */
  get(origin?: string | URL): LimiterSnapshot | undefined {
    const key = originKey(origin, this.#defaultOrigin)
    const state = this.#origins.peek(key)
    const limiter = state?.peekSlot<ConcurrencyLimiter>(this.#options.key)
    return limiter === undefined ? undefined : snapshot(key, limiter)
  }

  /** Every limiter the client holds, least recently used origin first. */
  list(): LimiterSnapshot[] {
    const list: LimiterSnapshot[] = []
    for (const [origin, state] of this.#origins.entries()) {
      const limiter = state.peekSlot<ConcurrencyLimiter>(this.#options.key)
      if (limiter !== undefined) list.push(snapshot(origin, limiter))
    }
    return list
  }
}

function snapshot(origin: string, limiter: ConcurrencyLimiter): LimiterSnapshot {
  return {
    origin,
    limit: limiter.limit,
    inFlight: limiter.inFlight,
    queued: limiter.queued,
    ...limiter.counters,
  }
}
