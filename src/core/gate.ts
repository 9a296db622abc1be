import { InvalidOptionError } from '../errors.ts'
import { optionalFunction, optionsArgument } from './validate.ts'
import type { CallRequest, CallResponse, Handler, Middleware } from './middleware.ts'

/**
 * A layer in its synchronous form: it admits a pass of the call through it on the way in, and
 * learns how the pass ended on the way out, with no promise of its own. Most policies are this
 * shape ("admit, then record"): the breaker takes a permit and releases it with a verdict, the
 * limiter takes a place and gives it back, the throttle draws and records, a timer is set and
 * cleared. A run of gates in a stack costs no promise step of its own, where each
 * {@link Middleware} costs one (see `docs/performance.md`).
 *
 * Give a gate to the stack with {@link gateLayer}: the result is an ordinary middleware (it can be
 * reordered, filtered or called on its own), and the stack runs neighbouring gates together.
 *
 * The hooks run synchronously. `enter` refuses the pass by throwing. `response` and `error` run
 * once per pass that `enter` admitted, innermost gate first, and return nothing, unless the gate
 * takes the outcome over: then they return the promise of the pass's new outcome (a retry runs
 * `below` again), and the gates above it settle with that.
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
   * Returns {@link answer}`(outcome)` to answer the pass itself, without the layers below (a
   * cache, a loop of its own over `below`). A state is never a promise or an answer itself.
   *
   * @param below - the layers below this gate, for a gate that runs them itself.
   */
  enter(request: CallRequest, below: Handler): S | Promise<S> | Answer
  /**
   * The request the layers below see, when it differs from this gate's (a header added, a
   * narrower cancellation). Called once per pass, after `enter`.
   * @defaultValue none: the layers below get the gate's own request
   */
  forward?(state: S, request: CallRequest): CallRequest
  /**
   * The pass produced a response (its headers have arrived; the body may still be coming).
   * Returns nothing, or the promise of another outcome that replaces it (a retry over `below`).
   */
  response(
    state: S,
    request: CallRequest,
    response: CallResponse,
    below: Handler,
  ): void | Promise<CallResponse>
  /**
   * The pass failed with `error`, whether an attempt below failed or a gate below refused it.
   * Returns nothing, or the promise of another outcome that replaces the failure.
   */
  error(
    state: S,
    request: CallRequest,
    error: unknown,
    below: Handler,
  ): void | Promise<CallResponse>
}

/** What {@link answer} returns: a gate's own outcome for a pass. */
export class Answer {
  /** @internal */
  readonly outcome: Promise<CallResponse>

  /** @internal Made by {@link answer}. */
  constructor(outcome: Promise<CallResponse>) {
    this.outcome = outcome
  }
}

/**
 * What a gate's `enter` returns to answer the pass itself: the layers below are not run (unless
 * the gate runs them through `below`), and the gates above settle with `outcome`.
 */
export function answer(outcome: Promise<CallResponse>): Answer {
  if (!(outcome instanceof Promise)) {
    throw new InvalidOptionError('outcome', outcome, 'a promise of the response')
  }
  return new Answer(outcome)
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
  const slots = [new Slot(gate as Gate)]
  const run = (request: CallRequest, next: Handler) => new GateRun(slots, next).pass(request)
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
 * @internal Marks a handler whose caller may hand it its own continuation: `then(request, next)`
 * is `handler(request).then(r => next.ok(request, r), e => next.fail(request, e))`, with the
 * gates at the top of the stack settled in the same step; over a transport that settles them,
 * that step is the transport's own callback.
 */
export const kThen = Symbol('netiquette.then')

/**
 * @internal A caller's continuation of a call, run in the step that settles it. One object with
 * two methods rather than two closures, given the call's request rather than holding it: a
 * caller with nothing of its own to remember about a call (the client, when the call follows no
 * signal) hands every call the same one, and a call in flight holds nothing for it.
 */
export interface Continuation {
  /** The response to `request`, once every gate has heard of it; returns the call's outcome. */
  ok(request: CallRequest, response: CallResponse): CallResponse
  /** The error `request` failed with; throws what the caller is to see. */
  fail(request: CallRequest, error: unknown): never
}

/** @internal The form of a handler's {@link kThen}. */
export type ThenHandler = (request: CallRequest, next: Continuation) => Promise<CallResponse>

/** One handler that runs `gates`, outermost first, around `next`: one promise step for them all. */
export function gatesHandler(gates: readonly Gate[], next: Handler): Handler {
  const settles = (next as Handler & { [kSettlesGates]?: GatedHandler })[kSettlesGates]
  const run = new GateRun(
    gates.map((gate) => new Slot(gate)),
    next,
    settles,
  )
  const handler: Handler = (request) => run.pass(request)
  const then: ThenHandler = (request, next) => run.pass(request, next)
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

/** A run of neighbouring gates over the rest of the stack (`next`), built once per stack. */
class GateRun {
  readonly slots: readonly Slot[]
  readonly #next: Handler
  readonly #settles: GatedHandler | undefined
  // What each gate runs as `below`: the gates after it and `next`, made on first use.
  readonly #below: (Handler | undefined)[]

  constructor(slots: readonly Slot[], next: Handler, settles?: GatedHandler) {
    this.slots = slots
    this.#next = next
    this.#settles = settles
    this.#below = new Array<Handler | undefined>(slots.length)
  }

  /** The layers below gate `i`: a run of the gates after it over `next`, or `next` itself. */
  below(i: number): Handler {
    let below = this.#below[i]
    if (below === undefined) {
      if (i === this.slots.length - 1) {
        below = this.#next
      } else {
        const rest = new GateRun(this.slots.slice(i + 1), this.#next, this.#settles)
        below = (request) => rest.pass(request)
      }
      this.#below[i] = below
    }
    return below
  }

  /**
   * One pass of `request` through the gates and on to `next`: each gate's `enter` in order, then
   * `next`, then each gate's `response` or `error`, innermost first. With `then` (the caller's
   * continuation), it runs in the same step.
   */
  pass(request: CallRequest, then?: Continuation): Promise<CallResponse> {
    return this.resume(new GatePass(this, request, then), request)
  }

  // Long (about 50 lines with its comments): the enter loop, the hand-off below and the one
  // `then` read best in order; the waiting path is #wait.
  resume(pass: GatePass, request: CallRequest): Promise<CallResponse> {
    let current = request
    try {
      const slots = this.slots
      for (let i = pass.admitted; i < slots.length; i++) {
        const state = (slots[i] as Slot).enter(current, this.below(i))
        if (state instanceof Promise) return this.#wait(pass, state, current)
        if (state instanceof Answer) return pass.carry(pass.answered(state.outcome))
        current = pass.admit(state, current)
      }
    } catch (error) {
      return pass.carry(pass.failedWith(error))
    }
    const settles = this.#settles
    if (settles !== undefined) {
      // The handler below settles the gates and runs the caller's continuation too, in the
      // step that settles them: its promise is the call's (one promise a call, no `then`).
      try {
        return settles(current, pass)
      } catch (error) {
        return pass.carry(pass.failedWith(error))
      }
    }
    let pending: Promise<CallResponse>
    try {
      pending = this.#next(current)
    } catch (error) {
      pending = Promise.reject(error as Error)
    }
    return pending.then(
      (response) => {
        const diverted = pass.responded(response)
        if (diverted !== undefined) return pass.carry(diverted)
        return pass.deliver(response)
      },
      (error: unknown) => pass.carry(pass.failedWith(error)),
    )
  }

  /** The pass waits (a queue) for the next gate's state; the gates above are settled if it fails. */
  #wait(pass: GatePass, waiting: Promise<unknown>, request: CallRequest): Promise<CallResponse> {
    return waiting.then(
      (state: unknown) => {
        let forwarded: CallRequest
        try {
          forwarded = pass.admit(state, request)
        } catch (error) {
          // A forward that throws: the gate admitted the pass, so it hears of the failure too.
          return pass.carry(pass.failedWith(error))
        }
        return this.resume(pass, forwarded)
      },
      (error: unknown) => pass.carry(pass.failedWith(error)),
    )
  }
}

/**
 * @internal One pass through a run of gates: the state each admitted gate returned, and the
 * request it saw. Settles each admitted gate exactly once.
 */
export class GatePass {
  readonly #run: GateRun
  readonly #first: CallRequest
  readonly #states: unknown[]
  // The request each gate saw, kept only once a gate has changed it for those below.
  #requests: CallRequest[] | undefined
  #admitted = 0
  #settled = false
  // The caller's continuation, if any, run in the step that settles the pass: by the run, or by
  // the handler below that settles it.
  readonly #then: Continuation | undefined

  constructor(run: GateRun, request: CallRequest, then: Continuation | undefined) {
    this.#run = run
    this.#first = request
    this.#then = then
    this.#states = new Array<unknown>(run.slots.length)
  }

  /**
   * The call's outcome from the pass's response, once every gate has heard of it: the caller's
   * continuation run on it, now (it may throw: the call then fails with what it threw).
   */
  deliver(response: CallResponse): CallResponse {
    const then = this.#then
    return then === undefined ? response : then.ok(this.#first, response)
  }

  /** The call's outcome from a promise of the pass's: the caller's continuation chained on. */
  carry(outcome: Promise<CallResponse>): Promise<CallResponse> {
    const then = this.#then
    if (then === undefined) return outcome
    const request = this.#first
    return outcome.then(
      (response) => then.ok(request, response),
      (error: unknown) => then.fail(request, error),
    )
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
    const forward = (this.#run.slots[i] as Slot).forward
    return forward === undefined ? request : forward(state, request)
  }

  /**
   * The pass produced `response`: every admitted gate hears of it, innermost first. Returns the
   * promise of the pass's outcome when a gate took it over (it then settles the gates above with
   * that outcome), or nothing: the outcome is `response`.
   */
  responded(response: CallResponse): Promise<CallResponse> | undefined {
    if (this.#settled) return undefined
    this.#settled = true
    return this.#respondFrom(this.#admitted - 1, response)
  }

  /**
   * The pass failed with `error`: every admitted gate hears of it, innermost first. Returns the
   * promise of the outcome when a gate took it over, or nothing: the pass fails with `error`.
   */
  failed(error: unknown): Promise<CallResponse> | undefined {
    if (this.#settled) return undefined
    this.#settled = true
    return this.#failFrom(this.#admitted - 1, error)
  }

  /** {@link failed}, as the promise of the pass's outcome. */
  failedWith(error: unknown): Promise<CallResponse> {
    let diverted: Promise<CallResponse> | undefined
    try {
      diverted = this.failed(error)
    } catch (thrown) {
      return Promise.reject(thrown as Error)
    }
    return diverted ?? Promise.reject(error as Error)
  }

  /** A gate that had not admitted the pass answered it: the gates above settle with `outcome`. */
  answered(outcome: Promise<CallResponse>): Promise<CallResponse> {
    this.#settled = true
    return this.#after(this.#admitted - 1, outcome)
  }

  #respondFrom(from: number, response: CallResponse): Promise<CallResponse> | undefined {
    const slots = this.#run.slots
    for (let j = from; j >= 0; j--) {
      const diverted = (slots[j] as Slot).response(
        this.#states[j],
        this.#requestOf(j),
        response,
        this.#run.below(j),
      )
      if (diverted !== undefined) return this.#after(j - 1, diverted)
    }
    return undefined
  }

  #failFrom(from: number, error: unknown): Promise<CallResponse> | undefined {
    const slots = this.#run.slots
    for (let j = from; j >= 0; j--) {
      const diverted = (slots[j] as Slot).error(
        this.#states[j],
        this.#requestOf(j),
        error,
        this.#run.below(j),
      )
      if (diverted !== undefined) return this.#after(j - 1, diverted)
    }
    return undefined
  }

  /** A gate took the outcome over: the gates from `from` up settle with it once it is known. */
  #after(from: number, outcome: Promise<CallResponse>): Promise<CallResponse> {
    if (from < 0) return outcome
    return outcome.then(
      (response) => this.#respondFrom(from, response) ?? response,
      (error: unknown) => this.#failFrom(from, error) ?? Promise.reject(error as Error),
    )
  }

  #requestOf(j: number): CallRequest {
    return this.#requests?.[j] ?? this.#first
  }
}
