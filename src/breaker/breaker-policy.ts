import type { ShedHook } from '../core/events.ts'
import type { Policy } from '../core/policy.ts'
import { optionalFunction } from '../core/validate.ts'
import { Breaker, CIRCUIT_REJECTED, type CircuitStateChangeHook } from './breaker-layer.ts'
import { resolveBreakerOptions, type ResolvedBreakerOptions } from './breaker-options.ts'
import type { CircuitState } from './circuit.ts'
import { Circuits } from './circuits.ts'

interface BreakerOriginStats {
  circuit: CircuitState | undefined
  shed: { circuitOpen: number }
}

/**
 * A circuit breaker per origin (`breaker`, `onCircuitStateChange`): on by default. Its handle is
 * `client.circuits`.
 */
export const breakerPolicy: Policy<ResolvedBreakerOptions, BreakerOriginStats> = {
  name: 'breaker',
  options: ['breaker', 'onCircuitStateChange'],
  resolve({ options }) {
    optionalFunction('onCircuitStateChange', options.onCircuitStateChange)
    return resolveBreakerOptions('breaker', options.breaker)
  },
  create(settings, context) {
    const { options } = context
    const breaker = new Breaker(
      settings,
      context.random,
      options.onCircuitStateChange as CircuitStateChangeHook | undefined,
      options.onShed as ShedHook | undefined,
    )
    const circuits = new Circuits(
      breaker,
      context.origins,
      context.clock,
      context.defaultOrigin,
      context.maxOrigins,
    )
    return {
      layer: breaker.middleware,
      handle: circuits,
      originStats(entry, state) {
        entry.circuit = circuits.get(state.origin).state
        entry.shed.circuitOpen = state.tally(CIRCUIT_REJECTED)
      },
    }
  },
}
