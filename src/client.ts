import { headersAt } from './core/attempt.ts'
import { beginStart, endStart } from './core/call-start.ts'
import { channels } from './core/events.ts'
import type { Cancellation } from './core/cancellation.ts'
import type { HeaderRecord } from './core/headers.ts'
import { kThen, type Continuation, type ThenHandler } from './core/gate.ts'
import type { CallRequest, CallResponse, ClientResponse, Handler } from './core/middleware.ts'
import type { OriginState } from './core/origin-state.ts'
import { whenBodyComplete } from './core/response-body.ts'
import { resolveTarget } from './core/target.ts'
import {
  ClientClosedError,
  InvalidOptionError,
  InvalidRequestError,
  describeValue,
} from './errors.ts'
import type { Circuits } from './breaker/circuits.ts'
import type { Limiters } from './concurrency/limiters.ts'
import type { ClientOptions, RequestOptions } from './client-options.ts'
import { CallsInFlight } from './calls-in-flight.ts'
import { setUpClient, type ClientSetup } from './client-setup.ts'
import { clientStats, type ClientStats } from './client-stats.ts'
import { finalError, publishEnd, recordLatency, RETURNED } from './finish-call.ts'
import { prepareCall } from './prepare-call.ts'
import { StackDispatcher, type DispatchSink } from './faces/stack-dispatcher.ts'
import {
  fetchThrough,
  type FetchInit,
  type FetchResponse,
  type FetchTarget,
} from './faces/fetch.ts'

/**
 * An HTTP client for one service or many: `request()` runs each call through the policy stack over
 * undici. Create it with {@link createClient}.
 */
export class Client {
  readonly #setup: ClientSetup
  readonly #inFlight = new CallsInFlight()
  #closed = false
  // The first destroy()'s work: later calls, and a close() it overtook, wait for it.
  #destroyed: Promise<void> | undefined

  constructor(options: ClientOptions = {}) {
    this.#setup = setUpClient(options)
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
    return this.#setup.policies.get('breaker')?.handle as Circuits | undefined
  }

  /**
   * The client's concurrency limiters, one per origin, for stats: limit, in flight, queued,
   * shed. `undefined` when `concurrency` is `false`. See {@link Limiters}.
   */
  get limiters(): Limiters | undefined {
    return this.#setup.policies.get('concurrency')?.handle as Limiters | undefined
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
    const { origins, clock, policies, connections } = this.#setup
    return clientStats(origins, clock.now(), policies, connections)
  }

  /**
   * Opens `connections` connections to `origin` ahead of traffic (a deploy, a cold start), so
   * that a burst pays no handshake on its critical path: each is made as any connect of the
   * client's agent (raced, counted against `agent.totalConnections`), then kept until a request
   * to the origin needs a connection, for at most the origin's keep-alive timeout. One HTTP/2
   * session carries every request, so to an https origin one connection is opened first, and
   * the others only if it is not HTTP/2.
   *
   * @param origin - `http(s)://host[:port]`; a path is ignored.
   * @param connections - how many, from 1 to `agent.totalConnections`.
   * @returns how many were opened (1 on an HTTP/2 origin); rejects with the first error if none
   *   was.
   * @example
   * ```ts
   * await client.warm('https://payments.internal', 20)
   * ```
   */
  async warm(origin: string | URL, connections: number): Promise<number> {
    if (this.#closed)
      throw new ClientClosedError('the client is closed; it cannot open connections')
    const { warm, totalConnections } = this.#setup
    if (warm === undefined || totalConnections === undefined) {
      throw new InvalidRequestError(
        "warm() needs the client's own agent: not with a dispatcher of your own, nor through agent.proxy",
      )
    }
    const text = origin instanceof URL ? origin.href : origin
    const url = typeof text === 'string' && URL.canParse(text) ? new URL(text) : undefined
    if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
      // A URL may carry a password: name its kind, not its text.
      const got =
        typeof origin === 'string' ? 'a string that is not an http(s) URL' : describeValue(origin)
      throw new InvalidRequestError(`warm(): got ${got}, expected an http:// or https:// origin`)
    }
    if (!Number.isInteger(connections) || connections < 1 || connections > totalConnections) {
      throw new InvalidOptionError(
        'connections',
        connections,
        `an integer from 1 to ${totalConnections} (agent.totalConnections)`,
      )
    }
    return warm(url, connections)
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
    return this.#send(url, options, this.#setup.headers)
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
    const { origin, prefix, headers } = this.#setup
    this.#stackDispatcher ??= new StackDispatcher({
      // A dispatch names its whole path: under a prefix it goes the long way, as a URL that must
      // lie under the prefix, so the prefix is never added twice.
      origin: prefix === '' ? origin : undefined,
      dispatch: (url, options, cancellation, sink) =>
        this.#dispatch(url, options, headers, cancellation, sink),
      close: () => this.close(),
      destroy: (reason) => this.destroy(reason),
    })
    return this.#stackDispatcher
  }

  #stackDispatcher: StackDispatcher | undefined

  readonly #fetchTarget: FetchTarget = {
    resolve: (url) => {
      const { origin, path } = resolveTarget(this.#setup.origin, url, this.#setup.prefix)
      return origin + path
    },
    send: (url, options, crossOrigin) =>
      this.#send(url, options, crossOrigin ? this.#headersForOtherOrigins() : this.#setup.headers),
    wallNow: () => this.#setup.clock.wallNow(),
    defaultDeadline: () => this.#setup.timeouts.deadline,
    redirect: () => this.#setup.redirect,
    decompress: () => this.#setup.decompress,
    hasDefaultHeader: (name) => this.#setup.headers?.[name] !== undefined,
  }

  #headersForOtherOrigins(): HeaderRecord | undefined {
    const { headers, redirect } = this.#setup
    if (headers === undefined) return undefined
    return Object.fromEntries(
      Object.entries(headers).filter(([name]) => !redirect.secretHeaders.includes(name)),
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
    let request: CallRequest
    let next: Continuation
    try {
      request = this.#prepare(url, options, defaultHeaders)
      const { signal } = options
      // A call that follows no signal has nothing of its own to remember: every such call shares
      // one continuation (48 B less a call in flight).
      next =
        signal === undefined
          ? this.#delivery
          : new Client.#Delivery(this, request.cancellation.follow(signal))
    } catch (error) {
      return Promise.reject(error as Error)
    }
    return this.#run(request, next)
  }

  /**
   * A call's continuation for {@link #send}: the call's outcome, as its promise settles with,
   * and the caller's signal no longer followed.
   */
  static readonly #Delivery = class Delivery implements Continuation {
    readonly client: Client
    readonly unfollow: () => void

    constructor(client: Client, unfollow: () => void) {
      this.client = client
      this.unfollow = unfollow
    }

    ok(request: CallRequest, response: CallResponse): CallResponse {
      return this.client.#delivered(request, this.unfollow, response)
    }

    fail(request: CallRequest, error: unknown): never {
      return this.client.#failed(request, this.unfollow, error)
    }
  }

  /** The continuation of every call that follows no signal. */
  readonly #delivery: Continuation = new Client.#Delivery(this, noop)

  /**
   * {@link #send} for `client.dispatcher`: the outcome goes to `sink` from the step that settles
   * the call, with no promise for the face to wait on.
   */
  #dispatch(
    url: string,
    options: RequestOptions,
    defaultHeaders: HeaderRecord | undefined,
    cancellation: Cancellation,
    sink: DispatchSink,
  ): void {
    let request: CallRequest
    try {
      // The face aborts the cancellation itself: it follows no signal.
      request = this.#prepare(url, options, defaultHeaders, cancellation)
    } catch (error) {
      // As a rejected call would: after the dispatch has returned.
      queueMicrotask(() => sink.fail(error as Error))
      return
    }
    void this.#run(request, new Client.#Dispatched(this, sink))
  }

  /** A call's continuation for {@link #dispatch}: the outcome to the face's callbacks. */
  static readonly #Dispatched = class Dispatched implements Continuation {
    readonly client: Client
    readonly sink: DispatchSink

    constructor(client: Client, sink: DispatchSink) {
      this.client = client
      this.sink = sink
    }

    ok(request: CallRequest, response: CallResponse): CallResponse {
      try {
        this.sink.respond(this.client.#delivered(request, noop, response))
      } catch (error) {
        this.sink.fail(error as Error)
      }
      return response
    }

    // Hands the error over rather than rethrowing it: nothing waits on the promise.
    fail(request: CallRequest, error: unknown): never {
      let thrown: unknown
      try {
        this.client.#failed(request, noop, error)
      } catch (final) {
        thrown = final
      }
      this.sink.fail(thrown as Error)
      return undefined as never
    }
  }

  #prepare(
    url: string | URL,
    options: RequestOptions,
    defaultHeaders: HeaderRecord | undefined,
    cancellation?: Cancellation,
  ): CallRequest {
    if (this.#closed) {
      throw new ClientClosedError('the client is closed; create a new client to send requests')
    }
    const request = prepareCall(this.#setup, url, options, defaultHeaders, cancellation)
    this.#inFlight.add(request.cancellation)
    return request
  }

  /** Runs a prepared call through the stack, with the caller's continuation. */
  #run(request: CallRequest, next: Continuation): Promise<CallResponse> {
    const { handler } = this.#setup
    // Until the first step returns, the layers read the call's start for the time (nowOrStart).
    beginStart(request.clock, request.startTime)
    // Gates at the top of the stack settle in this same `then` (see kThen).
    const then = (handler as Handler & { [kThen]?: ThenHandler })[kThen]
    if (then !== undefined) {
      try {
        return then(request, next)
      } finally {
        endStart()
      }
    }
    let pending: Promise<CallResponse>
    try {
      pending = handler(request)
    } catch (error) {
      pending = Promise.reject(error as Error)
    } finally {
      endStart()
    }
    return pending.then(
      (response) => next.ok(request, response),
      (error: unknown) => next.fail(request, error),
    )
  }

  #failed(request: CallRequest, unfollow: () => void, error: unknown): never {
    this.#settle(request.cancellation, unfollow, request.originState)
    recordLatency(request, request.clock.now())
    const thrown = finalError(error, request)
    if (channels.callEnd.hasSubscribers) publishEnd(request, undefined, thrown)
    throw thrown
  }

  #delivered(request: CallRequest, unfollow: () => void, response: CallResponse): CallResponse {
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
    await this.#inFlight.drained()
    this.#setup.origins.clear()
    // A destroy() while this close() waited took the client down already: that is not a failure
    // of the close, which resolves once the client is down, however it went down.
    if (this.#destroyed !== undefined) return this.#destroyed
    // (A destroy() from here on is fine: undici resolves a close that a destroy overtakes.)
    this.#closeParts()
    if (this.#setup.ownsDispatcher) await this.#setup.dispatcher.close()
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
    // One error per call: each carries its own attempts.
    this.#inFlight.abortAll(
      () => new ClientClosedError('the client was destroyed during the call', { cause: reason }),
    )
    this.#setup.origins.clear()
    this.#closeParts()
    if (this.#setup.ownsDispatcher) await this.#setup.dispatcher.destroy()
  }

  #closeParts(): void {
    this.#setup.closeConnections()
    for (const policy of this.#setup.policies.values()) policy.close?.()
  }

  #settle(cancellation: Cancellation, unfollow: () => void, originState: OriginState): void {
    unfollow()
    originState.inFlight--
    this.#inFlight.settle(cancellation)
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

function noop(): void {}
