import type { Clock } from '../core/clock.ts'
import type { OriginMap } from '../core/origin-map.ts'
import type { OriginState } from '../core/origin-state.ts'
import { originKey } from '../core/target.ts'
import { InvalidOptionError } from '../errors.ts'
import { CIRCUIT_REJECTED, toWall, type Breaker } from './breaker-layer.ts'
import type { Circuit, CircuitState } from './circuit.ts'

/** One origin's circuit at one moment. */
export interface CircuitSnapshot {
  origin: string
  state: CircuitState
  /** Why the circuit is not closed, e.g. `11 of 20 calls failed in the last 10 s`. */
  reason: string | undefined
  /** With `open`: epoch ms at which the open period ends. */
  retryAt: number | undefined
  /** Calls counted in the rolling window (while closed). */
  calls: number
  /** Failures among `calls`. */
  failures: number
  /** Failures in a row (while closed). */
  consecutiveFailures: number
  /** Probes in flight (while half-open). */
  probesInFlight: number
  /** Openings in a row; the next open period grows with it. */
  trips: number
  /** Attempts the circuit has rejected since the origin's state was created. */
  rejected: number
}

/**
 * The client's circuits, one per origin: read them for stats, isolate an origin by hand (every
 * call to it fails at once with `CircuitOpenError` until it is reset), or reset one. Reached as
 * `client.circuits`; `undefined` when the client's `breaker` option is `false`.
 *
 * Every method takes an origin (`https://host[:port]`, or a URL whose origin is meant); a client
 * with an `origin` option uses it when none is given.
 *
 * @example
 * ```ts
 * client.circuits?.isolate('https://search.internal', 'failing over to the replica')
 * // ... later
 * client.circuits?.reset('https://search.internal')
 * ```
 */
export class Circuits {
  readonly #breaker: Breaker
  readonly #origins: OriginMap<OriginState>
  readonly #clock: Clock
  readonly #defaultOrigin: string | undefined
  readonly #maxIsolated: number

  /** @internal Created by the client. */
  constructor(
    breaker: Breaker,
    origins: OriginMap<OriginState>,
    clock: Clock,
    defaultOrigin: string | undefined,
    maxIsolated: number,
  ) {
    this.#breaker = breaker
    this.#origins = origins
    this.#clock = clock
    this.#defaultOrigin = defaultOrigin
    this.#maxIsolated = maxIsolated
  }

  /** `origin`'s circuit now (a closed, empty one when the client holds no state for it). */
  get(origin?: string | URL): CircuitSnapshot {
    const key = originKey(origin, this.#defaultOrigin)
    const state = this.#origins.peek(key)
    const circuit = state === undefined ? undefined : this.#breaker.peekCircuit(state)
    if (state === undefined || circuit === undefined) {
      const isolated = this.#breaker.isolated.get(key)
      return {
        origin: key,
        state: isolated === undefined ? 'closed' : 'isolated',
        reason: isolated,
        retryAt: undefined,
        calls: 0,
        failures: 0,
        consecutiveFailures: 0,
        probesInFlight: 0,
        trips: 0,
        rejected: state?.tally(CIRCUIT_REJECTED) ?? 0,
      }
    }
    return this.#snapshot(state, circuit)
  }

  /** Every circuit the client holds, least recently used origin first. */
  list(): CircuitSnapshot[] {
    const list: CircuitSnapshot[] = []
    for (const [, state] of this.#origins.entries()) {
      const circuit = this.#breaker.peekCircuit(state)
      if (circuit !== undefined) list.push(this.#snapshot(state, circuit))
    }
    return list
  }

  /**
   * Opens `origin`'s circuit until {@link Circuits.reset}: calls fail at once with
   * `CircuitOpenError` (state `isolated`) and nothing is sent. The isolation is kept even when
   * the origin's state is evicted. At most `maxOrigins` origins can be isolated at once.
   */
  isolate(origin?: string | URL, reason = 'isolated by hand'): void {
    const key = originKey(origin, this.#defaultOrigin)
    if (typeof reason !== 'string') {
      throw new InvalidOptionError('reason', reason, 'a string')
    }
    const isolated = this.#breaker.isolated
    if (!isolated.has(key) && isolated.size >= this.#maxIsolated) {
      throw new InvalidOptionError(
        'origin',
        key,
        `one of the ${isolated.size} origins already isolated (at most maxOrigins, ${this.#maxIsolated}, at once); reset one first`,
      )
    }
    // The circuit first, then the record: a circuit created from the record would start
    // isolated without reporting the change.
    const circuit = this.#breaker.circuitFor(this.#origins.get(key), this.#clock)
    this.#breaker.setIsolated(key, reason)
    circuit.isolate(this.#clock.now(), reason)
  }

  /**
   * Closes `origin`'s circuit and forgets its history, whatever its state: ends an isolation, or
   * lets traffic back at once after an outage you know is over.
   */
  reset(origin?: string | URL): void {
    const key = originKey(origin, this.#defaultOrigin)
    this.#breaker.setIsolated(key, undefined)
    const state = this.#origins.peek(key)
    if (state === undefined) return
    this.#breaker.peekCircuit(state)?.reset(this.#clock.now(), 'reset by hand')
  }

  #snapshot(state: OriginState, circuit: Circuit): CircuitSnapshot {
    const clock = this.#clock
    const now = clock.now()
    const counts = circuit.counts(now)
    return {
      origin: state.origin,
      state: counts.state,
      reason: counts.reason,
      retryAt: toWall(clock, counts.openUntil),
      calls: counts.calls,
      failures: counts.failures,
      consecutiveFailures: counts.consecutiveFailures,
      probesInFlight: counts.probes,
      trips: counts.trips,
      rejected: state.tally(CIRCUIT_REJECTED),
    }
  }
}
