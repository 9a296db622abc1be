/** Counters the policies keep per origin, since the origin's state was created. */
export interface OriginCounters {
  /** Retries the retry budget allowed. */
  retriesAllowed: number
  /** Retries the retry policy wanted and the budget refused. */
  retriesRefused: number
  /** Calls adaptive throttling rejected locally. */
  throttled: number
  /** Attempts the circuit breaker rejected because the origin's circuit was not closed. */
  circuitRejected: number
}

/** Something held per origin that must release resources (timers) when the origin is evicted. */
export interface Disposable {
  dispose(): void
}

/**
 * The state policies keep for one origin (a circuit, a limiter, a budget), each in its own slot.
 * Held in the client's bounded {@link OriginMap}; when the origin is evicted every slot that has a
 * `dispose` method is disposed.
 */
export class OriginState {
  readonly origin: string
  /** What the policies did for this origin, for stats and telemetry. */
  readonly counters: OriginCounters = {
    retriesAllowed: 0,
    retriesRefused: 0,
    throttled: 0,
    circuitRejected: 0,
  }
  readonly #slots = new Map<symbol, unknown>()

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
