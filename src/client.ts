import type { Dispatcher } from 'undici'
import { headersAt } from './core/attempt.ts'
import { systemClock, type Clock } from './core/clock.ts'
import { channels } from './core/events.ts'
import { mergeHeaders, normalizeHeaders, type HeaderRecord } from './core/headers.ts'
import { normalizeMethod } from './core/method.ts'
import {
  compose,
  type CallRequest,
  type CallResponse,
  type ClientResponse,
  type Handler,
} from './core/middleware.ts'
import { OriginMap } from './core/origin-map.ts'
import { OriginState } from './core/origin-state.ts'
import { Cancellation } from './core/cancellation.ts'
import { callerAbortError, withAttempts } from './core/call-error.ts'
import { whenBodyComplete } from './core/response-body.ts'
import { parseBase, resolveTarget } from './core/target.ts'
import { createTransport } from './core/transport.ts'
import { splitUndiciOptions } from './core/undici-options.ts'
import {
  checkKnownKeys,
  intInRange,
  isPlainObject,
  optionalFunction,
  positiveMs,
} from './core/validate.ts'
import { ClientClosedError, InvalidOptionError, MiddlewareError } from './errors.ts'
import { Breaker } from './breaker/breaker-layer.ts'
import { resolveBreakerOptions } from './breaker/breaker-options.ts'
import { Circuits } from './breaker/circuits.ts'
import { createDefaultAgent, resolveAgentOptions } from './pool/agent-defaults.ts'
import type { H2Sessions } from './pool/h2-sessions.ts'
import { resolveConcurrencyOptions } from './pool/concurrency-options.ts'
import { Limiters } from './pool/limiters.ts'
import { currentDeadline } from './timeouts/deadline-context.ts'
import {
  deadlineFromNow,
  resolveTimeouts,
  type ResolvedTimeouts,
} from './timeouts/timeout-options.ts'
import type { ClientOptions, RequestOptions } from './client-options.ts'
import { clientStats, type ClientStats } from './client-stats.ts'
import { StackDispatcher } from './faces/stack-dispatcher.ts'
import { resolveRedirectPolicy, type RedirectPolicy } from './faces/redirect-policy.ts'
import { resolveDecompress, type DecompressPolicy } from './faces/decode-body.ts'
import {
  fetchThrough,
  type FetchInit,
  type FetchResponse,
  type FetchTarget,
} from './faces/fetch.ts'
import { defaultStack, resolveMiddleware } from './default-stack.ts'
import { IDEMPOTENCY_KEY_HEADER, idempotencyKeyFor } from './retry/idempotency.ts'
import {
  DEFAULT_RETRY,
  resolveRetryPolicy,
  type ResolvedRetryPolicy,
} from './retry/retry-options.ts'
import { resolveHedgePolicy, type ResolvedHedgePolicy } from './retry/hedge-options.ts'
import { resolveEndpointsOptions } from './endpoints/endpoints-options.ts'
import { resolveRateLimitOptions } from './budget/rate-limit-options.ts'
import { RateLimits } from './budget/rate-limits.ts'
import { redactQuery } from './core/redact-query.ts'

const CLOCK_METHODS = ['now', 'wallNow', 'sleep', 'setTimer', 'clearTimer'] as const

const HOOKS = ['onCircuitStateChange', 'onLimitChange', 'onAttempt', 'onRetry', 'onShed'] as const

const KNOWN_OPTIONS = [
  'deadline',
  'attemptTimeout',
  'minAttemptTime',
  'propagation',
  'origin',
  'headers',
  'dispatcher',
  'agent',
  'middleware',
  'clock',
  'random',
  'retry',
  'hedge',
  'endpoints',
  'rateLimit',
  'throttle',
  'breaker',
  'onCircuitStateChange',
  'concurrency',
  'onLimitChange',
  'onAttempt',
  'onRetry',
  'onShed',
  'maxOrigins',
  'originIdleTimeout',
  'redirect',
  'decompress',
]

/**
 * An HTTP client for one service or many: `request()` runs each call through the policy stack over
 * undici. Create it with {@link createClient}.
 */
export class Client {
  readonly #origin: string | undefined
  /** The path prefix of the `origin` option (`/v1`), or `''`. */
  readonly #prefix: string = ''
  readonly #headers: HeaderRecord | undefined
  readonly #dispatcher: Dispatcher
  readonly #ownsDispatcher: boolean
  readonly #clock: Clock
  readonly #timeouts: ResolvedTimeouts
  readonly #retry: ResolvedRetryPolicy | false
  readonly #hedge: ResolvedHedgePolicy | false
  readonly #handler: Handler
  readonly #circuits: Circuits | undefined
  readonly #limiters: Limiters | undefined
  readonly #rateLimits: RateLimits | undefined
  readonly #origins: OriginMap<OriginState>
  readonly #redirect: RedirectPolicy
  readonly #decompress: DecompressPolicy | false
  // Calls not yet settled; a returned response settles once its body has been received.
  readonly #inFlight = new Set<Cancellation>()
  #closed = false
  // The watch over the default agent's connections (HTTP/2 session health), when it made one.
  #sessions: H2Sessions | undefined
  // The first destroy()'s work: later calls, and a close() it overtook, wait for it.
  #destroyed: Promise<void> | undefined
  // Resolves when the last call in flight settles; created by the first close() that waits.
  #drained: { promise: Promise<void>; resolve: () => void } | undefined

  constructor(options: ClientOptions = {}) {
    const raw: unknown = options
    if (!isPlainObject(raw)) throw new InvalidOptionError('options', options, 'an object')
    checkKnownKeys('', raw, KNOWN_OPTIONS)

    if (options.origin !== undefined) {
      const base =
        typeof options.origin === 'string' || options.origin instanceof URL
          ? parseBase(options.origin)
          : undefined
      if (base === undefined) {
        throw new InvalidOptionError(
          'origin',
          options.origin instanceof URL ? options.origin.href : options.origin,
          'an http: or https: origin such as "https://api.internal:8443", optionally with a path prefix ("https://api.internal/v1"), without query or credentials',
        )
      }
      this.#origin = base.origin
      this.#prefix = base.prefix
    }

    if (options.headers !== undefined) {
      try {
        this.#headers = normalizeHeaders(options.headers)
      } catch (error) {
        throw new InvalidOptionError(
          'headers',
          options.headers,
          `valid headers (${(error as Error).message})`,
        )
      }
    }

    this.#redirect = resolveRedirectPolicy('redirect', options.redirect)
    this.#decompress = resolveDecompress(options.decompress)
    const concurrency = resolveConcurrencyOptions('concurrency', options.concurrency)
    const endpoints = resolveEndpointsOptions('endpoints', options.endpoints)
    if (endpoints !== false && options.agent?.proxy !== undefined) {
      throw new InvalidOptionError(
        'endpoints',
        options.endpoints,
        'false when agent.proxy is set: the proxy resolves the hostname and picks the address',
      )
    }
    const rateLimit = resolveRateLimitOptions('rateLimit', options.rateLimit)
    if (rateLimit !== false) this.#rateLimits = new RateLimits(rateLimit)
    for (const name of HOOKS) optionalFunction(name, options[name])

    if (options.dispatcher !== undefined) {
      if (options.agent !== undefined) {
        throw new InvalidOptionError(
          'agent',
          options.agent,
          'nothing when `dispatcher` is given (configure that dispatcher instead)',
        )
      }
      if (typeof (options.dispatcher as Partial<Dispatcher>).request !== 'function') {
        throw new InvalidOptionError('dispatcher', options.dispatcher, 'an undici Dispatcher')
      }
      this.#dispatcher = options.dispatcher
      this.#ownsDispatcher = false
    } else {
      const agent = resolveAgentOptions(options.agent)
      // One connection per attempt in flight: the limiter's ceiling is the pool's, unless the
      // user set the pool's.
      if (concurrency !== false && options.agent?.connections === undefined) {
        agent.connections = Math.min(65_535, concurrency.maxLimit)
      }
      const made = createDefaultAgent(agent)
      this.#dispatcher = made.dispatcher
      this.#sessions = made.sessions
      this.#ownsDispatcher = true
    }

    if (options.clock !== undefined) {
      const c = options.clock as Partial<Clock>
      if (CLOCK_METHODS.some((name) => typeof c[name] !== 'function')) {
        throw new InvalidOptionError(
          'clock',
          options.clock,
          `an object with the methods ${CLOCK_METHODS.join(', ')}`,
        )
      }
    }
    this.#clock = options.clock ?? systemClock
    if (options.random !== undefined && typeof options.random !== 'function') {
      throw new InvalidOptionError(
        'random',
        options.random,
        'a function returning numbers in [0, 1)',
      )
    }

    const maxOrigins = intInRange('maxOrigins', options.maxOrigins, 1, 1_000_000, 1024)
    const idleTimeout = positiveMs('originIdleTimeout', options.originIdleTimeout, 300_000)
    const clock = this.#clock
    this.#origins = new OriginMap({
      create: (origin) => new OriginState(origin),
      dispose: (state) => state.dispose(),
      maxOrigins,
      idleTimeout,
      now: () => clock.now(),
    })

    const timeouts = resolveTimeouts(options)
    this.#timeouts = timeouts
    this.#retry = resolveRetryPolicy('retry', options.retry, DEFAULT_RETRY)
    if (this.#retry !== false && options.dispatcher?.constructor?.name === 'RetryAgent') {
      throw new InvalidOptionError(
        'dispatcher',
        options.dispatcher,
        "a dispatcher without undici's own retries: under netiquette's retry policy a RetryAgent sends each attempt up to 6 times, unseen by the retry budget (pass the agent it wraps, or set retry: false)",
      )
    }
    this.#hedge = resolveHedgePolicy('hedge', options.hedge, false)
    const random = options.random ?? Math.random
    const breakerOptions = resolveBreakerOptions('breaker', options.breaker)
    const breaker =
      breakerOptions === false
        ? undefined
        : new Breaker(breakerOptions, random, options.onCircuitStateChange, options.onShed)
    if (breaker !== undefined) {
      this.#circuits = new Circuits(breaker, this.#origins, clock, this.#origin, maxOrigins)
    }
    if (concurrency !== false) {
      this.#limiters = new Limiters(concurrency, this.#origins, this.#origin)
    }
    const defaults = defaultStack(
      options,
      timeouts,
      this.#retry,
      this.#hedge,
      breaker,
      concurrency,
      random,
      endpoints,
      this.#rateLimits,
    )
    this.#handler = compose(
      resolveMiddleware(options.middleware, defaults),
      createTransport(this.#dispatcher, options.onAttempt, this.#sessions),
    )
    // SDKs take `fetch: client.fetch`, and code destructures `const { request } = client`: the
    // public methods work detached from the client, as the global fetch does.
    this.request = this.request.bind(this)
    this.fetch = this.fetch.bind(this)
    this.stats = this.stats.bind(this)
    this.close = this.close.bind(this)
    this.destroy = this.destroy.bind(this)
  }

  /**
   * The client's circuit breakers, one per origin: read their state, isolate an origin, reset a
   * circuit. `undefined` when `breaker` is `false`. See {@link Circuits}.
   */
  get circuits(): Circuits | undefined {
    return this.#circuits
  }

  /**
   * The client's concurrency limiters, one per origin, for stats: limit, in flight, queued,
   * shed. `undefined` when `concurrency` is `false`. See {@link Limiters}.
   */
  get limiters(): Limiters | undefined {
    return this.#limiters
  }

  /**
   * A snapshot per origin: calls, attempts, retries allowed and refused, calls in flight, the
   * concurrency limit and queue, attempts shed by cause, the circuit's state, and p50/p99 call
   * latency over the last 60 s. Cheap enough to poll every few seconds for a dashboard.
   *
   * @example
   * ```ts
   * for (const o of client.stats().origins) {
   *   console.log(o.origin, o.circuit, `limit ${o.limit}`, `p99 ${o.latency.p99} ms`)
   * }
   * ```
   */
  stats(): ClientStats {
    return clientStats(
      this.#origins,
      this.#clock.now(),
      this.#circuits,
      this.#limiters,
      this.#rateLimits,
      this.#sessions,
    )
  }

  /** True once `close()` or `destroy()` has been called. */
  get closed(): boolean {
    return this.#closed
  }

  /**
   * Sends a request through the policy stack. Mirrors `undici.request`: resolves with
   * `statusCode`, `headers` and a streaming `body` (consume or `dump()` it), plus `attempts`.
   * Rejects with undici's error unchanged or a netiquette error, either carrying `attempts`.
   *
   * @param url - a path (with the client's `origin`) or an absolute http(s) URL.
   */
  request(url: string | URL, options: RequestOptions = {}): Promise<ClientResponse> {
    return this.#send(url, options, this.#headers)
  }

  /**
   * `fetch()` through the policy stack: takes what `fetch` takes (a URL string, a `URL` or a
   * `Request`; `RequestInit` with `signal` and any fetch body) and resolves with a WHATWG
   * `Response` whose body streams. The response also carries the call's attempt records as
   * `response.attempts`. Redirects are followed (at most 20; `redirect: 'manual'` or `'error'`
   * as in fetch), each hop a call through the stack under one deadline; credentials are not sent
   * along a redirect to another origin. Differences from the global `fetch` are listed in
   * `docs/migrating.md`: errors are netiquette's typed errors (or undici's) rather than
   * `TypeError: fetch failed`. Compressed responses are decoded as by the global fetch, within
   * the limits of the client's `decompress` option.
   *
   * @param init - `RequestInit`, plus `deadline`, `attemptTimeout`, `retry` and
   *   `idempotencyKey` as in {@link Client.request}.
   * @example
   * ```ts
   * const response = await api.fetch('/charges', {
   *   method: 'POST',
   *   body: JSON.stringify(charge),
   *   headers: { 'content-type': 'application/json' },
   *   idempotencyKey: true,
   * })
   * const created = await response.json()
   * ```
   */
  fetch(input: string | URL | Request, init?: FetchInit): Promise<FetchResponse> {
    return fetchThrough(this.#fetchTarget, input, init)
  }

  /**
   * An undici `Dispatcher` that runs every request through this client's policy stack, for code
   * that does not call the client itself: `setGlobalDispatcher(client.dispatcher)` gives every
   * global `fetch()` in the process the client's policies, and `undici.request(url,
   * { dispatcher })` or an SDK that takes a dispatcher get them too. Each dispatch is one call:
   * one deadline, retries, breaker and limiter. Closing it closes the client. See
   * {@link StackDispatcher} and `docs/migrating.md`.
   *
   * @example
   * ```ts
   * import { setGlobalDispatcher } from 'undici'
   * setGlobalDispatcher(createClient({ deadline: 5_000 }).dispatcher)
   * await fetch('https://api.internal/health') // retried, budgeted, broken, limited
   * ```
   */
  get dispatcher(): StackDispatcher {
    this.#stackDispatcher ??= new StackDispatcher({
      // A dispatch names its whole path: under a prefix it goes the long way, as a URL that must
      // lie under the prefix, so the prefix is never added twice.
      origin: this.#prefix === '' ? this.#origin : undefined,
      send: (url, options) => this.#send(url, options, this.#headers),
      close: () => this.close(),
      destroy: (reason) => this.destroy(reason),
    })
    return this.#stackDispatcher
  }

  #stackDispatcher: StackDispatcher | undefined

  readonly #fetchTarget: FetchTarget = {
    resolve: (url) => {
      const { origin, path } = resolveTarget(this.#origin, url, this.#prefix)
      return origin + path
    },
    send: (url, options, crossOrigin) =>
      this.#send(url, options, crossOrigin ? this.#headersForOtherOrigins() : this.#headers),
    wallNow: () => this.#clock.wallNow(),
    defaultDeadline: () => this.#timeouts.deadline,
    redirect: () => this.#redirect,
    decompress: () => this.#decompress,
    hasDefaultHeader: (name) => this.#headers?.[name] !== undefined,
  }

  #headersForOtherOrigins(): HeaderRecord | undefined {
    const headers = this.#headers
    if (headers === undefined) return undefined
    return Object.fromEntries(
      Object.entries(headers).filter(([name]) => !this.#redirect.secretHeaders.includes(name)),
    )
  }

  /**
   * One call: prepared (and validated) at once, so that a bad input rejects before anything is
   * sent, then run through the stack. Not an async function: an async frame holds every local
   * of the preparation for as long as the call is in flight (a kilobyte per call).
   */
  #send(
    url: string | URL,
    options: RequestOptions,
    defaultHeaders: HeaderRecord | undefined,
  ): Promise<ClientResponse> {
    let call: PreparedCall
    try {
      call = this.#prepare(url, options, defaultHeaders)
    } catch (error) {
      return Promise.reject(error as Error)
    }
    let pending: Promise<CallResponse>
    try {
      pending = this.#handler(call.request)
    } catch (error) {
      pending = Promise.reject(error as Error)
    }
    return pending.then(
      (response) => this.#delivered(call, response),
      (error: unknown) => this.#failed(call, error),
    )
  }

  #prepare(
    url: string | URL,
    options: RequestOptions,
    defaultHeaders: HeaderRecord | undefined,
  ): PreparedCall {
    if (this.#closed) {
      throw new ClientClosedError('the client is closed; create a new client to send requests')
    }
    const { origin, path } = resolveTarget(this.#origin, url, this.#prefix)
    const { method, headers, body, signal } = options
    const normalizedMethod = normalizeMethod(method)
    const mergedHeaders = mergeHeaders(defaultHeaders, headers)
    if (options.idempotencyKey !== undefined) {
      const key = idempotencyKeyFor(options.idempotencyKey)
      // A key already in the headers is the caller's own: it wins.
      if (key !== undefined) mergedHeaders[IDEMPOTENCY_KEY_HEADER] ??= key
    }
    const retry =
      options.retry === undefined
        ? undefined
        : resolveRetryPolicy('retry', options.retry, this.#retry || DEFAULT_RETRY, true)
    const hedge =
      options.hedge === undefined
        ? undefined
        : resolveHedgePolicy('hedge', options.hedge, this.#hedge)
    const undiciOptions = splitUndiciOptions(options)
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      throw new InvalidOptionError('signal', signal, 'an AbortSignal')
    }
    const clock = this.#clock
    const timeouts = this.#timeouts
    const attemptTimeout =
      options.attemptTimeout === undefined
        ? timeouts.attemptTimeout
        : positiveMs('attemptTimeout', options.attemptTimeout)
    const startTime = clock.now()
    let deadline =
      startTime +
      (options.deadline === undefined
        ? timeouts.deadline
        : deadlineFromNow(options.deadline, clock))
    let deadlineInherited = false
    if (timeouts.inherit) {
      const scope = currentDeadline()
      if (scope !== undefined) {
        const inherited = startTime + scope.remaining()
        if (inherited < deadline) {
          deadline = inherited
          deadlineInherited = true
        }
      }
    }
    if (signal?.aborted) throw callerAbortError(signal.reason, [])

    const cancellation = new Cancellation()
    const unfollow = cancellation.follow(signal)
    this.#inFlight.add(cancellation)
    const originState = this.#origins.get(origin, startTime)
    originState.noteCall(startTime)
    originState.inFlight++
    const request: CallRequest = {
      method: normalizedMethod,
      origin,
      path,
      headers: mergedHeaders,
      body,
      cancellation,
      callerSignal: signal,
      attempts: [],
      startTime,
      deadline,
      deadlineInherited,
      attemptTimeout,
      minAttemptTime: timeouts.minAttemptTime,
      retry,
      hedge,
      clock,
      originState,
      undiciOptions,
    }
    if (channels.callStart.hasSubscribers) {
      channels.callStart.publish({
        method: normalizedMethod,
        origin,
        path: redactQuery(path),
        attempts: request.attempts,
      })
    }

    return { request, unfollow }
  }

  #failed({ request, unfollow }: PreparedCall, error: unknown): never {
    this.#settle(request.cancellation, unfollow, request.originState)
    recordLatency(request, request.clock.now())
    const thrown = finalError(error, request)
    if (channels.callEnd.hasSubscribers) publishEnd(request, undefined, thrown)
    throw thrown
  }

  #delivered({ request, unfollow }: PreparedCall, response: CallResponse): CallResponse {
    response.attempt.decision ??= RETURNED
    recordLatency(request, headersAt(request, response.attempt))
    // The call lasts until its body has been received: a caller's abort must still reach it,
    // and only then may the caller's listener go.
    whenBodyComplete(response.body, () =>
      this.#settle(request.cancellation, unfollow, request.originState),
    )
    if (channels.callEnd.hasSubscribers) publishEnd(request, response, undefined)
    return response
  }

  /**
   * Stops accepting requests and waits for calls in flight to settle (each response received to
   * its end, or failed), then closes the Agent the client created. A dispatcher passed in is left
   * open. A body larger than its buffer (64 KiB by default) that nobody reads stays paused and
   * keeps its call in flight, as with undici: read, `dump()` or destroy it, or use `destroy()`.
   */
  async close(): Promise<void> {
    this.#closed = true
    if (this.#inFlight.size > 0) {
      this.#drained ??= Promise.withResolvers<void>()
      await this.#drained.promise
    }
    this.#origins.clear()
    // A destroy() while this close() waited took the client down already: that is not a failure
    // of the close, which resolves once the client is down, however it went down.
    if (this.#destroyed !== undefined) return this.#destroyed
    // (A destroy() from here on is fine: undici resolves a close that a destroy overtakes.)
    this.#sessions?.close()
    if (this.#ownsDispatcher) await this.#dispatcher.close()
  }

  /**
   * Stops accepting requests and aborts every call in flight with `ClientClosedError` (whose
   * `cause` is `reason`, if given), then destroys the Agent the client created. A dispatcher
   * passed in is left open.
   */
  destroy(reason?: Error): Promise<void> {
    this.#destroyed ??= this.#destroy(reason)
    return this.#destroyed
  }

  async #destroy(reason: Error | undefined): Promise<void> {
    this.#closed = true
    for (const cancellation of [...this.#inFlight]) {
      // One error per call: each carries its own attempts.
      cancellation.abort(
        new ClientClosedError('the client was destroyed during the call', { cause: reason }),
      )
    }
    this.#origins.clear()
    this.#sessions?.close()
    if (this.#ownsDispatcher) await this.#dispatcher.destroy()
  }

  #settle(cancellation: Cancellation, unfollow: () => void, originState: OriginState): void {
    unfollow()
    originState.inFlight--
    this.#inFlight.delete(cancellation)
    if (this.#drained !== undefined && this.#inFlight.size === 0) this.#drained.resolve()
  }
}

/**
 * Creates a client. Options are validated here, once; a bad one throws `InvalidOptionError`
 * naming the option, the value and what was expected.
 *
 * @example
 * ```ts
 * const api = createClient({ origin: 'https://payments.internal' })
 * const res = await api.request('/charges/42')
 * const charge = await res.body.json()
 * ```
 */
export function createClient(options: ClientOptions = {}): Client {
  return new Client(options)
}

/** A call ready to run: its request, and how to stop following the caller's signal. */
interface PreparedCall {
  readonly request: CallRequest
  readonly unfollow: () => void
}

/** The error the caller sees: always an object with `attempts`, and typed. */
function finalError(error: unknown, request: CallRequest): unknown {
  const { attempts, callerSignal } = request
  const last = attempts[attempts.length - 1]
  if (callerSignal?.aborted === true && !(error instanceof ClientClosedError)) {
    if (last !== undefined) last.decision ??= { action: 'fail', reason: 'the caller aborted' }
    return callerAbortError(callerSignal.reason, attempts)
  }
  if (last !== undefined) last.decision ??= { action: 'fail', reason: 'error handed to the caller' }
  if (typeof error === 'object' && error !== null) return withAttempts(error, attempts)
  return new MiddlewareError(`a middleware threw a non-Error value: ${String(error)}`, {
    cause: error,
    attempts,
  })
}

/** Adds a call that sent something to its origin's latency window; local rejections say nothing. */
function recordLatency(request: CallRequest, now: number): void {
  if (request.attempts.length === 0) return
  request.originState.recordLatency(now, now - request.startTime)
}

// The decision on a response handed to the caller: the same for every call, never mutated.
const RETURNED = Object.freeze({
  action: 'return',
  reason: 'response handed to the caller',
} as const)

function publishEnd(
  request: CallRequest,
  response: CallResponse | undefined,
  error: unknown,
): void {
  channels.callEnd.publish({
    method: request.method,
    origin: request.origin,
    path: redactQuery(request.path),
    duration: request.clock.now() - request.startTime,
    attempts: request.attempts,
    statusCode: response?.statusCode,
    error,
  })
}
