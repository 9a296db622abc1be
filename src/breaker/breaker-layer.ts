import { isHedge } from '../retry/hedge-attempt.ts'
import { failedAttempt, headersAt } from '../core/attempt.ts'
import type { Clock } from '../core/clock.ts'
import { channels, emit, reportShed, type ShedHook } from '../core/events.ts'
import { gateLayer } from '../core/gate.ts'
import type { CallRequest, Middleware } from '../core/middleware.ts'
import type { OriginState } from '../core/origin-state.ts'
import {
  classifyError,
  classifyStatus,
  connectionLost,
  isNack,
  neverLeftClient,
} from '../core/outcome.ts'
import type { Random } from '../core/random.ts'
import { optionalFunction, optionsArgument, randomOption } from '../core/validate.ts'
import {
  CircuitOpenError,
  HedgeDeclinedError,
  InvalidOptionError,
  type CircuitRejectingState,
} from '../errors.ts'
import { serverRetryHint } from '../core/retry-after.ts'
import {
  resolveBreakerOptions,
  type BreakerOptions,
  type ResolvedBreakerOptions,
} from './breaker-options.ts'
import {
  Circuit,
  REJECTED,
  formatMs,
  type CircuitState,
  type CircuitTransition,
  type CircuitVerdict,
} from './circuit.ts'

/** The event `onCircuitStateChange` receives. */
export interface CircuitStateChange {
  /** The origin whose circuit changed, e.g. `https://payments.internal`. */
  origin: string
  from: CircuitState
  to: CircuitState
  /** Why, e.g. `11 of 20 calls failed in the last 10 s` or `1 half-open probe succeeded`. */
  reason: string
  /** With `to: 'open'`: epoch ms at which the open period ends. */
  retryAt: number | undefined
}

/** Observer of circuit state changes: synchronous; if it throws, the call goes on. */
export type CircuitStateChangeHook = (event: CircuitStateChange) => void

/** Settings of {@link breakerLayer}: the breaker's, plus its random source and observer. */
export interface BreakerLayerOptions extends BreakerOptions {
  /**
   * Uniform numbers in [0, 1) for the jitter of open periods; tests pass `seededRandom(seed)`.
   * @defaultValue `Math.random`
   */
  random?: Random
  /** Called on every change of a circuit's state. @defaultValue none */
  onStateChange?: CircuitStateChangeHook
  /** Called whenever a circuit that is not closed rejects an attempt. @defaultValue none */
  onShed?: ShedHook
}

/**
 * The circuit breaker as a middleware, for a custom stack (the client puts one in its default
 * stack from its `breaker` option). Place it below the retry layer, so that it sees every
 * attempt, and above anything that queues, so that an open circuit costs no queue slot.
 */
export function breakerLayer(options: BreakerLayerOptions = {}): Middleware {
  optionsArgument('options', options)
  const { random, onStateChange, onShed, ...breaker } = options as BreakerLayerOptions
  const probes = randomOption(random)
  optionalFunction('onStateChange', onStateChange)
  optionalFunction('onShed', onShed)
  const resolved = resolveBreakerOptions('', breaker) as ResolvedBreakerOptions
  return new Breaker(resolved, probes, onStateChange, onShed).middleware
}

/**
 * One circuit per origin, each in its origin's state (so the client's bounded origin map bounds
 * them), and the middleware that consults them. Origins isolated by hand are remembered here, so
 * that an isolation outlives the eviction of its origin's state.
 */
export class Breaker {
  readonly options: ResolvedBreakerOptions
  readonly middleware: Middleware
  readonly #random: Random
  readonly #onStateChange: CircuitStateChangeHook | undefined
  readonly #onShed: ShedHook | undefined
  readonly #key = Symbol('circuit')
  readonly #isolated = new Map<string, string>()

  constructor(
    options: ResolvedBreakerOptions,
    random: Random,
    onStateChange?: CircuitStateChangeHook,
    onShed?: ShedHook,
  ) {
    // Built by the client from validated options; checked here for a custom stack that builds one.
    if (typeof options !== 'object' || options === null) {
      throw new InvalidOptionError('options', options, 'breaker options resolved by the client')
    }
    if (typeof random !== 'function') {
      throw new InvalidOptionError('random', random, 'a function returning numbers in [0, 1)')
    }
    this.options = options
    this.#random = random
    this.#onStateChange = onStateChange
    this.#onShed = onShed
    this.middleware = this.#createMiddleware()
  }

  /** The circuit of `state`'s origin, created on first use. */
  circuitFor(state: OriginState, clock: Clock): Circuit {
    return state.slot(this.#key, () => this.#create(state.origin, clock))
  }

  /** The circuit of `state`'s origin if it has one, without creating it. */
  peekCircuit(state: OriginState): Circuit | undefined {
    return state.peekSlot<Circuit>(this.#key)
  }

  /** Origins isolated by hand, with the reason given. */
  get isolated(): ReadonlyMap<string, string> {
    return this.#isolated
  }

  /** Marks `origin` isolated (or not, with `undefined`), for circuits created from now on. */
  setIsolated(origin: string, reason: string | undefined): void {
    if (reason === undefined) this.#isolated.delete(origin)
    else this.#isolated.set(origin, reason)
  }

  #create(origin: string, clock: Clock): Circuit {
    const hook = this.#onStateChange
    // Always a reporter: a channel subscriber may come after the circuit was created.
    const report = (change: CircuitTransition) =>
      emit(channels.circuitState, hook, 'onCircuitStateChange', () => ({
        origin,
        from: change.from,
        to: change.to,
        reason: change.reason,
        retryAt: toWall(clock, change.openUntil),
      }))
    return new Circuit(this.options, this.#random, report, this.#isolated.get(origin))
  }

  /** The circuit a pass took its permit from (see {@link BreakerPass}). */
  #circuitOf(pass: BreakerPass | number, request: CallRequest): Circuit | undefined {
    return typeof pass === 'number' ? this.peekCircuit(request.originState) : pass.circuit
  }

  #createMiddleware(): Middleware {
    const { serverDirected, maxOpenDuration } = this.options
    return gateLayer<BreakerPass | number>({
      name: 'breaker',
      enter: (request) => {
        const { clock, originState } = request
        const circuit = this.circuitFor(originState, clock)
        let permit = circuit.closedPermit()
        if (permit === REJECTED && isHedge(request)) {
          // A hedge is an optimisation: it never takes a probe's place or knocks on an open circuit.
          throw new HedgeDeclinedError(
            `the circuit of ${request.origin} is ${circuit.state(clock.now())}`,
          )
        }
        if (permit === REJECTED) permit = circuit.acquire(clock.now())
        if (permit === REJECTED) {
          originState.bump(CIRCUIT_REJECTED)
          const error = openError(circuit, request)
          reportShed(request, 'circuit-open', error, this.#onShed)
          throw error
        }
        // A permit must come back on every path, or a half-open circuit would wait forever: the
        // stack calls exactly one of the hooks below for every pass it admitted.
        const before = request.attempts.length
        // A call's first attempt (most passes in flight) remembers its permit alone: the circuit
        // is found again in the origin's state (48 B less a call in flight).
        if (before === 0) return permit
        return { circuit, permit, before }
      },
      response: (pass, request, response) => {
        const circuit = this.#circuitOf(pass, request)
        // The origin's state was evicted while the attempt ran: its circuit is gone with it.
        if (circuit === undefined) return
        const permit = typeof pass === 'number' ? pass : pass.permit
        const status = response.statusCode
        const { clock } = request
        const wait =
          serverDirected && (status === 503 || status === 429)
            ? serverRetryHint(status, response.headers, clock.wallNow(), maxOpenDuration)?.delay
            : undefined
        const verdict = isNack(status)
          ? 'nack'
          : classifyStatus(status) === 'success'
            ? 'success'
            : 'failure'
        circuit.release(
          headersAt(request, response.attempt),
          permit,
          verdict,
          wait,
          request.attempts,
        )
      },
      error: (pass, request, error) => {
        const circuit = this.#circuitOf(pass, request)
        if (circuit === undefined) return
        const permit = typeof pass === 'number' ? pass : pass.permit
        const before = typeof pass === 'number' ? 0 : pass.before
        const attempt = failedAttempt(error, request.attempts, before)
        circuit.release(
          request.clock.now(),
          permit,
          verdictOf(error, request, attempt),
          undefined,
          request.attempts,
        )
      },
    })
  }
}

/**
 * What the breaker remembers about one attempt it let through: this, or only the permit for a
 * call's first attempt (`before` is 0, the circuit is its origin's).
 */
interface BreakerPass {
  readonly circuit: Circuit
  readonly permit: number
  /** The call's attempt records before this attempt. */
  readonly before: number
}

/** How an attempt's error counts for the circuit: through the shared classification. */
function verdictOf(
  error: unknown,
  request: CallRequest,
  attempt?: { sent?: boolean | undefined },
): CircuitVerdict {
  const kind = classifyError(error, request.callerSignal?.aborted === true)
  if (kind === 'cancelled' || kind === 'local') return kind
  return neverLeftClient(error, attempt) || connectionLost(error) ? 'unsent' : 'failure'
}

function openError(circuit: Circuit, request: CallRequest): CircuitOpenError {
  const { clock, origin } = request
  const counts = circuit.counts(clock.now())
  // acquire() has just rejected the attempt, so the circuit is not closed.
  const state = counts.state as CircuitRejectingState
  const retryAt = toWall(clock, counts.openUntil)
  let message: string
  if (state === 'open') {
    const wait = formatMs((counts.openUntil ?? 0) - clock.now())
    message = `is open (${counts.reason}); the next call goes through in ${wait}`
  } else if (state === 'half-open') {
    const probes = counts.probes === 1 ? 'its probe is' : `its ${counts.probes} probes are`
    message = `is half-open and ${probes} in flight; no other call goes through until they end`
  } else {
    message = `is isolated (${counts.reason}); nothing goes through until it is reset`
  }
  return new CircuitOpenError(`the circuit for ${origin} ${message}; nothing was sent`, {
    origin,
    state,
    retryAt,
  })
}

/** A reading of the monotonic clock as epoch ms. */
export function toWall(clock: Clock, monotonic: number | undefined): number | undefined {
  return monotonic === undefined ? undefined : Math.round(clock.wallNow() + monotonic - clock.now())
}

/** The origin's tally of attempts a circuit rejected (`stats().shed.circuitOpen`). */
export const CIRCUIT_REJECTED: unique symbol = Symbol('circuit rejections')
