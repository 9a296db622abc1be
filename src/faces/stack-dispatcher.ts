import { Dispatcher, errors as undiciErrors } from 'undici'
import { flattenHeaders } from '../core/headers.ts'
import type { ClientResponse } from '../core/middleware.ts'
import { ResponseBody, kConsume, kResumeSource, type BodyConsumer } from '../core/response-body.ts'
import { Cancellation } from '../core/cancellation.ts'
import { kDispatchContext, kPassThrough } from '../core/undici-options.ts'
import { InvalidOptionError, InvalidRequestError, describeValue } from '../errors.ts'
import type { RequestOptions } from '../client-options.ts'
import { adaptHandler } from './legacy-handler.ts'

/** @internal Where a dispatch's outcome goes: the face's side of one dispatch. */
export interface DispatchSink {
  /** The call's response, once every policy has heard of it. */
  respond(response: ClientResponse): void
  /** The error the call failed with. */
  fail(error: Error): void
}

/** @internal What the dispatcher face needs from its client. */
export interface DispatchTarget {
  /** The client's `origin`: a dispatch to it is sent by its path, with no URL to parse. */
  readonly origin: string | undefined
  /**
   * Sends one call through the stack, and hands its outcome to `sink` in the step that settles
   * it: no promise of the face's own between the call and the handler. The call
   * runs under `cancellation`, which the face aborts itself when its handler aborts (after the
   * signal in `options`, which the policies read to tell a caller's abort): no listener on it.
   */
  dispatch(
    url: string,
    options: RequestOptions,
    cancellation: Cancellation,
    sink: DispatchSink,
  ): void
  close(): Promise<void>
  destroy(reason?: Error): Promise<void>
}

// What a paused handler may have held for it before the socket is paused: the stream buffer's
// default, as before the direct path.
const HELD_BYTES = 64 * 1024

// What the face does with each dispatch option. Those that mean the same to a call through the
// stack are passed on as request options; those the face reads itself or must not forward are
// dropped; the rest go to every attempt's dispatch as they are: the client's own dispatcher may
// understand them (`maxRedirections` and `throwOnMaxRedirect` for a redirect interceptor composed
// into it, an interceptor's own), and undici refuses what nothing below understands
// (`maxRedirections` without a redirect interceptor), as it would without us.
const PASSED_ON = 1
const NOT_PASSED = 2
const OPTION_ROLES = new Map<string, typeof PASSED_ON | typeof NOT_PASSED>([
  ['query', PASSED_ON],
  ['headersTimeout', PASSED_ON],
  ['bodyTimeout', PASSED_ON],
  ['reset', PASSED_ON],
  ['blocking', PASSED_ON],
  ['idempotent', PASSED_ON],
  ['expectContinue', PASSED_ON],
  ['typeOfService', PASSED_ON],
  ['origin', NOT_PASSED],
  ['path', NOT_PASSED],
  ['method', NOT_PASSED],
  ['headers', NOT_PASSED],
  ['body', NOT_PASSED],
  // The transport turns undici's retry interceptor off below the stack: ours decides.
  ['retryOptions', NOT_PASSED],
  // The endpoints layer sets it for the address it chose.
  ['servername', NOT_PASSED],
  // undici's wrapper for handlers of its first API (what Node's global fetch sees after
  // `setGlobalDispatcher`) sets `allowH2: false` on every dispatch, since such a handler cannot
  // read an HTTP/2 response from undici's Client. Ours never reaches one: the face hands it every
  // response in its own API. Passed on, it would send the global fetch's calls to a second pool
  // of the Agent's (HTTP/1.1 only): not the connections `warm()` opened, nor those of the
  // client's other calls. The client's `agent.allowH2` chooses the protocol.
  ['allowH2', NOT_PASSED],
])

/**
 * An undici `Dispatcher` that runs each request through a client's policy stack: what
 * `client.dispatcher` returns. `setGlobalDispatcher(client.dispatcher)` gives every global
 * `fetch()` in the process the client's policies; `undici.request(url, { dispatcher })` and SDKs
 * that take a dispatcher get them too. Responses stream with backpressure: a handler that pauses
 * stops the socket once the client's buffer (64 KiB) is full.
 *
 * Each dispatch is one call: one deadline, retries, the breaker and the limiter, attempts sent
 * through the client's own dispatcher (where undici's interceptors such as `dns`, `decompress` or
 * `cache` can be composed). Upgrades and CONNECT are refused. `close()` and `destroy()` close
 * and destroy the client.
 */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging -- the interface below only retypes inherited methods
export class StackDispatcher extends Dispatcher {
  readonly #target: DispatchTarget
  #warnedRetryAbove = false

  /** @internal Created by the client. */
  constructor(target: DispatchTarget) {
    super()
    if (
      ['dispatch', 'close', 'destroy'].some(
        (m) => typeof target?.[m as keyof DispatchTarget] !== 'function',
      )
    ) {
      throw new InvalidOptionError('target', target, 'a client (use client.dispatcher)')
    }
    this.#target = target
  }

  // `object`, not undici 8's handler type alone: an app on undici 7 passes this dispatcher to its
  // own undici, whose handler type is not ours, and both majors' handlers work at run time.
  override dispatch(
    options: Dispatcher.DispatchOptions,
    handler: Dispatcher.DispatchHandler | object,
  ): boolean {
    // As undici's dispatchers: without a handler there is nobody to report to, so throw.
    if (typeof handler !== 'object' || handler === null) {
      throw new InvalidRequestError(
        `dispatch handler: got ${describeValue(handler)}, expected an object with onRequestStart, onResponseStart... callbacks`,
      )
    }
    if (!this.#warnedRetryAbove && handler.constructor?.name === 'RetryHandler') {
      // Composed above the stack, undici's retries multiply ours: each of its attempts is a
      // call that may retry.
      this.#warnedRetryAbove = true
      process.emitWarning(
        "undici's retry interceptor is composed above client.dispatcher: each of its attempts is a netiquette call with its own retries, so attempts multiply. Use netiquette's retry policy alone.",
        { type: 'NetiquetteWarning', code: 'NQ_RETRY_STACKED' },
      )
    }
    new StackDispatch(adaptHandler(handler)).start(this.#target, options)
    return true
  }

  override close(): Promise<void>
  override close(callback: () => void): void
  override close(callback?: () => void): Promise<void> | void {
    const closed = this.#target.close()
    if (callback === undefined) return closed
    void closed.then(callback, callback)
  }

  override destroy(): Promise<void>
  override destroy(error: Error | null): Promise<void>
  override destroy(callback: () => void): void
  override destroy(error: Error | null, callback: () => void): void
  override destroy(
    errorOrCallback?: Error | null | (() => void),
    callback?: () => void,
  ): Promise<void> | void {
    const error = typeof errorOrCallback === 'function' ? undefined : (errorOrCallback ?? undefined)
    const done = typeof errorOrCallback === 'function' ? errorOrCallback : callback
    const destroyed = this.#target.destroy(error)
    if (done === undefined) return destroyed
    void destroyed.then(done, done)
  }
}

/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-declaration-merging -- retypes inherited methods, see below */
/**
 * The methods inherited from undici's `Dispatcher` (its convenience API and its events), typed
 * loosely here: undici 7 and 8 type their options, handlers and listeners differently, so with
 * undici 8's types alone an app on undici 7 could not pass this dispatcher to its own
 * `setGlobalDispatcher` or `request`. They are undici's own methods at run time.
 */
export interface StackDispatcher {
  connect(...args: any[]): any
  compose(...args: any[]): any
  request(...args: any[]): any
  stream(...args: any[]): any
  pipeline(...args: any[]): any
  upgrade(...args: any[]): any
  on(...args: any[]): any
  once(...args: any[]): any
  off(...args: any[]): any
  addListener(...args: any[]): any
  removeListener(...args: any[]): any
  prependListener(...args: any[]): any
  prependOnceListener(...args: any[]): any
  emit(...args: any[]): any
  listeners(...args: any[]): any
  rawListeners(...args: any[]): any
}
/* eslint-enable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-declaration-merging */

/**
 * One dispatch: the controller its handler sees, and the bridge from the call's response to the
 * handler's callbacks. Every dispatch ends in exactly one `onResponseEnd` or `onResponseError`.
 */
class StackDispatch implements Dispatcher.DispatchController {
  readonly #handler: Dispatcher.DispatchHandler
  // The caller's signal as the call sees it (policies tell a caller's abort by it), and the call's
  // cancellation, which the face aborts itself rather than through a listener on the signal.
  readonly #abort = new AbortController()
  readonly #cancellation = new Cancellation()
  #paused = false
  #reason: Error | null = null
  #body: ClientResponse['body'] | undefined
  // Set when the body's chunks come straight from the transport (see #respond).
  #direct = false
  // Direct mode: chunks that came while the handler was paused, up to a buffer's worth, and
  // whether the source was told to stop (past it) and the body has ended behind them.
  #held: Buffer[] | undefined
  #heldBytes = 0
  #sourcePaused = false
  #endHeld = false
  #response: ClientResponse | undefined
  #done = false

  constructor(handler: Dispatcher.DispatchHandler) {
    this.#handler = handler
  }

  get aborted(): boolean {
    return this.#reason !== null
  }

  get paused(): boolean {
    return this.#paused
  }

  get reason(): Error | null {
    return this.#reason
  }

  /**
   * The response headers as `[name, value, ...]` strings. undici's wrapper for handlers of its
   * first API takes these as they are; without them it makes two Buffers per header.
   */
  get rawHeaders(): string[] | null {
    return this.#response === undefined ? null : flattenHeaders(this.#response.headers)
  }

  /** The trailers, the same way, once the body has ended. */
  get rawTrailers(): string[] | null {
    return this.#response === undefined ? null : flattenHeaders(this.#response.trailers)
  }

  abort(reason: Error): void {
    if (this.#done || this.#reason !== null) return
    this.#reason = reason ?? new Error('aborted')
    // The call stops wherever it is (queued, in flight, streaming) and settles with an error,
    // which reaches the handler as this reason.
    this.#abort.abort(this.#reason)
    this.#cancellation.abort(this.#reason)
    if (this.#body !== undefined) destroyBody(this.#body, this.#reason)
  }

  pause(): void {
    this.#paused = true
    if (!this.#direct) this.#body?.pause()
  }

  resume(): void {
    if (!this.#paused) return
    this.#paused = false
    const body = this.#body
    if (body === undefined) return
    if (!this.#direct) {
      body.resume()
      return
    }
    this.#release(body as ResponseBody)
  }

  /** Direct mode: hands over what was held while paused, then lets the source go on. */
  #release(body: ResponseBody): void {
    const held = this.#held
    while (held !== undefined && held.length > 0 && !this.#paused) {
      const chunk = held.shift() as Buffer
      this.#heldBytes -= chunk.length
      this.#deliver(chunk)
    }
    if (this.#paused) return
    if (this.#endHeld) {
      this.#endHeld = false
      this.#end(this.#response as ClientResponse)
      return
    }
    if (this.#sourcePaused) {
      this.#sourcePaused = false
      body[kResumeSource]()
    }
  }

  /**
   * Direct mode, a chunk from the transport: to the handler, or held while it is paused. As the
   * stream's buffer did, a paused handler stops the socket only once a buffer's worth is held:
   * pausing and resuming the socket at every chunk costs more than the data.
   */
  #take(chunk: Buffer): boolean {
    if (!this.#paused && (this.#held === undefined || this.#held.length === 0)) {
      this.#deliver(chunk)
      return true
    }
    ;(this.#held ??= []).push(chunk)
    this.#heldBytes += chunk.length
    if (this.#heldBytes < HELD_BYTES) return true
    this.#sourcePaused = true
    return false
  }

  start(target: DispatchTarget, options: Dispatcher.DispatchOptions): void {
    // Each attempt's context is copied into this one (a redirect interceptor's `history`), which
    // the handler keeps from here, as it would the context of undici's own dispatch.
    const context: Record<string, unknown> = {}
    try {
      this.#handler.onRequestStart?.(this, context)
    } catch (error) {
      this.abort(error as Error)
    }
    if (this.#reason !== null) {
      this.#fail(this.#reason)
      return
    }
    let url: string
    let request: RequestOptions
    try {
      url = targetUrl(options, target.origin)
      request = requestOptions(options, this.#abort.signal, context)
    } catch (error) {
      this.#fail(error as Error)
      return
    }
    target.dispatch(url, request, this.#cancellation, new StackDispatch.#Bridge(this))
  }

  /**
   * The dispatch's side facing the call: its outcome (a {@link DispatchSink}) and, in direct
   * mode, its body's chunks (a {@link BodyConsumer}). One object for both, kept apart from the
   * controller the handler sees, in place of five closures.
   */
  static readonly #Bridge = class Bridge implements DispatchSink, BodyConsumer {
    readonly dispatch: StackDispatch

    constructor(dispatch: StackDispatch) {
      this.dispatch = dispatch
    }

    respond(response: ClientResponse): void {
      this.dispatch.#respond(response, this)
    }

    fail(error: Error): void {
      this.dispatch.#fail(error)
    }

    data(chunk: Buffer): boolean {
      return this.dispatch.#take(chunk)
    }

    end(): void {
      const dispatch = this.dispatch
      if (dispatch.#held !== undefined && dispatch.#held.length > 0) dispatch.#endHeld = true
      else dispatch.#end(dispatch.#response as ClientResponse)
    }

    error(error: Error): void {
      this.dispatch.#fail(error)
    }
  }

  #respond(response: ClientResponse, bridge: BodyConsumer): void {
    const { body } = response
    // The transport's body tells its consumer of a failure; another body (a middleware's) is
    // listened to before the handler runs, since a handler that aborts or throws in
    // onResponseStart destroys it (and destroyBody keeps that 'error' handled).
    // (A middleware may hand back any Readable, whatever the type says.)
    const ours = (body as unknown) instanceof ResponseBody
    if (!ours) body.on('error', (error: Error) => this.#fail(error))
    if (this.#reason !== null) {
      destroyBody(body, this.#reason)
      this.#fail(this.#reason)
      return
    }
    this.#body = body
    this.#response = response
    try {
      // undici's Client calls this at the first byte of the response; fetch takes its resource
      // timing's responseStart from it (left at 0, it came before requestStart).
      ;(this.#handler as { onResponseStarted?: () => void }).onResponseStarted?.()
      this.#handler.onResponseStart?.(
        this,
        response.statusCode,
        response.headers,
        response.statusText,
      )
    } catch (error) {
      this.abort(error as Error)
    }
    if (this.#reason !== null) {
      this.#fail(this.#reason)
      return
    }
    // The body the transport made: its chunks go straight to the handler, without the stream's
    // buffer, events and ticks (the handler's pause() holds the socket through the return value).
    if (ours) {
      this.#direct = true
      if (body[kConsume](bridge)) return
      this.#direct = false
      body.on('error', (error: Error) => this.#fail(error))
    }
    body.on('end', () => this.#end(response))
    body.on('data', (chunk: Buffer) => this.#deliver(chunk))
    // 'data' set it flowing; a handler that paused in onResponseStart keeps it paused.
    if (this.#paused) body.pause()
  }

  #deliver(chunk: Buffer): void {
    if (this.#done || this.#reason !== null) return
    try {
      this.#handler.onResponseData?.(this, chunk)
    } catch (error) {
      this.abort(error as Error)
    }
  }

  #end(response: ClientResponse): void {
    if (this.#done) return
    this.#done = true
    try {
      this.#handler.onResponseEnd?.(this, response.trailers)
    } catch (error) {
      // As undici's Request does when onComplete throws: the handler hears it as an error.
      this.#report(error as Error)
    }
  }

  #fail(error: Error): void {
    if (this.#done) return
    this.#done = true
    // An abort asked for by the handler comes back as its own reason, as undici does.
    this.#report(this.#reason ?? asUndiciError(error))
  }

  /**
   * Hands `error` to the handler. A handler that throws from its own error callback has nobody
   * left to tell: the error becomes a process warning rather than an uncaught exception or an
   * unhandled rejection, since the dispatcher runs inside the caller's process.
   */
  #report(error: Error): void {
    try {
      this.#handler.onResponseError?.(this, error)
    } catch (thrown) {
      process.emitWarning(
        `a dispatch handler threw from onResponseError: ${(thrown as Error)?.message ?? String(thrown)}`,
        { type: 'NetiquetteWarning', code: 'NQ_HANDLER_THREW' },
      )
    }
  }
}

/** Destroys a body with `reason`, keeping its 'error' handled (the face reports it itself). */
function destroyBody(body: ClientResponse['body'], reason: Error): void {
  body.on('error', noop)
  body.destroy(reason)
}

function noop(): void {}

function targetUrl(options: Dispatcher.DispatchOptions, clientOrigin: string | undefined): string {
  // undici reports bad options to the handler rather than throwing: so does this.
  if (typeof options !== 'object' || options === null) {
    throw new InvalidRequestError(
      `dispatch options: got ${describeValue(options)}, expected an object with origin, path and method`,
    )
  }
  if (options.upgrade !== undefined && options.upgrade !== null) {
    throw new InvalidRequestError(
      `upgrade ${JSON.stringify(options.upgrade)} through client.dispatcher: upgrades are not supported; use undici.upgrade or undici.connect on another dispatcher`,
    )
  }
  if (options.method === 'CONNECT') {
    throw new InvalidRequestError('CONNECT through client.dispatcher is not supported')
  }
  const { origin, path } = options
  if (origin === undefined) return path
  // An absolute-form path (`http://other/x`) would name a second target beside `origin`; undici
  // accepts one, we do not: the call goes where `origin` says, checked against the client's.
  if (typeof path !== 'string' || path.charCodeAt(0) !== 0x2f /* / */) {
    throw new InvalidRequestError(
      `dispatch path ${describeValue(path)} does not start with "/"; expected a path on the dispatch's origin`,
    )
  }
  const base =
    typeof origin !== 'string'
      ? origin.origin
      : origin.charCodeAt(origin.length - 1) === 0x2f /* / */
        ? origin.replace(/\/+$/, '')
        : origin
  // On the client's own origin the path alone is the target (a `//` path still goes the long
  // way: as a URL on the origin it is a path, as a path alone it would name a host).
  const second = path.charCodeAt(1)
  if (base === clientOrigin && second !== 0x2f && second !== 0x5c /* \ */) return path
  return base + path
}

function requestOptions(
  options: Dispatcher.DispatchOptions,
  signal: AbortSignal,
  context: Record<string, unknown>,
): RequestOptions {
  const request: Record<string | symbol, unknown> = {
    method: options.method,
    headers: options.headers,
    body: options.body,
    signal,
    [kDispatchContext]: context,
  }
  // One pass over the dispatch's own keys, each looked up once: fetch's dispatch has about eight.
  const given = options as unknown as Record<string, unknown>
  let passThrough: Record<string, unknown> | undefined
  for (const key of Object.keys(given)) {
    const value = given[key]
    if (value === undefined) continue
    const role = OPTION_ROLES.get(key)
    if (role === NOT_PASSED) continue
    if (role === PASSED_ON) {
      if (value !== null) request[key] = value
    } else {
      ;(passThrough ??= {})[key] = value
    }
  }
  if (passThrough !== undefined) request[kPassThrough] = passThrough
  return request as RequestOptions
}

/**
 * The error a dispatch handler gets. A request we refuse before sending (a bad header, method or
 * URL) is `InvalidRequestError` elsewhere; through the Dispatcher face it is undici's
 * `InvalidArgumentError`, which code written against undici tests for, with ours as its `cause`
 * (and its `attempts`).
 */
function asUndiciError(error: Error): Error {
  if (!(error instanceof InvalidRequestError)) return error
  const converted = new undiciErrors.InvalidArgumentError(error.message)
  Object.defineProperty(converted, 'cause', { value: error, configurable: true, writable: true })
  ;(converted as unknown as { attempts: unknown }).attempts = error.attempts
  return converted
}
