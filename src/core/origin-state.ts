import { LatencyWindow } from './latency-window.ts'

/** Counters the policies keep per origin, since the origin's state was created. */
export interface OriginCounters {
  /** Calls started. */
  calls: number
  /** Attempts dispatched to undici (a call rejected locally makes none). */
  attempts: number
}

/** Something held per origin that must release resources (timers) when the origin is evicted. */
export interface Disposable {
  dispose(): void
}

/**
 * The state policies keep for one origin (a circuit, a limiter, a budget), each in its own slot.
 * Held in the client's bounded `OriginMap`; when the origin is evicted every slot that has a
 * `dispose` method is disposed.
 */
export class OriginState {
  readonly origin: string
  /** What the policies did for this origin, for stats and telemetry. */
  readonly counters: OriginCounters = {
    calls: 0,
    attempts: 0,
  }
  /** Calls started and not yet settled (a returned response settles once its body is in). */
  inFlight = 0
  readonly #slots = new Map<symbol, unknown>()
  #tallies: Map<symbol, number> | undefined
  #latency: LatencyWindow | undefined
  // Calls started in the current 10 s bucket and the one before: a policy created late (a
  // request's own hedge) starts from the origin's recent traffic rather than from nothing.
  #bucketStart = -Infinity
  #bucketCalls = 0
  #previousCalls = 0

  constructor(origin: string) {
    this.origin = origin
  }

  /**
   * The value in `key`'s slot, created by `create` on first use.
   *
   * @example
   * ```ts
   * const CIRCUIT = Symbol('circuit')
   * const circuit = request.originState.slot(CIRCUIT, () => new Circuit(options))
   * ```
   */
  slot<T>(key: symbol, create: () => T): T {
    let value = this.#slots.get(key) as T | undefined
    if (value === undefined) {
      value = create()
      this.#slots.set(key, value)
    }
    return value
  }

  /** A call started at `now`: counts it in `counters.calls` and in the recent count. */
  noteCall(now: number): void {
    this.counters.calls++
    if (now - this.#bucketStart >= RECENT_BUCKET) this.#roll(now)
    this.#bucketCalls++
  }

  /**
   * About how many calls started in the last 10 s before `now`: the current bucket, and the
   * part of the previous one that still falls in the last 10 s.
   */
  recentCalls(now: number): number {
    if (now - this.#bucketStart >= RECENT_BUCKET) this.#roll(now)
    const overlap = 1 - (now - this.#bucketStart) / RECENT_BUCKET
    return this.#bucketCalls + Math.floor(this.#previousCalls * overlap)
  }

  #roll(now: number): void {
    const fresh = now - this.#bucketStart >= 2 * RECENT_BUCKET
    this.#previousCalls = fresh ? 0 : this.#bucketCalls
    this.#bucketCalls = 0
    this.#bucketStart = fresh ? now : this.#bucketStart + RECENT_BUCKET
  }

  /** Records a call's latency (until its response or its error), in ms, at time `now`. */
  recordLatency(now: number, ms: number): void {
    // 60 s in 6 slices: recent enough to show a spike, long enough to hold a quiet origin's p99.
    this.#latency ??= new LatencyWindow(60_000, 6)
    this.#latency.record(now, ms)
  }

  /** Calls in the latency window ending at `now`, and their p50 and p99 in ms. */
  latency(now: number): { count: number; p50: number | undefined; p99: number | undefined } {
    if (this.#latency === undefined) return { count: 0, p50: undefined, p99: undefined }
    const { count, values } = this.#latency.quantiles(now, P50_P99)
    return { count, p50: values[0], p99: values[1] }
  }

  /**
   * Adds one to the tally under `key`: what a policy counts per origin for its stats (retries
   * refused, attempts shed), under a key the policy owns.
   */
  bump(key: symbol): void {
    this.#tallies ??= new Map()
    this.#tallies.set(key, (this.#tallies.get(key) ?? 0) + 1)
  }

  /** The tally under `key`: 0 until something bumps it. */
  tally(key: symbol): number {
    return this.#tallies?.get(key) ?? 0
  }

  /** The value in `key`'s slot, or `undefined` when nothing has created it. */
  peekSlot<T>(key: symbol): T | undefined {
    return this.#slots.get(key) as T | undefined
  }

  /** Disposes every slot that can be disposed, then forgets them all. */
  dispose(): void {
    for (const value of this.#slots.values()) {
      if (typeof (value as Partial<Disposable> | null)?.dispose === 'function') {
        ;(value as Disposable).dispose()
      }
    }
    this.#slots.clear()
  }
}

const P50_P99 = [0.5, 0.99] as const
/** The bucket of `OriginState.recentCalls`, in ms: the share windows' 10 s. */
const RECENT_BUCKET = 10_000
