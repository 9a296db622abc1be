import { InvalidOptionError } from '../errors.ts'
import { optionalFunction, optionsArgument } from './validate.ts'
import type { CallRequest, CallResponse, Handler, Middleware } from './middleware.ts'

/**
 * A layer in its synchronous form: it admits a pass of the call through it on the way in, and
 * learns how the pass ended on the way out, with no promise of its own. Most policies are this
 * shape ("admit, then record"): the breaker takes a permit and releases it with a verdict, the
 * limiter takes a place and gives it back, the throttle draws and records, a timer is set and
 * cleared. A run of gates in a stack costs one promise step between them all, where a run of
 * {@link Middleware} costs one per layer (see `docs/performance.md`).
 *
 * Give a gate to the stack with {@link gateLayer}: the result is an ordinary middleware (it can be
 * reordered, filtered or called on its own), and the stack runs neighbouring gates together.
 *
 * The hooks run synchronously and must not throw, except `enter`, which refuses the pass by
 * throwing. `response` and `error` run once per pass that `enter` admitted, innermost gate first.
 *
 * @typeParam S - what the gate remembers about one pass (a permit, a start time, a timer).
 * @example
 * ```ts
 * // Counts the calls in flight, at the cost of two function calls.
 * let inFlight = 0
 * const counting = gateLayer<undefined>({
 *   name: 'counting',
 *   enter() {
 *     inFlight++
 *     return undefined
 *   },
 *   response(_state, _request, response) {
 *     whenDone(response, () => inFlight--)
 *   },
 *   error() {
 *     inFlight--
 *   },
 * })
 * ```
 */
export interface Gate<S = unknown> {
  /** The name of its middleware, as the default stack's are named (`breaker`, `concurrency`). */
  readonly name: string
  /**
   * Admits a pass of `request`: returns what the other hooks get back as `state`, or a promise of
   * it when the pass must wait first (a queue, a pause). Throws, or rejects, to refuse the pass.
   * A state is never a promise itself.
   */
  enter(request: CallRequest): S | Promise<S>
  /**
   * The request the layers below see, when it differs from this gate's (a header added, a
   * narrower cancellation). Called once per pass, after `enter`.
   * @defaultValue none: the layers below get the gate's own request
   */
  forward?(state: S, request: CallRequest): CallRequest
  /** The pass produced a response (its headers have arrived; the body may still be coming). */
  response(state: S, request: CallRequest, response: CallResponse): void
  /** The pass failed with `error`, whether an attempt below failed or a gate below refused it. */
  error(state: S, request: CallRequest, error: unknown): void
}

const kGate = Symbol('netiquette.gate')

/** A middleware made by {@link gateLayer}, which carries its gate. */
type GateMiddleware = Middleware & { readonly [kGate]: Gate }

/**
 * A middleware from a gate. Called on its own it runs the gate around `next`; in a stack it runs
 * with its neighbouring gates in one step (see {@link Gate}).
 */
export function gateLayer<S>(gate: Gate<S>): Middleware {
  optionsArgument('gate', gate)
  if (typeof gate.name !== 'string' || gate.name === '') {
    throw new InvalidOptionError('gate.name', gate.name, 'a non-empty string')
  }
  for (const hook of ['enter', 'response', 'error'] as const) {
    if (typeof gate[hook] !== 'function') {
      throw new InvalidOptionError(`gate.${hook}`, gate[hook], 'a function')
    }
  }
  optionalFunction('gate.forward', gate.forward)
  const single = new GateRun([gate as Gate])
  const run = (request: CallRequest, next: Handler) => single.pass(request, next)
  Object.defineProperty(run, 'name', { value: gate.name })
  Object.defineProperty(run, kGate, { value: gate })
  return run
}

/** The gate a middleware carries, if {@link gateLayer} made it. */
export function gateOf(layer: Middleware): Gate | undefined {
  return (layer as Partial<GateMiddleware>)[kGate]
}

/**
 * @internal Marks a handler that settles the gates above it itself, from its own callbacks, just
 * before it resolves or rejects (the transport, from undici's): the run then costs no promise step
 * of its own.
 */
export const kSettlesGates = Symbol('netiquette.settlesGates')

/** @internal The form of a handler marked with {@link kSettlesGates}. */
export type GatedHandler = (request: CallRequest, pass: GatePass) => Promise<CallResponse>

/**
 * @internal Marks a handler whose caller may hand it its own continuations: `then(request, ok,
 * fail)` is `handler(request).then(ok, fail)`, with the gates at the top of the stack settled in
 * the same step (the client's own `then`).
 */
export const kThen = Symbol('netiquette.then')

/** @internal The form of a handler's {@link kThen}. */
export type ThenHandler = (
  request: CallRequest,
  ok: (response: CallResponse) => CallResponse,
  fail: (error: unknown) => never,
) => Promise<CallResponse>

/** One handler that runs `gates`, outermost first, around `next`: one promise step for them all. */
export function gatesHandler(gates: readonly Gate[], next: Handler): Handler {
  const run = new GateRun(gates)
  const settles = (next as Handler & { [kSettlesGates]?: GatedHandler })[kSettlesGates]
  const handler: Handler = (request) => run.pass(request, next, settles)
  const then: ThenHandler = (request, ok, fail) => run.pass(request, next, settles, ok, fail)
  Object.defineProperty(handler, kThen, { value: then })
  return handler
}

/**
 * A gate's hooks in an object of one shape for every gate, so that the calls of a run of them read
 * their hooks through a monomorphic property access.
 */
class Slot {
  readonly enter: Gate['enter']
  readonly forward: NonNullable<Gate['forward']> | undefined
  readonly response: Gate['response']
  readonly error: Gate['error']

  constructor(gate: Gate) {
    this.enter = gate.enter.bind(gate)
    this.forward = gate.forward?.bind(gate)
    this.response = gate.response.bind(gate)
    this.error = gate.error.bind(gate)
  }
}

/** A run of neighbouring gates, built once per stack. */
class GateRun {
  readonly slots: readonly Slot[]

  constructor(gates: readonly Gate[]) {
    this.slots = gates.map((gate) => new Slot(gate))
  }

  /**
   * One pass of `request` through the gates and on to `next`: each gate's `enter` in order, then
   * `next`, then each gate's `response` or `error`, innermost first. With `settles`, `next`
   * settles the gates itself; otherwise one `then` does.
   */
  pass(
    request: CallRequest,
    next: Handler,
    settles?: GatedHandler,
    ok?: (response: CallResponse) => CallResponse,
    fail?: (error: unknown) => never,
  ): Promise<CallResponse> {
    return this.resume(new GatePass(this.slots, request), request, next, settles, ok, fail)
  }

  /** Enters the gates from the pass's next one on, then sends the request on. */
  // Long (about 45 lines with its comments): the enter loop, the hand-off below and the one
  // `then` read best in order; the waiting path is #wait.
  resume(
    pass: GatePass,
    request: CallRequest,
    next: Handler,
    settles: GatedHandler | undefined,
    ok?: (response: CallResponse) => CallResponse,
    fail?: (error: unknown) => never,
  ): Promise<CallResponse> {
    let current = request
    try {
      const slots = this.slots
      for (let i = pass.admitted; i < slots.length; i++) {
        const slot = slots[i] as Slot
        const state = slot.enter(current)
        if (state instanceof Promise) {
          return this.#wait(pass, state, current, next, settles, ok, fail)
        }
        current = pass.admit(state, current)
      }
    } catch (error) {
      pass.failed(error)
      const refused = Promise.reject(error as Error)
      return fail === undefined ? refused : refused.then(ok, fail)
    }
    if (settles !== undefined) {
      // The handler below settles the gates: only the caller's continuations are left.
      let settled: Promise<CallResponse>
      try {
        settled = settles(current, pass)
      } catch (error) {
        pass.failed(error)
        settled = Promise.reject(error as Error)
      }
      return ok === undefined ? settled : settled.then(ok, fail)
    }
    let pending: Promise<CallResponse>
    try {
      pending = next(current)
    } catch (error) {
      pending = Promise.reject(error as Error)
    }
    return pending.then(
      (response) => {
        pass.responded(response)
        return ok === undefined ? response : ok(response)
      },
      (error: unknown) => {
        pass.failed(error)
        if (fail !== undefined) return fail(error)
        throw error
      },
    )
  }

  /** The pass waits (a queue) for the next gate's state; the gates above are settled if it fails. */
  #wait(
    pass: GatePass,
    waiting: Promise<unknown>,
    request: CallRequest,
    next: Handler,
    settles: GatedHandler | undefined,
    ok?: (response: CallResponse) => CallResponse,
    fail?: (error: unknown) => never,
  ): Promise<CallResponse> {
    return waiting.then(
      (state: unknown) => this.resume(pass, pass.admit(state, request), next, settles, ok, fail),
      (error: unknown) => {
        pass.failed(error)
        if (fail !== undefined) return fail(error)
        throw error
      },
    )
  }
}

/**
 * @internal One pass through a run of gates: the state each admitted gate returned, and the
 * request it saw. Settles each admitted gate exactly once.
 */
export class GatePass {
  readonly #slots: readonly Slot[]
  readonly #first: CallRequest
  readonly #states: unknown[]
  // The request each gate saw, kept only once a gate has changed it for those below.
  #requests: CallRequest[] | undefined
  #admitted = 0
  #settled = false

  constructor(slots: readonly Slot[], request: CallRequest) {
    this.#slots = slots
    this.#first = request
    this.#states = new Array<unknown>(slots.length)
  }

  /** How many gates have admitted the pass. */
  get admitted(): number {
    return this.#admitted
  }

  /** The next gate admitted `request` with `state`; returns the request for the layers below. */
  admit(state: unknown, request: CallRequest): CallRequest {
    const i = this.#admitted++
    this.#states[i] = state
    if (request !== this.#first) (this.#requests ??= [])[i] = request
    const forward = (this.#slots[i] as Slot).forward
    return forward === undefined ? request : forward(state, request)
  }

  /** The pass produced `response`: every admitted gate hears of it, innermost first. */
  responded(response: CallResponse): void {
    if (this.#settled) return
    this.#settled = true
    const slots = this.#slots
    for (let j = this.#admitted - 1; j >= 0; j--) {
      ;(slots[j] as Slot).response(this.#states[j], this.#requestOf(j), response)
    }
  }

  /** The pass failed with `error`: every admitted gate hears of it, innermost first. */
  failed(error: unknown): void {
    if (this.#settled) return
    this.#settled = true
    const slots = this.#slots
    for (let j = this.#admitted - 1; j >= 0; j--) {
      ;(slots[j] as Slot).error(this.#states[j], this.#requestOf(j), error)
    }
  }

  #requestOf(j: number): CallRequest {
    return this.#requests?.[j] ?? this.#first
  }
}
